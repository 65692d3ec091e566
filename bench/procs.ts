/**
 * The bench's long-lived child processes (backends and proxies): free loopback ports, start with a
 * raised open-file limit and the output in a log file, wait until a port accepts, and end each one by
 * pid (SIGTERM, then SIGKILL), descendants included.
 */
import { processTree } from "./proc_stats.ts";

/** A process the bench started. */
export interface Started {
  name: string;
  pid: number;
  /** File holding its stdout and stderr. */
  log: string;
  /** Exit code once it has exited, else null. */
  exitCode(): number | null;
  /** Ends it and every descendant by pid, and waits for it. */
  stop(): Promise<void>;
}

/** `n` distinct loopback ports that were free a moment ago (all bound at once, then released). */
export function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of listeners) l.close();
  return ports;
}

/** Whether `name` is an executable file in a directory of PATH. */
export function onPath(name: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const st = Deno.statSync(`${dir || "."}/${name}`);
      if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return true;
    } catch { /* not here */ }
  }
  return false;
}

/** Shell words that raise the open-file limit (1,000 idle clients need it). */
const RAISE_FD_LIMIT = 'ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null;';

/** `cmd args` run through `sh -c` with a raised open-file limit; the exec keeps the pid. */
export function withFdLimit(cmd: string, args: string[]): { cmd: string; args: string[] } {
  return { cmd: "sh", args: ["-c", `${RAISE_FD_LIMIT} exec "$@"`, "sh", cmd, ...args] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd args` with its output in `${logDir}/${name}.log`. */
export function start(
  name: string,
  cmd: string,
  args: string[],
  opts: { logDir: string; cwd?: string },
): Started {
  const log = `${opts.logDir}/${name}.log`;
  const child = new Deno.Command("sh", {
    args: ["-c", `log=$1; shift; ${RAISE_FD_LIMIT} exec "$@" >"$log" 2>&1`, "sh", log, cmd, ...args],
    cwd: opts.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let code: number | null = null;
  const status = child.status.then((s) => {
    code = s.code;
  });
  let stopping: Promise<void> | null = null;
  const stop = async () => {
    if (code !== null) return;
    const descendants = processTree(child.pid).slice(1);
    try {
      child.kill("SIGTERM");
    } catch { /* just exited */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), 5000);
      status.then(() => resolve(false));
    });
    clearTimeout(timer);
    if (timedOut) {
      try {
        child.kill("SIGKILL");
      } catch { /* just exited */ }
      await status;
    }
    for (const pid of descendants) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  };
  return {
    name,
    pid: child.pid,
    log,
    exitCode: () => code,
    stop: () => stopping ??= stop(),
  };
}

/** The line of a process's log that says why it failed: the first complaint, else the last line. */
export function logReason(p: Started): string {
  let lines: string[];
  try {
    lines = Deno.readTextFileSync(p.log).split("\n").map((l) => l.trim()).filter((l) => l !== "");
  } catch {
    return "";
  }
  return lines.find((l) => /invalid|error|fail|unknown|denied|refused/i.test(l)) ?? lines.at(-1) ?? "";
}

/** Waits until 127.0.0.1:port accepts; throws when `p` exits first or after `timeoutMs`. */
export async function waitForPort(p: Started, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.exitCode() !== null) {
      throw new Error(`${p.name} exited with code ${p.exitCode()}: ${logReason(p)} (log: ${p.log})`);
    }
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`${p.name}: port ${port} never opened (see ${p.log})`);
      await sleep(50);
    }
  }
}

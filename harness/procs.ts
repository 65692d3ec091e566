/**
 * External binaries (memcached, redis-server, nutcracker, tsproxy itself), free loopback ports and
 * processes that are always ended by pid: what the harness and the tests start.
 */
import { concat } from "./bytes.ts";

/** Which proxy a lab runs. */
export type ProxyKind = "tsproxy" | "nutcracker";

/** Whether an external binary is on PATH. */
export function hasBinary(name: string): boolean {
  try {
    const out = new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null", stderr: "null" })
      .outputSync();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * A loopback TCP port that was free a moment ago, below the kernel's ephemeral range when there is
 * room: a port the kernel handed out could be taken by an outgoing connection before the process
 * meant to listen on it binds it. Never the same port twice in one test process.
 */
export function freePort(): number {
  const low = 10000;
  const high = Math.min(ephemeralStart(), 30000);
  for (let tries = 0; high > low && tries < 200; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // in use
    }
    handedOut.add(port);
    return port;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const handedOut = new Set<number>();

/** First port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralStart(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").trim().split(/\s+/)[0]) ||
      32768;
  } catch {
    return 32768;
  }
}

/** Waits until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`port ${port} never opened: ${e}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** A child process that a test started; `stop()` ends it by pid and waits for it. */
export interface Proc {
  pid: number;
  child: Deno.ChildProcess;
  stop(): Promise<void>;
  /** stderr collected so far, when captured. */
  stderr(): string;
}

/** Starts a process with stdout discarded and stderr captured. */
export function spawn(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Proc {
  const child = new Deno.Command(cmd, {
    args,
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) err += dec.decode(chunk, { stream: true });
  })();
  let stopped = false;
  return {
    pid: child.pid,
    child,
    stderr: () => err,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await reading;
    },
  };
}

/** What a process that ran to completion left: its exit code and its output, decoded. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Deno script (`deno run -A script ...args`) to completion, killed after `timeoutMs`. */
export async function runScript(
  script: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
    signal: AbortSignal.timeout(opts.timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A real memcached on a free loopback port; `extra` adds flags (e.g. `-I 32m` for larger items). */
export function startMemcached(
  port = freePort(),
  extra: string[] = [],
): Promise<Proc & { port: number }> {
  const args = [
    "-u",
    "root",
    "-l",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "0",
    "-t",
    "1",
    "-m",
    "64",
    ...extra,
  ];
  return startServer("memcached", args, port);
}

/** A real redis-server on a free loopback port (no persistence). */
export function startRedis(port = freePort(), extra: string[] = []): Promise<Proc & { port: number }> {
  return startServer("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--protected-mode",
    "no",
    ...extra,
  ], port);
}

/** Spawns a server that listens on `port` and waits for the port; stops it if the port never opens. */
async function startServer(command: string, args: string[], port: number): Promise<Proc & { port: number }> {
  const p = spawn(command, args);
  try {
    await waitForPort(port);
  } catch (e) {
    await p.stop();
    throw e;
  }
  return { ...p, port };
}

/** A proxy process started by the tests (nutcracker or tsproxy), with its config file and stats port. */
export type ProxyProc = Proc & { conf: string; statsPort: number };

/**
 * Starts a proxy with nutcracker's command line: `command` plus `-c CONF -s PORT -a 127.0.0.1` and
 * `extraArgs`, the YAML written to a temp file; waits for the given pool ports. `log` names the -o file
 * to show when it fails to start (stderr otherwise).
 */
async function startProxyProcess(
  command: string[],
  yaml: string,
  ports: number[],
  extraArgs: string[],
  log: boolean,
): Promise<ProxyProc> {
  const dir = Deno.makeTempDirSync({ prefix: "proxy-test-" });
  const conf = `${dir}/proxy.yml`;
  Deno.writeTextFileSync(conf, yaml);
  const statsPort = freePort();
  const logArgs = log ? ["-o", `${dir}/proxy.log`] : [];
  const p = spawn(command[0], [
    ...command.slice(1),
    "-c",
    conf,
    "-s",
    String(statsPort),
    "-a",
    "127.0.0.1",
    ...logArgs,
    ...extraArgs,
  ]);
  try {
    for (const port of ports) await waitForPort(port, 15000);
  } catch (e) {
    await p.stop();
    const why = log ? Deno.readTextFileSync(`${dir}/proxy.log`) : p.stderr();
    Deno.removeSync(dir, { recursive: true });
    throw new Error(`${e}\n${why}`);
  }
  return {
    ...p,
    conf,
    statsPort,
    async stop() {
      await p.stop();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** Real nutcracker with a config written to a temp file; waits for the given pool ports. */
export function startNutcracker(yaml: string, ports: number[], extraArgs: string[] = []): Promise<ProxyProc> {
  return startProxyProcess(["nutcracker"], yaml, ports, extraArgs, true);
}

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;

/** tsproxy (src/main.ts) as a child process with a config written to a temp file; waits for the given ports. */
export function startTsproxy(yaml: string, ports: number[], extraArgs: string[] = []): Promise<ProxyProc> {
  return startProxyProcess([Deno.execPath(), "run", "-A", MAIN], yaml, ports, extraArgs, false);
}

/** Reads the stats port's JSON document. */
export async function readStats(port: number): Promise<Record<string, unknown>> {
  return JSON.parse(await readStatsText(port));
}

/** The stats port's document exactly as sent. */
export async function readStatsText(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  return new TextDecoder().decode(concat(chunks));
}

/**
 * `--workers=N`: N tsproxy processes serve the same pool ports (SO_REUSEPORT), each with the full
 * pools and its own failure counting and ejection; this process starts them, restarts one that dies,
 * and serves the stats port with their counters summed.
 */
import { Level, log, logAlways } from "../log.ts";
import { type StatsSnapshot, sumSnapshots } from "../stats/snapshot.ts";
import { serveStats } from "../stats/stats_server.ts";
import { selfArgs } from "../self_command.ts";
import { fetchSnapshot } from "./control.ts";

/** What the supervisor needs from the command line. */
export interface SupervisorOptions {
  workers: number;
  statsAddr: string;
  statsPort: number;
}

interface Worker {
  index: number;
  control: string;
  child: Deno.ChildProcess;
}

const READY_TIMEOUT_MS = 30000;

/** The flags without `--workers=N` / `--workers N`. */
function withoutWorkers(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--workers") i++;
    else if (!args[i].startsWith("--workers=")) out.push(args[i]);
  }
  return out;
}

/** The command that runs one worker: the same flags, without --workers, plus --worker=INDEX:SOCKET. */
function workerCommand(args: string[], index: number, control: string): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: selfArgs([...withoutWorkers(args), `--worker=${index}:${control}`]),
    // A worker watches its stdin: when the supervisor goes away, the pipe closes and the worker exits.
    stdin: "piped",
    stdout: "inherit",
    stderr: "inherit",
  });
}

/** Resolves once the worker answers on its control socket; rejects if it exits first or takes too long. */
async function ready(worker: Worker): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited = false;
  worker.child.status.then(() => exited = true);
  while (!exited && Date.now() < deadline) {
    try {
      await fetchSnapshot(worker.control);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`worker ${worker.index} ${exited ? "exited" : "did not start"}`);
}

/** Runs the workers until a signal stops them; returns an exit code when they cannot start. */
export async function superviseWorkers(args: string[], opts: SupervisorOptions): Promise<number> {
  const dir = Deno.makeTempDirSync({ prefix: "tsproxy-workers-" });
  const workers: Worker[] = [];
  let stopping = false;
  const spawn = (index: number): Worker => {
    const control = `${dir}/worker-${index}.sock`;
    const worker = { index, control, child: workerCommand(args, index, control).spawn() };
    worker.child.status.then((status) => {
      if (stopping) return;
      logAlways(
        "workers",
        `worker ${index} (pid ${worker.child.pid}) exited with ${status.code}, restarting`,
      );
      setTimeout(() => {
        if (!stopping) workers[index] = spawn(index);
      }, 100);
    });
    return worker;
  };
  const stopAll = async () => {
    stopping = true;
    for (const w of workers) {
      try {
        w.child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await Promise.all(workers.map((w) => w.child.status));
    Deno.removeSync(dir, { recursive: true });
  };

  const snapshot = async (): Promise<StatsSnapshot> => {
    const parts = await Promise.all(workers.map((w) => fetchSnapshot(w.control).catch(() => null)));
    const live = parts.filter((p): p is StatsSnapshot => p !== null);
    if (live.length === 0) throw new Error("no worker answered");
    return sumSnapshots(live);
  };
  // The stats port comes up before the pools, as in nutcracker: once a pool accepts, stats answer.
  let stats: Deno.Listener;
  try {
    stats = serveStats(opts.statsAddr, opts.statsPort, snapshot);
  } catch (err) {
    log(Level.ERR, "workers", err instanceof Error ? err.message : String(err));
    Deno.removeSync(dir, { recursive: true });
    return 1;
  }
  for (let i = 0; i < opts.workers; i++) workers.push(spawn(i));
  try {
    await Promise.all(workers.map(ready));
  } catch (err) {
    log(Level.ERR, "workers", err instanceof Error ? err.message : String(err));
    stats.close();
    await stopAll();
    return 1;
  }
  logAlways("workers", `${opts.workers} workers serving: pids ${workers.map((w) => w.child.pid).join(" ")}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      await stopAll();
      Deno.exit(signal === "SIGINT" ? 1 : 0);
    });
  }
  return 0;
}

/**
 * `--workers=N`: N tsproxy processes serve the same pool ports (SO_REUSEPORT), each with the full
 * pools and its own failure counting and ejection; this process starts them, restarts one that dies,
 * and serves the stats port with their counters summed.
 */
import { onDrain, onReload } from "../lifecycle.ts";
import { Reloader, type ReloadOutcome } from "../reload.ts";
import { Level, log, logAlways } from "../log.ts";
import { ProcessMetrics } from "../metrics/process_metrics.ts";
import { type StatsSnapshot, sumSnapshots } from "../stats/snapshot.ts";
import { serveStats } from "../stats/stats_server.ts";
import { selfArgs } from "../self_command.ts";
import { askReload, fetchSnapshot } from "./control.ts";

/** What the supervisor needs from the command line. */
export interface SupervisorOptions {
  confFile: string;
  workers: number;
  statsAddr: string;
  statsPort: number;
  adminPort: number;
  drainTimeout: number;
}

/** How the supervisor serves the admin endpoint (main's, so that both start it alike). */
export type AdminStarter = (
  snapshot: () => Promise<StatsSnapshot>,
  reload: () => Promise<ReloadOutcome>,
) => Deno.HttpServer | null;

/** How long past their drain deadline workers get before they are killed. */
const DRAIN_GRACE_MS = 5000;
/** Signals the supervisor passes on to every worker (log reopening and log level). */
const PASSED_ON: Deno.Signal[] = ["SIGHUP", "SIGTTIN", "SIGTTOU"];

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
export async function superviseWorkers(
  args: string[],
  opts: SupervisorOptions,
  checksum: string,
  startAdmin: AdminStarter,
): Promise<number> {
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
  const signal = (sig: Deno.Signal) => {
    for (const w of workers) {
      try {
        w.child.kill(sig);
      } catch { /* already gone */ }
    }
  };
  // Workers drain on SIGTERM; any still running past their deadline (and a grace) are killed.
  const stopAll = async () => {
    stopping = true;
    signal("SIGTERM");
    const killer = setTimeout(() => signal("SIGKILL"), opts.drainTimeout + DRAIN_GRACE_MS);
    await Promise.all(workers.map((w) => w.child.status));
    clearTimeout(killer);
    Deno.removeSync(dir, { recursive: true });
  };

  const health = opts.adminPort === 0 ? null : new ProcessMetrics("supervisor");
  const snapshot = async (withHealth = false): Promise<StatsSnapshot> => {
    const parts = await Promise.all(workers.map((w) => fetchSnapshot(w.control).catch(() => null)));
    const live = parts.filter((p): p is StatsSnapshot => p !== null);
    if (live.length === 0) throw new Error("no worker answered");
    const sum = sumSnapshots(live);
    if (withHealth && health !== null) sum.health.unshift(health.snapshot());
    sum.reload = { ...reloader.state };
    return sum;
  };
  // The supervisor validates the file once; every worker then reloads that same file (by checksum).
  const reloader = new Reloader(opts.confFile, checksum, async (_next, sum) => {
    const outcomes = await Promise.all(
      workers.map((w) =>
        askReload(w.control, sum).catch((err): ReloadOutcome => ({
          ok: false,
          changed: false,
          checksum: "",
          summary: `worker ${w.index} did not answer`,
          error: err instanceof Error ? err.message : String(err),
          ms: 0,
        }))
      ),
    );
    return { summary: outcomes.find((o) => o.ok)?.summary ?? "no worker applied it", workers: outcomes };
  });
  // The stats port comes up before the pools, as in nutcracker: once a pool accepts, stats answer.
  let stats: Deno.Listener;
  try {
    stats = serveStats(opts.statsAddr, opts.statsPort, snapshot);
  } catch (err) {
    log(Level.ERR, "workers", err instanceof Error ? err.message : String(err));
    Deno.removeSync(dir, { recursive: true });
    return 1;
  }
  let admin: Deno.HttpServer | null = null;
  try {
    admin = startAdmin(() => snapshot(true), () => reloader.reload());
  } catch (err) {
    log(Level.ERR, "workers", err instanceof Error ? err.message : String(err));
    stats.close();
    Deno.removeSync(dir, { recursive: true });
    return 1;
  }
  health?.start();
  for (let i = 0; i < opts.workers; i++) workers.push(spawn(i));
  try {
    await Promise.all(workers.map(ready));
  } catch (err) {
    log(Level.ERR, "workers", err instanceof Error ? err.message : String(err));
    stats.close();
    await admin?.shutdown();
    await stopAll();
    return 1;
  }
  logAlways("workers", `${opts.workers} workers serving: pids ${workers.map((w) => w.child.pid).join(" ")}`);
  for (const sig of PASSED_ON) Deno.addSignalListener(sig, () => signal(sig));
  onReload(() => reloader.reload());
  // SIGINT exits at once (the workers see their stdin close and exit too).
  onDrain(async () => {
    logAlways("workers", `passing the drain on to ${workers.length} workers`);
    await stopAll();
    logAlways("workers", "every worker has exited");
  });
  return 0;
}

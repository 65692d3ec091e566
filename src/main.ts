/**
 * tsproxy's entry point, with nutcracker's command line: flags -> log -> pid file -> config ->
 * stats port -> pools.
 */
import { type CliOptions, parseCli, testConfigMessage } from "./cli.ts";
import { ConfigError, loadConfig, type LoadedConfig, readConfigFile } from "./config/load.ts";
import { errorMessage } from "./core/errors.ts";
import { activity, createPools, Proxy } from "./core/proxy.ts";
import { watchPool } from "./ha/pool_watch.ts";
import { describeChanges, reloadProxy } from "./core/reload.ts";
import { Reloader, type ReloadOutcome } from "./reload.ts";
import type { StatsSnapshot } from "./stats/snapshot.ts";
import { drainPools } from "./core/drain.ts";
import { serveAdmin } from "./admin/admin_server.ts";
import { ProcessMetrics } from "./metrics/process_metrics.ts";
import {
  exitProcess,
  installStopSignals,
  onDrain,
  onReload,
  reloadNow,
  shutRuntimeInspector,
  writePidFile,
} from "./lifecycle.ts";
import { BUILD } from "./version.ts";
import { protocolFor } from "./protocol/index.ts";
import { startIdleCollector } from "./core/idle_gc.ts";
import { Level, log, logAlways, logSignal, reopenLog, setupLog, shiftLogLevel } from "./log.ts";
import { selfArgs } from "./self_command.ts";
import { takeSnapshot } from "./stats/snapshot.ts";
import { serveStats } from "./stats/stats_server.ts";
import { serveControl } from "./workers/control.ts";
import { superviseWorkers } from "./workers/supervisor.ts";

const encoder = new TextEncoder();
/**
 * Quiet time after traffic before the heap is collected and shrunk: long enough that bursty load (a
 * benchmark's gaps) is not collected between its bursts.
 */
const IDLE_GC_INTERVAL_MS = 10_000;

function stderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/** Runs the proxy until a signal stops it; returns an exit code on failure to start. */
export async function main(args: string[]): Promise<number> {
  const cli = parseCli(args);
  if (cli.kind === "exit") {
    stderr(cli.stderr);
    return cli.code;
  }
  const opts = cli.options;
  if (opts.testConf) return await testConf(opts.confFile);
  if (opts.daemonize) return daemonize(args);
  try {
    setupLog(opts.verbosity, opts.output);
  } catch (err) {
    stderr(`nutcracker: opening log file '${opts.output}' failed: ${errorMessage(err)}\n`);
    return 1;
  }
  installSignals();
  const worker = opts.worker;
  if (worker !== null) exitWithSupervisor();
  else if (opts.pidFile !== null) writePidFile(opts.pidFile);
  logAlways("main", `nutcracker-0.5.0 (tsproxy) started on pid ${Deno.pid}`);
  const code = await start(opts, args);
  if (code !== 0) {
    logAlways("main", "done, rabbit done");
    exitProcess(code);
  }
  return code;
}

/**
 * The admin endpoint, when on: a port given on the command line must bind; the default one is
 * skipped with a warning when taken (another instance on the host has it).
 */
export function startAdmin(
  opts: CliOptions,
  snapshot: () => Promise<StatsSnapshot>,
  reload: () => Promise<ReloadOutcome>,
): Deno.HttpServer | null {
  if (opts.adminPort === 0) return null;
  try {
    return serveAdmin(opts.adminAddr, opts.adminPort, { snapshot, reload, build: BUILD });
  } catch (err) {
    if (opts.adminExplicit) throw err;
    log(Level.WARN, "admin", `${errorMessage(err)}; the admin endpoint is off (set --admin-port)`);
    return null;
  }
}

async function start(opts: CliOptions, args: string[]): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = await readConfigFile(opts.confFile);
  } catch (err) {
    log(Level.ERR, "conf", err instanceof ConfigError ? err.message : errorMessage(err));
    stderr(`nutcracker: configuration file '${opts.confFile}' syntax is invalid\n`);
    return 1;
  }
  const worker = opts.worker;
  if (opts.workers > 1 && worker === null) {
    return await superviseWorkers(
      args,
      opts,
      loaded.checksum,
      (snapshot: () => Promise<StatsSnapshot>, reload: () => Promise<ReloadOutcome>) =>
        startAdmin(opts, snapshot, reload),
    );
  }
  const config = loaded.config;
  let stats: Deno.Listener | null = null;
  let admin: Deno.HttpServer | null = null;
  // Metrics are kept while an admin endpoint serves them (a worker's supervisor serves its).
  const health = opts.adminPort === 0
    ? null
    : new ProcessMetrics(worker === null ? null : `worker-${worker.index}`);
  try {
    // The stats port comes up before the pools, as in nutcracker: once a pool accepts, stats answer.
    // A worker hands its counters to its supervisor, which serves the stats port for all of them.
    const pools = await createPools(config, opts.mbufSize, protocolFor, health !== null);
    // Sentinel pools learn where their masters are before the first client comes.
    await Promise.all(pools.map(watchPool));
    const proxy = new Proxy(pools, opts.mbufSize, {
      reusePort: worker !== null,
      skipUnix: (worker?.index ?? 0) > 0,
    });
    const reloader = new Reloader(opts.confFile, loaded.checksum, async (next) => {
      const reload = { protocolFor, watchPool, metrics: health !== null, drainMs: opts.drainTimeout };
      return { summary: describeChanges(await reloadProxy(proxy, next, reload)) };
    });
    let listening = false;
    const snapshot = (withHealth: boolean) =>
      takeSnapshot(proxy.pools, {
        listening,
        health: withHealth ? health?.snapshot() ?? null : null,
        reload: reloader.state,
      });
    const reload = () => reloader.reload();
    stats = worker === null
      ? serveStats(opts.statsAddr, opts.statsPort, () => Promise.resolve(snapshot(false)))
      : serveControl(worker.control, {
        snapshot: () => snapshot(true),
        reload: (checksum: string) => reloader.reload(checksum),
      });
    if (worker === null) admin = startAdmin(opts, () => Promise.resolve(snapshot(true)), reload);
    health?.start();
    proxy.serve(proxy.bind(pools));
    listening = true;
    onReload(reload);
    onDrain(() => {
      listening = false;
      return drain(proxy, opts.drainTimeout);
    });
    // A process that never served a client has no load to give back, and Deno's first timer costs RSS
    // (3.5 MiB on an empty listener, 2 MiB off a fresh tsproxy): the collector starts with the first client.
    proxy.firstClient.then(() =>
      startIdleCollector({
        activity: () => activity(proxy.pools),
        intervalMs: IDLE_GC_INTERVAL_MS,
        minHeapBytes: 16 << 20,
      })
    );
  } catch (err) {
    stats?.close();
    await admin?.shutdown();
    health?.stop();
    log(Level.ERR, "main", errorMessage(err));
    return 1;
  }
  return 0;
}

/** SIGTERM: no more clients; those open are answered and closed within `timeoutMs`. */
async function drain(proxy: Proxy, timeoutMs: number): Promise<void> {
  await proxy.close();
  await drainPools(proxy.pools, timeoutMs);
}

async function testConf(file: string): Promise<number> {
  let error: ConfigError | null = null;
  try {
    await loadConfig(file);
  } catch (err) {
    error = err instanceof ConfigError ? err : new ConfigError(errorMessage(err));
  }
  stderr(testConfigMessage(file, error));
  return error === null ? 0 : 1;
}

/** -d: runs the same command line without -d as a detached process, as a daemon would. */
function daemonize(args: string[]): number {
  const rest = args.filter((a) => a !== "-d" && a !== "--daemonize");
  const child = new Deno.Command(Deno.execPath(), {
    args: selfArgs(rest),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  return 0;
}

function installSignals(): void {
  const add = (sig: Deno.Signal, fn: () => void) => {
    try {
      Deno.addSignalListener(sig, fn);
    } catch { /* not available on this platform */ }
  };
  const line = logSignal;
  add("SIGTTIN", () => {
    line("signal 21 (SIGTTIN) received, up logging level");
    line(`up log level to ${shiftLogLevel(1)}`);
  });
  add("SIGTTOU", () => {
    line("signal 22 (SIGTTOU) received, down logging level");
    line(`down log level to ${shiftLogLevel(-1)}`);
  });
  add("SIGHUP", () => {
    line("signal 1 (SIGHUP) received, reopening log file");
    reopenLog();
  });
  add("SIGUSR1", () => {
    line("signal 10 (SIGUSR1) received");
    shutRuntimeInspector();
    reloadNow();
  });
  add("SIGUSR2", () => {
    line("signal 12 (SIGUSR2) received");
    reloadNow();
  });
  installStopSignals(add);
}

/** A worker ends when its supervisor does: its stdin, a pipe from the supervisor, then closes. */
function exitWithSupervisor(): void {
  (async () => {
    try {
      for await (const _ of Deno.stdin.readable) { /* nothing is sent; only the close matters */ }
    } catch { /* closed */ }
    Deno.exit(0);
  })();
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code !== 0) Deno.exit(code);
}

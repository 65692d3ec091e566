/**
 * How the process stops and reloads: SIGINT at once, as nutcracker does; SIGTERM through a graceful
 * drain, SIGUSR1 through a reload, each registered by whatever runs (the proxy, or the workers'
 * supervisor). The pid file goes at every exit.
 */
import { Level, log, logSignal } from "./log.ts";

let pidFile: string | null = null;
let drain: (() => Promise<void>) | null = null;
let draining = false;

/** Writes the pid file, removed at every exit from now on. */
export function writePidFile(path: string): void {
  Deno.writeTextFileSync(path, String(Deno.pid), { mode: 0o644 });
  pidFile = path;
}

/** Ends the process with `code`, the pid file removed. */
export function exitProcess(code: number): never {
  if (pidFile !== null) {
    try {
      Deno.removeSync(pidFile);
    } catch { /* already gone */ }
  }
  Deno.exit(code);
}

let reload: (() => Promise<unknown>) | null = null;

/** What SIGUSR1 runs: a reload of the configuration file (until set, nothing). */
export function onReload(fn: () => Promise<unknown>): void {
  reload = fn;
}

/** Runs the reload (SIGUSR1, SIGUSR2); its outcome is logged by the reload itself. */
export function reloadNow(): void {
  reload?.();
}

/** How long after a SIGUSR1 the runtime's inspector is looked for, and how often. */
const INSPECTOR_WATCH_MS = 500;
const INSPECTOR_POLL_MS = 2;

/**
 * Deno (2.9.2 and later) opens its V8 inspector on 127.0.0.1:9229 when the process gets a SIGUSR1,
 * with no way to turn that off: anyone on the host could then run code in the proxy. It is closed
 * as soon as it is up (within milliseconds), with a warning; SIGUSR2 reloads without it.
 */
export async function shutRuntimeInspector(): Promise<void> {
  const inspector = (await import("node:inspector")).default;
  const deadline = performance.now() + INSPECTOR_WATCH_MS;
  const poll = () => {
    if (inspector.url() !== undefined) {
      inspector.close();
      log(
        Level.WARN,
        "main",
        "closed the V8 inspector Deno opens on SIGUSR1 (127.0.0.1:9229); use SIGUSR2 or POST /reload to reload",
      );
    } else if (performance.now() < deadline) setTimeout(poll, INSPECTOR_POLL_MS);
  };
  poll();
}

/** What SIGTERM runs before the process exits 0 (until set, SIGTERM exits at once). */
export function onDrain(fn: () => Promise<void>): void {
  drain = fn;
}

/** SIGINT and SIGTERM handlers. */
export function installStopSignals(add: (sig: Deno.Signal, fn: () => void) => void): void {
  add("SIGINT", () => {
    logSignal("signal 2 (SIGINT) received, exiting");
    exitProcess(1);
  });
  add("SIGTERM", () => {
    if (draining) return; // one drain at a time; its deadline bounds it
    draining = true;
    logSignal("signal 15 (SIGTERM) received, draining");
    (drain ?? (() => Promise.resolve()))().finally(() => exitProcess(0));
  });
}

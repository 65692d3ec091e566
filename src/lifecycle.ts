/**
 * How the process stops: SIGINT at once, as nutcracker does; SIGTERM through a graceful drain that
 * whatever runs (the proxy, or the workers' supervisor) registers. The pid file goes either way.
 */
import { logSignal } from "./log.ts";

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

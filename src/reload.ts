/**
 * Live reloads of the configuration file (SIGUSR1, POST /reload): the file is read and validated as
 * `-t` validates it, applied only when valid and changed, one reload at a time, and counted.
 */
import { ConfigError, readConfigFile } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { errorMessage } from "./core/errors.ts";
import { Level, log } from "./log.ts";

/** A reload's answer (POST /reload returns it as JSON). */
export interface ReloadOutcome {
  ok: boolean;
  /** Something was applied (false for an unchanged file, and for a refused one). */
  changed: boolean;
  /** SHA-256 of the configuration in force afterwards. */
  checksum: string;
  /** What changed, or why nothing did. */
  summary: string;
  /** Why the file was refused (the `-t` message), when ok is false. */
  error?: string;
  ms: number;
  /** With --workers: each worker's own outcome. */
  workers?: ReloadOutcome[];
}

/** Reload counters for stats and /metrics. */
export interface ReloadState {
  checksum: string;
  file: string;
  reloads: number;
  failures: number;
  /** Seconds since the epoch of the last reload applied (or of the start). */
  lastSuccess: number;
  lastSuccessful: boolean;
}

/** Applies a valid configuration that differs from the one in force; returns a one-line summary. */
export type ApplyConfig = (
  next: Config,
  checksum: string,
) => Promise<{ summary: string; workers?: ReloadOutcome[] }>;

export class Reloader {
  readonly state: ReloadState;
  #running: Promise<unknown> = Promise.resolve();

  constructor(file: string, checksum: string, readonly apply: ApplyConfig) {
    this.state = {
      checksum,
      file,
      reloads: 0,
      failures: 0,
      lastSuccess: Date.now() / 1000,
      lastSuccessful: true,
    };
  }

  /**
   * Reloads the file (after any reload in progress). `expect`: the checksum the caller validated (a
   * worker told by its supervisor); a file that changed since is refused.
   */
  reload(expect: string | null = null): Promise<ReloadOutcome> {
    const run = this.#running.then(() => this.#reload(expect));
    this.#running = run.catch(() => {});
    return run;
  }

  async #reload(expect: string | null): Promise<ReloadOutcome> {
    const started = performance.now();
    const state = this.state;
    const done = (ok: boolean, changed: boolean, summary: string, error?: string): ReloadOutcome => {
      const ms = Math.round(performance.now() - started);
      return {
        ok,
        changed,
        checksum: state.checksum,
        summary,
        ...(error === undefined ? {} : { error }),
        ms,
      };
    };
    let next: Config;
    let checksum: string;
    try {
      ({ config: next, checksum } = await readConfigFile(state.file));
      if (expect !== null && checksum !== expect) {
        throw new ConfigError(`conf: '${state.file}' changed while it was being reloaded`);
      }
    } catch (err) {
      state.failures++;
      state.lastSuccessful = false;
      const why = err instanceof ConfigError ? err.message : errorMessage(err);
      log(
        Level.WARN,
        "reload",
        `reload of '${state.file}' refused, the configuration in force is kept: ${why}`,
      );
      return done(false, false, "the configuration in force is kept", why);
    }
    if (checksum === state.checksum) {
      log(Level.NOTICE, "reload", `reload of '${state.file}': unchanged (sha256 ${checksum.slice(0, 12)})`);
      state.lastSuccessful = true;
      return done(true, false, "unchanged");
    }
    let applied: Awaited<ReturnType<ApplyConfig>>;
    try {
      applied = await this.apply(next, checksum);
    } catch (err) {
      state.failures++;
      state.lastSuccessful = false;
      log(Level.WARN, "reload", `reload of '${state.file}' failed, nothing changed: ${errorMessage(err)}`);
      return done(false, false, "nothing changed", errorMessage(err));
    }
    const failed = applied.workers?.filter((w) => !w.ok) ?? [];
    if (failed.length > 0) {
      state.failures++;
      state.lastSuccessful = false;
      return {
        ...done(false, true, applied.summary, `${failed.length} workers failed`),
        workers: applied.workers,
      };
    }
    state.checksum = checksum;
    state.reloads++;
    state.lastSuccess = Date.now() / 1000;
    state.lastSuccessful = true;
    const outcome = done(true, true, applied.summary);
    log(
      Level.NOTICE,
      "reload",
      `reloaded '${state.file}' (sha256 ${checksum.slice(0, 12)}) in ${outcome.ms} ms: ${applied.summary}`,
    );
    return applied.workers === undefined ? outcome : { ...outcome, workers: applied.workers };
  }
}

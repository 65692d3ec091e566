/**
 * Test support: a tsproxy running inside the test process, so a test can hand it a protocol with an
 * injected fault and read its log lines.
 */
import { parseConfig } from "../../src/config/load.ts";
import type { Pool } from "../../src/core/pool.ts";
import { createPools, type ProtocolFor, startProxy } from "../../src/core/proxy.ts";
import { Level, setupLog } from "../../src/log.ts";
import { type ReloadChanges, reloadProxy } from "../../src/core/reload.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import { watchPool } from "../../src/ha/pool_watch.ts";

/** A running in-process proxy. */
export interface InProcess {
  /** The pools served now (a reload replaces the list). */
  readonly pools: Pool[];
  /** The log lines written so far (timestamps cut off). */
  log(): string[];
  /** Applies a new configuration, as a reload does (removed pools drain within `drainMs`, default 2000). */
  reload(yaml: string, drainMs?: number): Promise<ReloadChanges>;
}

/** Options of an in-process proxy. */
export interface InProcessOptions {
  /** The log level (default NOTICE, nutcracker's default). */
  level?: number;
  /** The protocols, e.g. wrapped with a fault (default: the real ones). */
  protocols?: ProtocolFor;
}

/**
 * Runs `fn` with a tsproxy serving `yaml` in this process, logging to a temporary file; stops
 * listening and puts the log back on stderr at NOTICE afterwards. Connections the test leaves open
 * are its own to close (tests using this turn the resource sanitizer off: server connections end
 * with their backends).
 */
export async function withInProcess<T>(
  yaml: string,
  opts: InProcessOptions,
  fn: (proxy: InProcess) => Promise<T>,
): Promise<T> {
  const file = await Deno.makeTempFile({ suffix: ".log" });
  setupLog(opts.level ?? Level.NOTICE, file);
  const config = await parseConfig(yaml, "inproc.yml");
  const pools = await createPools(config, 16384, opts.protocols ?? protocolFor);
  await Promise.all(pools.map(watchPool));
  const proxy = startProxy(pools, 16384);
  const protocols = opts.protocols ?? protocolFor;
  try {
    return await fn({
      get pools() {
        return proxy.pools;
      },
      reload: async (next: string, drainMs = 2000) =>
        reloadProxy(proxy, await parseConfig(next, "inproc.yml"), {
          protocolFor: protocols,
          watchPool,
          metrics: false,
          drainMs,
        }),
      log: () =>
        Deno.readTextFileSync(file).split("\n").filter((l) => l !== "").map((l) =>
          l.replace(/^\[[^\]]*\] /, "")
        ),
    });
  } finally {
    for (const pool of proxy.pools) pool.watch?.stop();
    proxy.close();
    setupLog(Level.NOTICE, null);
    await Deno.remove(file).catch(() => {});
  }
}

/** Waits until `cond` holds (polling), failing after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

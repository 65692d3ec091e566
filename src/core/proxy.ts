/** Builds every pool of a configuration and starts serving them: servers, preconnect, listeners. */
import type { Config, PoolConfig } from "../config/types.ts";
import type { Protocol } from "../protocol/types.ts";
import { maxClients } from "./fd_limit.ts";
import { acceptClients, bindListener, clientCount } from "./listener.ts";
import { Pool } from "./pool.ts";
import { connectionCounts } from "../stats/counters.ts";

/** How the core gets a pool's protocol (the registry lives with the protocols, not in the core). */
export type ProtocolFor = (pool: PoolConfig, mbufSize: number) => Protocol;

/**
 * The pools of a configuration, with server host names resolved once. Nothing is bound yet.
 * `metrics`: keep latency histograms and per-command counts (for the admin endpoint).
 */
export async function createPools(
  config: Config,
  mbufSize: number,
  protocolFor: ProtocolFor,
  metrics = false,
): Promise<Pool[]> {
  const pools = config.pools.map((pc) => new Pool(pc, protocolFor(pc, mbufSize), mbufSize, metrics));
  await Promise.all(pools.map((p) => p.resolveHosts()));
  return pools;
}

/** A number that moves whenever the pools do anything: connections made, requests forwarded. */
export function activity(pools: readonly Pool[]): number {
  let n = connectionCounts.total;
  for (const pool of pools) for (const server of pool.servers) n += server.stats.requests;
  return n;
}

/** How a worker process shares the pools' listeners with its siblings. */
export interface ListenOptions {
  /** SO_REUSEPORT on every TCP listener, whatever the pool's `reuseport` says. */
  reusePort: boolean;
  /** Leave unix-socket pools to another process (a socket path cannot be shared). */
  skipUnix: boolean;
}

/** A running proxy: its pools (in the configuration's order) and their listeners. */
export class Proxy {
  /** The pools served; a reload replaces the list (kept pools stay the same objects). */
  pools: Pool[];
  readonly #listeners = new Map<Pool, Deno.Listener>();
  /** Each listener's accept loop, which ends once the listener is closed. */
  readonly #accepting = new Map<Pool, Promise<void>>();
  /** Settles when any pool accepts its first client: work that only traffic needs can wait for it. */
  readonly firstClient: Promise<void>;
  readonly #accepted: () => void;

  constructor(pools: Pool[], readonly mbufSize: number, readonly opts: ListenOptions) {
    this.pools = pools;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.firstClient = promise;
    this.#accepted = resolve;
  }

  /** The pools this process listens for (a worker leaves unix sockets to the first one). */
  served(pools: readonly Pool[]): Pool[] {
    return pools.filter((p) => !(this.opts.skipUnix && p.config.listen.kind === "unix"));
  }

  /** Binds the listeners of `pools` (all or none: throws, nothing left bound, when one cannot bind). */
  bind(pools: readonly Pool[]): Map<Pool, Deno.Listener> {
    const bound = new Map<Pool, Deno.Listener>();
    try {
      for (const pool of this.served(pools)) {
        bound.set(pool, bindListener(pool.config.listen, this.opts.reusePort || pool.config.reuseport));
      }
    } catch (err) {
      for (const l of bound.values()) l.close();
      throw err;
    }
    return bound;
  }

  /** Starts accepting on listeners from `bind` (and preconnects their pools). */
  serve(bound: Map<Pool, Deno.Listener>): void {
    clientCount.max = maxClients(this.pools.map((p) => p.config));
    for (const [pool, listener] of bound) {
      this.#listeners.set(pool, listener);
      if (pool.config.preconnect) pool.preconnect();
      this.#accepting.set(pool, acceptClients(listener, pool, this.mbufSize, this.#accepted));
    }
  }

  /**
   * Stops accepting clients of `pools` (all by default); their open connections stay. Resolves once
   * their addresses are free again: Deno releases a listening socket only after its pending accept
   * is cancelled, an event-loop turn after close().
   */
  close(pools: readonly Pool[] = [...this.#listeners.keys()]): Promise<void> {
    const loops: Promise<void>[] = [];
    for (const pool of pools) {
      try {
        this.#listeners.get(pool)?.close();
      } catch { /* already closed */ }
      this.#listeners.delete(pool);
      loops.push(this.#accepting.get(pool) ?? Promise.resolve());
      this.#accepting.delete(pool);
    }
    return Promise.all(loops).then(() => {});
  }
}

/** Binds the pools' listeners and serves them; throws (nothing left bound) when a listener cannot bind. */
export function startProxy(
  pools: Pool[],
  mbufSize: number,
  opts: ListenOptions = { reusePort: false, skipUnix: false },
): Proxy {
  const proxy = new Proxy(pools, mbufSize, opts);
  proxy.serve(proxy.bind(pools));
  return proxy;
}

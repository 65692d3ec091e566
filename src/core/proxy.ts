/** Builds every pool of a configuration and starts serving them: servers, preconnect, listeners. */
import type { Config, PoolConfig } from "../config/types.ts";
import type { Protocol } from "../protocol/types.ts";
import { maxClients } from "./fd_limit.ts";
import { acceptClients, bindListener, clientCount } from "./listener.ts";
import { Pool } from "./pool.ts";
import { connectionCounts } from "../stats/counters.ts";

/** A running proxy. */
export interface Proxy {
  pools: Pool[];
  /** Stops accepting clients (open connections are left to the process exit). */
  close(): void;
  /** Settles when any pool accepts its first client: work that only traffic needs can wait for it. */
  firstClient: Promise<void>;
}

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

/** Binds the pools' listeners and serves them; throws (nothing left bound) when a listener cannot bind. */
export function startProxy(
  pools: Pool[],
  mbufSize: number,
  opts: ListenOptions = { reusePort: false, skipUnix: false },
): Proxy {
  const served = pools.filter((p) => !(opts.skipUnix && p.config.listen.kind === "unix"));
  const listeners: Deno.Listener[] = [];
  try {
    for (const pool of served) {
      listeners.push(bindListener(pool.config.listen, opts.reusePort || pool.config.reuseport));
    }
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }
  clientCount.max = maxClients(pools.map((p) => p.config));
  for (const pool of served) if (pool.config.preconnect) pool.preconnect();
  const { promise: firstClient, resolve: accepted } = Promise.withResolvers<void>();
  served.forEach((pool, i) => acceptClients(listeners[i], pool, mbufSize, accepted));
  return {
    pools,
    firstClient,
    close() {
      for (const l of listeners) {
        try {
          l.close();
        } catch { /* already closed */ }
      }
    },
  };
}

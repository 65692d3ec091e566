/** Starts every pool of a configuration: servers, preconnect, listeners. */
import type { Config } from "../config/types.ts";
import { protocolFor } from "../protocol/index.ts";
import { acceptClients, bindListener } from "./listener.ts";
import { Pool } from "./pool.ts";

/** A running proxy. */
export interface Proxy {
  pools: Pool[];
  /** Stops accepting clients (open connections are left to the process exit). */
  close(): void;
}

/** Builds the pools and binds their listeners; throws (nothing left bound) when a listener cannot bind. */
export async function startProxy(config: Config, mbufSize: number): Promise<Proxy> {
  const pools = config.pools.map((pc) => new Pool(pc, protocolFor(pc, mbufSize), mbufSize));
  await Promise.all(pools.map((p) => p.resolveHosts()));
  const listeners: Deno.Listener[] = [];
  try {
    for (const pool of pools) listeners.push(bindListener(pool.config.listen, pool.config.reuseport));
  } catch (err) {
    for (const l of listeners) l.close();
    throw err;
  }
  for (const pool of pools) if (pool.config.preconnect) pool.preconnect();
  pools.forEach((pool, i) => acceptClients(listeners[i], pool, mbufSize));
  return {
    pools,
    close() {
      for (const l of listeners) {
        try {
          l.close();
        } catch { /* already closed */ }
      }
    },
  };
}

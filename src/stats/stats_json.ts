/** The stats document nutcracker serves on its stats port, byte for byte in its layout. */
import type { StatsSnapshot } from "./snapshot.ts";

/** Fields of the header that are not counters, in nutcracker's order. */
export interface StatsHeader {
  source: string;
  uptime: number;
  timestamp: number;
}

/** When the process started serving (nutcracker's uptime counts from its stats server's start). */
const STARTED = Date.now();

/** The header as of now: this host's name, the uptime and the time in seconds. */
export function currentHeader(now: number = Date.now()): StatsHeader {
  return {
    source: Deno.hostname(),
    uptime: Math.floor((now - STARTED) / 1000),
    timestamp: Math.floor(now / 1000),
  };
}

/**
 * nutcracker's layout: `"k":v, ` items, `"name": {` to open a nested object; closing an object
 * turns its trailing `, ` into `}` and adds `,`; the last `,` becomes the root's `}`. Names are not escaped.
 *
 * A pool with a sentinel or replicas (an HA pool) has more items, never more objects (readers take every
 * object in a pool for a server): after the pool's counters `"sentinel_connected":N, "sentinel":"host:port"`
 * (a sentinel pool only; `""` while none is connected), and after each server's counters
 * `"address":"host:port", "switches":N, "replicas":R, "replicas_in_sync":S`, S counting the replicas in
 * sync in at least one of the processes summed. Any other pool is exactly as nutcracker lays it out.
 */
export function statsJson(header: StatsHeader, snap: StatsSnapshot): string {
  let s =
    `{"service":"nutcracker", "source":"${header.source}", "version":"0.5.0", "uptime":${header.uptime}, ` +
    `"timestamp":${header.timestamp}, "total_connections":${snap.total_connections}, ` +
    `"curr_connections":${snap.curr_connections}, `;
  for (const pool of snap.pools) {
    const ha = isHaPool(pool);
    s += `"${pool.name}": {` + items(pool.stats);
    if (pool.sentinel !== null) {
      s += items({
        sentinel_connected: pool.sentinel.connected,
        sentinel: `"${pool.sentinel.address ?? ""}"`,
      });
    }
    for (const server of pool.servers) {
      s += `"${server.name}": {` + items(server.stats);
      if (ha) {
        s += items({
          address: `"${server.address}"`,
          switches: server.switches,
          replicas: server.replicas.length,
          replicas_in_sync: server.replicas.filter((r) => r.inSync > 0).length,
        });
      }
      s = s.slice(0, -2) + "},";
    }
    s = s.slice(0, -1) + "},";
  }
  return s.slice(0, -1) + "}\n";
}

/** A pool with a sentinel, or with a server that has replicas. */
export function isHaPool(pool: StatsSnapshot["pools"][number]): boolean {
  return pool.sentinel !== null || pool.servers.some((s) => s.replicas.length > 0);
}

/** `"k":v, ` for each entry, the values as they are (a string value carries its own quotes). */
function items(counters: object): string {
  let s = "";
  for (const [k, v] of Object.entries(counters)) s += `"${k}":${v}, `;
  return s;
}

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
 */
export function statsJson(header: StatsHeader, snap: StatsSnapshot): string {
  let s =
    `{"service":"nutcracker", "source":"${header.source}", "version":"0.5.0", "uptime":${header.uptime}, ` +
    `"timestamp":${header.timestamp}, "total_connections":${snap.total_connections}, ` +
    `"curr_connections":${snap.curr_connections}, `;
  for (const pool of snap.pools) {
    s += `"${pool.name}": {` + items(pool.stats);
    for (const server of pool.servers) {
      s += `"${server.name}": {` + items(server.stats);
      s = s.slice(0, -2) + "},";
    }
    s = s.slice(0, -1) + "},";
  }
  return s.slice(0, -1) + "}\n";
}

function items(counters: object): string {
  let s = "";
  for (const [k, v] of Object.entries(counters)) s += `"${k}":${v}, `;
  return s;
}

/** The stats document nutcracker serves on its stats port, byte for byte in its layout. */
import type { Pool } from "../core/pool.ts";
import { connectionCounts } from "./counters.ts";

/** Fields of the header, in nutcracker's order. */
export interface StatsHeader {
  source: string;
  uptime: number;
  timestamp: number;
}

/**
 * nutcracker's layout: `"k":v, ` items, `"name": {` to open a nested object; closing an object
 * turns its trailing `, ` into `}` and adds `,`; the last `,` becomes the root's `}`. Names are not escaped.
 */
export function statsJson(header: StatsHeader, pools: readonly Pool[]): string {
  let s =
    `{"service":"nutcracker", "source":"${header.source}", "version":"0.5.0", "uptime":${header.uptime}, ` +
    `"timestamp":${header.timestamp}, "total_connections":${connectionCounts.total}, ` +
    `"curr_connections":${connectionCounts.current}, `;
  for (const pool of pools) {
    s += `"${pool.config.name}": {` + items(pool.stats);
    for (const server of pool.servers) {
      s += `"${server.config.name}": {` + items(server.stats);
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

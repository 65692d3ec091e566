/** A plain copy of every counter, which worker processes hand to the one that serves the stats port. */
import type { Pool } from "../core/pool.ts";
import { connectionCounts, type PoolStats, type ServerStats } from "./counters.ts";

/** Counters of one process at one moment, in nutcracker's order (pools and servers sorted as configured). */
export interface StatsSnapshot {
  total_connections: number;
  curr_connections: number;
  pools: {
    name: string;
    stats: PoolStats;
    servers: { name: string; stats: ServerStats }[];
  }[];
}

/** The counters of this process. */
export function takeSnapshot(pools: readonly Pool[]): StatsSnapshot {
  return {
    total_connections: connectionCounts.total,
    curr_connections: connectionCounts.current,
    pools: pools.map((p) => ({
      name: p.config.name,
      stats: { ...p.stats },
      servers: p.servers.map((s) => ({ name: s.config.name, stats: { ...s.stats } })),
    })),
  };
}

/**
 * The counters of several worker processes with the same pools as one: counters and gauges add up;
 * `server_ejected_at` is the latest ejection any worker saw.
 */
export function sumSnapshots(parts: readonly StatsSnapshot[]): StatsSnapshot {
  const [first, ...rest] = parts;
  const sum: StatsSnapshot = structuredClone(first);
  for (const part of rest) {
    sum.total_connections += part.total_connections;
    sum.curr_connections += part.curr_connections;
    part.pools.forEach((pool, i) => {
      addInto(sum.pools[i].stats, pool.stats);
      pool.servers.forEach((server, j) => addInto(sum.pools[i].servers[j].stats, server.stats));
    });
  }
  return sum;
}

function addInto<T extends object>(into: T, from: T): void {
  const target = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>)) {
    target[k] = k === "server_ejected_at" ? Math.max(target[k], v) : target[k] + v;
  }
}

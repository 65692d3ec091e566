/** A plain copy of every counter, which worker processes hand to the one that serves the stats port. */
import type { Pool } from "../core/pool.ts";
import { addHistogram, type HistogramSnapshot } from "../metrics/histogram.ts";
import { addCounts, type PoolMetricsSnapshot } from "../metrics/pool_metrics.ts";
import type { ProcessSnapshot } from "../metrics/process_metrics.ts";
import type { ReloadState } from "../reload.ts";
import { connectionCounts, type PoolStats, type ServerStats } from "./counters.ts";

/** Counters of one process at one moment, in nutcracker's order (pools and servers sorted as configured). */
export interface StatsSnapshot {
  total_connections: number;
  curr_connections: number;
  pools: {
    name: string;
    stats: PoolStats;
    /** Latency and per-command counts, null while metrics are off. */
    metrics: PoolMetricsSnapshot | null;
    /** Pinned server connections open (in use or idle), and pins refused for pinned_connections. */
    pinned: { open: number; refused: number };
    /** For a pool with `sentinels:`: in how many processes a sentinel is connected, and the one in use. */
    sentinel: { connected: number; address: string | null } | null;
    servers: {
      name: string;
      stats: ServerStats;
      /** In how many of the processes summed the server is ejected (0 or 1 for one process). */
      ejected: number;
      latency: HistogramSnapshot | null;
      /** Where it is now (`host:port`, or a unix path): Sentinel may have moved it. */
      address: string;
      /** Failovers that moved it (the most any process saw). */
      switches: number;
      /** Its replicas (read_from), by address. */
      replicas: ReplicaSnapshot[];
    }[];
  }[];
  /** Processes summed (1, or the workers answering). */
  processes: number;
  /** Processes whose pools all listen (not before they bind, nor while they drain). */
  listening: number;
  /** Each process's own figures, while metrics are on. */
  health: ProcessSnapshot[];
  /** Configuration reloads of the process that serves this snapshot (a supervisor's own, with workers). */
  reload: ReloadState | null;
}

/** One replica of a server. */
export interface ReplicaSnapshot {
  /** `host:port`. */
  name: string;
  stats: ServerStats;
  /** In how many processes it is in sync (read from), and ejected. */
  inSync: number;
  ejected: number;
}

/** What the process knows beyond its pools' counters. */
export interface ProcessState {
  listening: boolean;
  health: ProcessSnapshot | null;
  reload: ReloadState | null;
}

/** The counters of this process. */
export function takeSnapshot(pools: readonly Pool[], state: ProcessState): StatsSnapshot {
  return {
    total_connections: connectionCounts.total,
    curr_connections: connectionCounts.current,
    pools: pools.map((p) => ({
      name: p.config.name,
      stats: { ...p.stats },
      metrics: p.metrics?.snapshot() ?? null,
      pinned: { open: p.pinnedOpen, refused: p.pinnedRefused },
      sentinel: p.sentinel === null
        ? null
        : { connected: p.sentinel.connected ? 1 : 0, address: p.sentinel.address },
      servers: p.servers.map((s) => ({
        name: s.config.name,
        stats: { ...s.stats },
        ejected: s.ejected ? 1 : 0,
        latency: s.latency?.snapshot() ?? null,
        address: s.address,
        switches: s.switches,
        replicas: s.replicas.map((r) => ({
          name: r.address,
          stats: { ...r.stats },
          inSync: r.inSync ? 1 : 0,
          ejected: r.ejected ? 1 : 0,
        })),
      })),
    })),
    processes: 1,
    listening: state.listening ? 1 : 0,
    health: state.health === null ? [] : [state.health],
    reload: state.reload === null ? null : { ...state.reload },
  };
}

/**
 * The counters of several worker processes with the same pools as one: counters and gauges add up;
 * `server_ejected_at` is the latest ejection any worker saw. Pools and servers are matched by name
 * (in the middle of a reload, workers may not have the same ones yet).
 */
export function sumSnapshots(parts: readonly StatsSnapshot[]): StatsSnapshot {
  const [first, ...rest] = parts;
  const sum: StatsSnapshot = structuredClone(first);
  for (const part of rest) {
    sum.total_connections += part.total_connections;
    sum.curr_connections += part.curr_connections;
    sum.processes += part.processes;
    sum.listening += part.listening;
    sum.health.push(...part.health);
    for (const pool of part.pools) {
      addByName(sum.pools, pool, (into) => {
        addInto(into.stats, pool.stats);
        addInto(into.pinned, pool.pinned);
        if (into.sentinel !== null && pool.sentinel !== null) {
          into.sentinel.connected += pool.sentinel.connected;
          into.sentinel.address ??= pool.sentinel.address;
        }
        if (into.metrics !== null && pool.metrics !== null) {
          addHistogram(into.metrics.latency, pool.metrics.latency);
          addCounts(into.metrics.commands, pool.metrics.commands);
          addCounts(into.metrics.errors, pool.metrics.errors);
        }
        for (const server of pool.servers) {
          addByName(into.servers, server, (s) => {
            addInto(s.stats, server.stats);
            s.ejected += server.ejected;
            if (s.latency !== null && server.latency !== null) addHistogram(s.latency, server.latency);
            s.switches = Math.max(s.switches, server.switches);
            for (const replica of server.replicas) {
              addByName(s.replicas, replica, (r) => {
                addInto(r.stats, replica.stats);
                r.inSync += replica.inSync;
                r.ejected += replica.ejected;
              });
            }
          });
        }
      });
    }
  }
  return sum;
}

/** Adds `item` into the entry of `list` with its name (`add`), or appends a copy when there is none. */
function addByName<T extends { name: string }>(list: T[], item: T, add: (into: T) => void): void {
  const into = list.find((x) => x.name === item.name);
  if (into === undefined) list.push(structuredClone(item));
  else add(into);
}

function addInto<T extends object>(into: T, from: T): void {
  const target = into as Record<string, number>;
  for (const [k, v] of Object.entries(from as Record<string, number>)) {
    target[k] = k === "server_ejected_at" ? Math.max(target[k], v) : target[k] + v;
  }
}

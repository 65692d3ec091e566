/**
 * What top shows, computed from two scrapes of /metrics: per pool and per server, the rates of the
 * counters over the time between the scrapes and latency quantiles from what the histograms gained in it.
 * Pure: the scrapes carry the clocks they were taken at.
 */
import { type Families, parseValue, type Sample } from "./prom_text.ts";

/** One successful read of /metrics. */
export interface Scrape {
  readonly families: Families;
  /** Monotonic clock (ms) when it completed: rates divide by the time between two scrapes. */
  readonly monoMs: number;
  /** Wall clock (s since the epoch) at the same moment, which process_start_time_seconds is measured in. */
  readonly wallSeconds: number;
}

/** The figures of a pool or a server row; undefined where the metrics do not tell (shown as "-"). */
export interface Stats {
  reqRate?: number;
  errRate?: number;
  /** Latency quantiles (s) over the last interval; undefined with no request in it. */
  p50?: number;
  p99?: number;
  /** Requests waiting to be sent plus requests waiting for their reply. */
  queue?: number;
  queueBytes?: number;
  /** A pool's client connections, a server's server connections. */
  connections?: number;
  /** Bytes per second sent to and received from the servers. */
  sentRate?: number;
  recvRate?: number;
}

export interface ServerRow extends Stats {
  name: string;
  ejected: boolean;
}

export interface PoolRow extends Stats {
  name: string;
  live: number;
  ejected: number;
  servers: ServerRow[];
}

/** Process-wide figures; with --workers the process_* families are summed over the processes. */
export interface Header {
  version?: string;
  /** How many processes report process_start_time_seconds (1 without --workers). */
  processes: number;
  uptimeSeconds?: number;
  rssBytes?: number;
  heapBytes?: number;
  openFds?: number;
  /** CPU time per wall time, in percent (above 100 when several cores are busy). */
  cpuPercent?: number;
  clients?: number;
  connections?: number;
  totalConnections?: number;
}

export interface View {
  header: Header;
  pools: PoolRow[];
}

/** A histogram bucket: observations at or below `le` (cumulative). */
export interface Bucket {
  le: number;
  count: number;
}

/** The pools and their servers, with rates over the interval from `prev` (none without it). */
export function buildView(cur: Scrape, prev?: Scrape): View {
  const seconds = prev && cur.monoMs > prev.monoMs ? (cur.monoMs - prev.monoMs) / 1000 : undefined;
  const gauge = (name: string, by: readonly string[]) => {
    const now = sumBy(cur.families, name, by);
    return (k: string) => now.get(k);
  };
  const rate = (name: string, by: readonly string[]) => {
    const now = sumBy(cur.families, name, by);
    const then = prev && sumBy(prev.families, name, by);
    // A labelled counter has no series until it first counts: absent means 0.
    return (k: string) =>
      then && seconds ? counterRate(now.get(k) ?? 0, then.get(k) ?? 0, seconds) : undefined;
  };
  const quantiles = (name: string, by: readonly string[]) => {
    const now = bucketsBy(cur.families, `${name}_bucket`, by);
    const then = prev && bucketsBy(prev.families, `${name}_bucket`, by);
    return (k: string) => {
      if (!then) return {};
      const gained = growth(now.get(k) ?? new Map(), then.get(k));
      return { p50: histogramQuantile(0.5, gained), p99: histogramQuantile(0.99, gained) };
    };
  };

  const S = ["pool", "server"];
  const server = {
    ejected: gauge("tsproxy_server_ejected", S),
    connections: gauge("tsproxy_server_connections", S),
    inQueue: gauge("tsproxy_server_in_queue", S),
    outQueue: gauge("tsproxy_server_out_queue", S),
    inQueueBytes: gauge("tsproxy_server_in_queue_bytes", S),
    outQueueBytes: gauge("tsproxy_server_out_queue_bytes", S),
    requests: rate("tsproxy_server_requests_total", S),
    eof: rate("tsproxy_server_eof_total", S),
    err: rate("tsproxy_server_err_total", S),
    timedout: rate("tsproxy_server_timedout_total", S),
    sent: rate("tsproxy_server_request_bytes_total", S),
    recv: rate("tsproxy_server_response_bytes_total", S),
    latency: quantiles("tsproxy_server_duration_seconds", S),
  };
  const P = ["pool"];
  const pool = {
    clients: gauge("tsproxy_pool_client_connections", P),
    commands: rate("tsproxy_pool_commands_total", P),
    commandErrors: rate("tsproxy_pool_command_errors_total", P),
    forwardErrors: rate("tsproxy_pool_forward_error_total", P),
    latency: quantiles("tsproxy_request_duration_seconds", P),
  };

  const pools = [...poolsAndServers(cur.families)].map(([name, serverNames]): PoolRow => {
    const servers = [...serverNames].map((serverName): ServerRow => {
      const k = key(name, serverName);
      return {
        name: serverName,
        ejected: (server.ejected(k) ?? 0) > 0,
        reqRate: server.requests(k),
        errRate: total([server.eof(k), server.err(k), server.timedout(k)]),
        ...server.latency(k),
        queue: total([server.inQueue(k), server.outQueue(k)]),
        queueBytes: total([server.inQueueBytes(k), server.outQueueBytes(k)]),
        connections: server.connections(k),
        sentRate: server.sent(k),
        recvRate: server.recv(k),
      };
    });
    const k = key(name);
    const ejected = servers.filter((s) => s.ejected).length;
    return {
      name,
      live: servers.length - ejected,
      ejected,
      reqRate: pool.commands(k),
      errRate: total([pool.commandErrors(k), pool.forwardErrors(k)]),
      ...pool.latency(k),
      queue: total(servers.map((s) => s.queue)),
      queueBytes: total(servers.map((s) => s.queueBytes)),
      connections: pool.clients(k),
      sentRate: total(servers.map((s) => s.sentRate)),
      recvRate: total(servers.map((s) => s.recvRate)),
      servers,
    };
  });

  const all = key();
  const starts = samplesNamed(cur.families, "process_start_time_seconds").map((s) => s.value);
  const cpu = rate("process_cpu_seconds_total", [])(all);
  return {
    header: {
      version: samplesNamed(cur.families, "tsproxy_build_info")[0]?.labels.version,
      processes: starts.length,
      uptimeSeconds: starts.length ? cur.wallSeconds - Math.min(...starts) : undefined,
      rssBytes: gauge("process_resident_memory_bytes", [])(all),
      heapBytes: gauge("tsproxy_heap_used_bytes", [])(all),
      openFds: gauge("process_open_fds", [])(all),
      cpuPercent: cpu === undefined ? undefined : cpu * 100,
      clients: total([...sumBy(cur.families, "tsproxy_pool_client_connections", P).values()]),
      connections: gauge("tsproxy_open_connections", [])(all),
      totalConnections: gauge("tsproxy_connections_total", [])(all),
    },
    pools,
  };
}

/** Per-second growth of a counter between two readings; one that went down restarted from 0. */
export function counterRate(cur: number, prev: number, seconds: number): number {
  return (cur >= prev ? cur - prev : cur) / seconds;
}

/**
 * The q-quantile of a histogram as Prometheus's histogram_quantile estimates it: the bucket holding the
 * rank, interpolated linearly within it (from 0 for the first bucket); a rank in the +Inf bucket gives the
 * highest finite bound. Undefined without observations or without a +Inf bucket.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted.length < 2 || sorted[sorted.length - 1].le !== Infinity) return undefined;
  // Counts that dip (series read at slightly different moments) are evened out, as Prometheus does.
  let max = 0;
  const counts = sorted.map((b) => max = Math.max(max, b.count));
  const observations = counts[counts.length - 1];
  if (observations <= 0) return undefined;
  let rank = q * observations;
  const b = counts.findIndex((c) => c >= rank);
  if (b === sorted.length - 1) return sorted[sorted.length - 2].le;
  if (b === 0 && sorted[0].le <= 0) return sorted[0].le;
  let start = 0;
  let count = counts[b];
  if (b > 0) {
    start = sorted[b - 1].le;
    count -= counts[b - 1];
    rank -= counts[b - 1];
  }
  return start + (sorted[b].le - start) * (rank / count);
}

/** What each bucket gained since `then`; everything it holds if the histogram restarted in between. */
function growth(now: Map<number, number>, then: Map<number, number> | undefined): Bucket[] {
  const restarted = (now.get(Infinity) ?? 0) < (then?.get(Infinity) ?? 0);
  return [...now].map(([le, count]) => ({ le, count: restarted ? count : count - (then?.get(le) ?? 0) }));
}

/** The sum of the defined values; undefined when none is. */
function total(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? known.reduce((a, b) => a + b, 0) : undefined;
}

function key(...values: string[]): string {
  return JSON.stringify(values);
}

function keyOf(sample: Sample, by: readonly string[]): string {
  return key(...by.map((l) => sample.labels[l] ?? ""));
}

/** The samples of one sample name (`x_bucket` is found in family `x`). */
function samplesNamed(families: Families, name: string): Sample[] {
  const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ""));
  return family?.samples.filter((s) => s.name === name) ?? [];
}

/** A sample name's values summed by the values of the `by` labels (any other label summed over). */
function sumBy(families: Families, name: string, by: readonly string[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const s of samplesNamed(families, name)) {
    const k = keyOf(s, by);
    sums.set(k, (sums.get(k) ?? 0) + s.value);
  }
  return sums;
}

/** A histogram's cumulative bucket counts by `le`, summed by the values of the `by` labels. */
function bucketsBy(
  families: Families,
  name: string,
  by: readonly string[],
): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const s of samplesNamed(families, name)) {
    const k = keyOf(s, by);
    const buckets = out.get(k) ?? out.set(k, new Map()).get(k)!;
    const le = parseValue(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return out;
}

/** Every pool and its servers named by a `pool` (and `server`) label, in the order they first appear. */
function poolsAndServers(families: Families): Map<string, Set<string>> {
  const pools = new Map<string, Set<string>>();
  for (const family of families.values()) {
    for (const { labels } of family.samples) {
      if (labels.pool === undefined) continue;
      const servers = pools.get(labels.pool) ?? pools.set(labels.pool, new Set()).get(labels.pool)!;
      if (labels.server !== undefined) servers.add(labels.server);
    }
  }
  return pools;
}

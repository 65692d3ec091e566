/**
 * The Prometheus text exposition (format 0.0.4) of a stats snapshot: nutcracker's counters with
 * their true types, latency histograms, per-command counts and the process's health.
 */
import { POOL_FIELDS, SERVER_FIELDS, type StatField } from "../stats/counters.ts";
import type { ReplicaSnapshot, StatsSnapshot } from "../stats/snapshot.ts";
import { isHaPool } from "../stats/stats_json.ts";
import { type HistogramSnapshot, LATENCY_BUCKETS } from "./histogram.ts";
import type { PoolMetricsSnapshot } from "./pool_metrics.ts";
import type { ProcessSnapshot } from "./process_metrics.ts";
import type { ReloadState } from "../reload.ts";

/** The content type Prometheus expects for this format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What tsproxy_build_info reports. */
export interface BuildInfo {
  version: string;
  deno: string;
  v8: string;
}

type Labels = Record<string, string>;

/** Builds the exposition one family at a time: every family's samples follow its HELP and TYPE. */
class Exposition {
  text = "";

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  }

  sample(name: string, labels: Labels, value: number): void {
    this.text += `${name}${labelText(labels)} ${formatValue(value)}\n`;
  }

  histogram(name: string, labels: Labels, h: HistogramSnapshot): void {
    let cumulative = 0;
    for (let i = 0; i < h.counts.length; i++) {
      cumulative += h.counts[i];
      const le = i < LATENCY_BUCKETS.length ? String(LATENCY_BUCKETS[i]) : "+Inf";
      this.sample(`${name}_bucket`, { ...labels, le }, cumulative);
    }
    this.sample(`${name}_sum`, labels, h.sum);
    this.sample(`${name}_count`, labels, h.count);
  }
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** A stats field's metric name: counters end in _total; a server field loses its doubled "server_". */
function fieldMetric(scope: "pool" | "server", f: StatField): string {
  if (f.name === "server_ejected_at") return "tsproxy_server_ejected_at_seconds";
  const base = scope === "server" && f.name.startsWith("server_") ? f.name.slice(7) : f.name;
  return `tsproxy_${scope}_${base}${f.kind === "counter" ? "_total" : ""}`;
}

/** The whole /metrics document. */
export function metricsText(snap: StatsSnapshot, build: BuildInfo): string {
  const out = new Exposition();
  out.family("tsproxy_build_info", "gauge", "tsproxy's version, and the nutcracker version it matches.");
  out.sample("tsproxy_build_info", { ...build, nutcracker: "0.5.0" }, 1);
  out.family("tsproxy_connections_total", "counter", "Connections ever made: listeners, clients, servers.");
  out.sample("tsproxy_connections_total", {}, snap.total_connections);
  out.family("tsproxy_open_connections", "gauge", "Open connections: listeners, clients, servers.");
  out.sample("tsproxy_open_connections", {}, snap.curr_connections);
  out.family("tsproxy_processes_listening", "gauge", "Processes whose pools all accept clients.");
  out.sample("tsproxy_processes_listening", {}, snap.listening);

  for (const f of POOL_FIELDS) {
    const name = fieldMetric("pool", f);
    out.family(name, f.kind, f.help);
    for (const p of snap.pools) {
      out.sample(name, { pool: p.name }, (p.stats as unknown as Record<string, number>)[f.name]);
    }
  }
  for (const f of SERVER_FIELDS) {
    const name = fieldMetric("server", f);
    out.family(name, f.kind, f.help.replace("in usec since epoch", "in seconds since epoch (0: never)"));
    for (const p of snap.pools) {
      for (const s of p.servers) {
        const v = (s.stats as unknown as Record<string, number>)[f.name];
        out.sample(name, { pool: p.name, server: s.name }, f.name === "server_ejected_at" ? v / 1e6 : v);
      }
    }
  }
  out.family("tsproxy_pinned_connections", "gauge", "Server connections pinned to clients, in use or idle.");
  for (const p of snap.pools) out.sample("tsproxy_pinned_connections", { pool: p.name }, p.pinned.open);
  out.family(
    "tsproxy_pinned_refused_total",
    "counter",
    "Transactions, subscriptions and blocking commands refused for pinned_connections.",
  );
  for (const p of snap.pools) out.sample("tsproxy_pinned_refused_total", { pool: p.name }, p.pinned.refused);
  out.family(
    "tsproxy_server_ejected",
    "gauge",
    "Processes in which the server is ejected right now (0 or 1 for one).",
  );
  for (const p of snap.pools) {
    for (const s of p.servers) {
      out.sample("tsproxy_server_ejected", { pool: p.name, server: s.name }, s.ejected);
    }
  }
  haFamilies(out, snap.pools.filter(isHaPool));

  const pools = snap.pools.filter((p) => p.metrics !== null);
  if (pools.length > 0) {
    const perCommand = (
      name: string,
      help: string,
      counts: (m: PoolMetricsSnapshot) => Record<string, number>,
    ) => {
      out.family(name, "counter", help);
      for (const p of pools) {
        for (const [command, n] of Object.entries(counts(p.metrics!))) {
          out.sample(name, { pool: p.name, command }, n);
        }
      }
    };
    perCommand("tsproxy_pool_commands_total", "Requests read from clients, by command.", (m) => m.commands);
    perCommand(
      "tsproxy_pool_command_errors_total",
      "Error replies written to clients, by command.",
      (m) => m.errors,
    );
    out.family(
      "tsproxy_request_duration_seconds",
      "histogram",
      "From a request read to its reply written to the client.",
    );
    for (const p of pools) {
      out.histogram("tsproxy_request_duration_seconds", { pool: p.name }, p.metrics!.latency);
    }
    out.family(
      "tsproxy_server_duration_seconds",
      "histogram",
      "Server round trip: from a request queued to the server to its reply read.",
    );
    for (const p of pools) {
      for (const s of p.servers) {
        if (s.latency !== null) {
          out.histogram("tsproxy_server_duration_seconds", { pool: p.name, server: s.name }, s.latency);
        }
      }
    }
  }
  if (snap.health.length > 0) processFamilies(out, snap.health);
  if (snap.reload !== null) reloadFamilies(out, snap.reload);
  return out.text;
}

/**
 * Pools with a sentinel or replicas (none of these families without one): where each server is now and
 * the failovers that moved it, the sentinel in use, and each replica's traffic and state.
 */
function haFamilies(out: Exposition, pools: StatsSnapshot["pools"]): void {
  if (pools.length === 0) return;
  out.family("tsproxy_server_address_info", "gauge", "Where the server is now: Sentinel may have moved it.");
  for (const p of pools) {
    for (const s of p.servers) {
      out.sample("tsproxy_server_address_info", { pool: p.name, server: s.name, address: s.address }, 1);
    }
  }
  out.family("tsproxy_server_switches_total", "counter", "Failovers that moved the server.");
  for (const p of pools) {
    for (const s of p.servers) {
      out.sample("tsproxy_server_switches_total", { pool: p.name, server: s.name }, s.switches);
    }
  }
  const sentinelPools = pools.filter((p) => p.sentinel !== null);
  if (sentinelPools.length > 0) {
    out.family(
      "tsproxy_sentinel_connected",
      "gauge",
      "Processes connected to a sentinel of the pool (the sentinel label: the one in use, empty if none).",
    );
    for (const p of sentinelPools) {
      const { connected, address } = p.sentinel!;
      out.sample("tsproxy_sentinel_connected", { pool: p.name, sentinel: address ?? "" }, connected);
    }
  }
  const replicas = pools.flatMap((p) =>
    p.servers.flatMap((s) =>
      s.replicas.map((r) => ({ labels: { pool: p.name, server: s.name, replica: r.name }, r }))
    )
  );
  if (replicas.length === 0) return;
  const perReplica = (
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: (r: ReplicaSnapshot) => number,
  ) => {
    out.family(name, type, help);
    for (const { labels, r } of replicas) out.sample(name, labels, value(r));
  };
  perReplica(
    "tsproxy_replica_requests_total",
    "counter",
    "Requests sent to the replica.",
    (r) => r.stats.requests,
  );
  perReplica(
    "tsproxy_replica_responses_total",
    "counter",
    "Responses read from the replica.",
    (r) => r.stats.responses,
  );
  perReplica(
    "tsproxy_replica_errors_total",
    "counter",
    "Errors, eofs and timeouts on connections to the replica.",
    (r) => r.stats.server_err + r.stats.server_eof + r.stats.server_timedout,
  );
  perReplica(
    "tsproxy_replica_in_sync",
    "gauge",
    "Processes in which the replica is in sync with its server, and read from (0 or 1 for one).",
    (r) => r.inSync,
  );
  perReplica(
    "tsproxy_replica_ejected",
    "gauge",
    "Processes in which the replica is ejected right now (0 or 1 for one).",
    (r) => r.ejected,
  );
}

/** Process families; with several processes each sample names its process. */
function processFamilies(out: Exposition, procs: readonly ProcessSnapshot[]): void {
  const labels = (p: ProcessSnapshot): Labels => p.label === null ? {} : { process: p.label };
  // One sample per process; a value below 0 is one the platform does not give (no /proc).
  const perProcess = (
    name: string,
    help: string,
    value: (p: ProcessSnapshot) => number,
    type: "gauge" | "counter" = "gauge",
  ) => {
    const known = procs.filter((p) => value(p) >= 0);
    if (known.length === 0) return;
    out.family(name, type, help);
    for (const p of known) out.sample(name, labels(p), value(p));
  };
  perProcess("process_resident_memory_bytes", "Resident memory size in bytes.", (p) => p.rssBytes);
  perProcess("tsproxy_heap_used_bytes", "V8 heap in use, in bytes.", (p) => p.heapUsedBytes);
  perProcess("tsproxy_heap_total_bytes", "V8 heap reserved, in bytes.", (p) => p.heapTotalBytes);
  perProcess(
    "process_cpu_seconds_total",
    "User and system CPU time, in seconds.",
    (p) => p.cpuSeconds,
    "counter",
  );
  perProcess("process_open_fds", "Open file descriptors.", (p) => p.openFds);
  perProcess("process_max_fds", "The file descriptor limit.", (p) => p.maxFds === Infinity ? -1 : p.maxFds);
  perProcess(
    "process_start_time_seconds",
    "Start time of the process, in seconds since epoch.",
    (p) => p.startTimeSeconds,
  );
  out.family(
    "tsproxy_event_loop_lag_seconds",
    "histogram",
    "How late the event loop ran a timer, sampled twice a second.",
  );
  for (const p of procs) out.histogram("tsproxy_event_loop_lag_seconds", labels(p), p.eventLoopLag);
  out.family("tsproxy_gc_duration_seconds", "histogram", "Garbage collection pauses, by V8 GC type.");
  for (const p of procs) {
    for (const [kind, h] of Object.entries(p.gc)) {
      out.histogram("tsproxy_gc_duration_seconds", { ...labels(p), kind }, h);
    }
  }
}

/** Configuration reloads: counts, the last success, and the file in force. */
function reloadFamilies(out: Exposition, r: ReloadState): void {
  out.family("tsproxy_config_reloads_total", "counter", "Configuration reloads, by result.");
  out.sample("tsproxy_config_reloads_total", { result: "ok" }, r.reloads);
  out.sample("tsproxy_config_reloads_total", { result: "failed" }, r.failures);
  out.family(
    "tsproxy_config_last_reload_successful",
    "gauge",
    "Whether the last reload was applied (1) or refused (0).",
  );
  out.sample("tsproxy_config_last_reload_successful", {}, r.lastSuccessful ? 1 : 0);
  out.family(
    "tsproxy_config_last_reload_success_timestamp_seconds",
    "gauge",
    "When the configuration in force was loaded, in seconds since epoch.",
  );
  out.sample("tsproxy_config_last_reload_success_timestamp_seconds", {}, r.lastSuccess);
  out.family("tsproxy_config_info", "gauge", "The configuration file in force and its SHA-256.");
  out.sample("tsproxy_config_info", { file: r.file, checksum: r.checksum }, 1);
}

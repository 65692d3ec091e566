/**
 * What the admin endpoint adds to nutcracker's counters for one pool: the latency of its requests
 * (read to reply written) and requests and error replies per command. Kept only while metrics are
 * on; the proxy core feeds it from the client connections.
 */
import { emptyHistogram, Histogram, type HistogramSnapshot } from "./histogram.ts";

/** A pool's metrics at one moment (commands by name, only those seen). */
export interface PoolMetricsSnapshot {
  latency: HistogramSnapshot;
  commands: Record<string, number>;
  errors: Record<string, number>;
}

export class PoolMetrics {
  readonly latency = new Histogram();
  /** Requests per command id (the protocol's `cmd`). */
  readonly commands: Float64Array;
  /** Error replies (the server's or the proxy's) per command id. */
  readonly errors: Float64Array;

  constructor(readonly commandNames: readonly string[]) {
    this.commands = new Float64Array(commandNames.length);
    this.errors = new Float64Array(commandNames.length);
  }

  /** A request's reply was written to its client, `ms` after the request was read. */
  replied(cmd: number, ms: number, error: boolean): void {
    this.latency.observe(ms / 1000);
    if (error) this.errors[cmd]++;
  }

  snapshot(): PoolMetricsSnapshot {
    return {
      latency: this.latency.snapshot(),
      commands: byName(this.commandNames, this.commands),
      errors: byName(this.commandNames, this.errors),
    };
  }
}

function byName(names: readonly string[], counts: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  counts.forEach((n, i) => {
    if (n > 0) out[names[i]] = n;
  });
  return out;
}

/** An empty pool snapshot. */
export function emptyPoolMetrics(): PoolMetricsSnapshot {
  return { latency: emptyHistogram(), commands: {}, errors: {} };
}

/** Adds per-command counts of `from` into `into`. */
export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

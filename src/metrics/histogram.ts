/**
 * A fixed-bucket latency histogram, cheap enough to observe every request: one typed array, a
 * short scan from the low end (most proxy latencies fall in the first buckets), no labels or maps
 * on the hot path. Measured against prom-client's Histogram.observe in docs/performance.md.
 */

/** Upper bounds in seconds: tens of microseconds to seconds, with +Inf implied after the last. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** A histogram's counts at one moment: per bucket (not cumulative; the last is +Inf), sum and count. */
export interface HistogramSnapshot {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation (seconds). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }
}

/** An empty snapshot with `buckets` bounds. */
export function emptyHistogram(buckets: number = LATENCY_BUCKETS.length): HistogramSnapshot {
  return { counts: new Array(buckets + 1).fill(0), sum: 0, count: 0 };
}

/** Adds `from` into `into` (same bounds): how worker processes' histograms are summed. */
export function addHistogram(into: HistogramSnapshot, from: HistogramSnapshot): void {
  for (let i = 0; i < into.counts.length; i++) into.counts[i] += from.counts[i];
  into.sum += from.sum;
  into.count += from.count;
}

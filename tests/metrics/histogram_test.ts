import assert from "assert";
import { addHistogram, emptyHistogram, Histogram, LATENCY_BUCKETS } from "../../src/metrics/histogram.ts";

Deno.test("an observation lands in the first bucket whose bound it does not exceed (le: less or equal)", () => {
  const h = new Histogram([0.001, 0.01]);
  for (const v of [0, 0.001, 0.0011, 0.01, 5]) h.observe(v);
  assert.deepEqual(Array.from(h.counts), [2, 2, 1]);
  assert.equal(h.count, 5);
  assert.ok(Math.abs(h.sum - 5.0121) < 1e-12);
});

Deno.test("latency buckets ascend from 10 µs to 10 s", () => {
  assert.equal(LATENCY_BUCKETS[0], 0.00001);
  assert.equal(LATENCY_BUCKETS.at(-1), 10);
  for (let i = 1; i < LATENCY_BUCKETS.length; i++) assert.ok(LATENCY_BUCKETS[i] > LATENCY_BUCKETS[i - 1]);
});

Deno.test("snapshots add up bucket by bucket (how workers' histograms are summed)", () => {
  const a = new Histogram(), b = new Histogram();
  a.observe(0.00002);
  b.observe(0.00002);
  b.observe(3);
  const sum = emptyHistogram();
  addHistogram(sum, a.snapshot());
  addHistogram(sum, b.snapshot());
  assert.equal(sum.count, 3);
  assert.equal(sum.counts[1], 2);
  assert.equal(sum.counts[LATENCY_BUCKETS.indexOf(5)], 1);
  assert.equal(sum.counts.reduce((x, y) => x + y), 3);
});

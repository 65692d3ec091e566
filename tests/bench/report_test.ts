import assert from "assert";
import {
  alignTable,
  type BenchRecord,
  formatOps,
  median,
  perRoundRatio,
  ratioPairs,
  resultDocument,
  type Sample,
  summarizeCase,
} from "../../bench/report.ts";

const s = (round: number, opsPerSec: number | null, cpu: number | null = null, user: number | null = null) =>
  ({ round, opsPerSec, cpuUsPerOp: cpu, userUsPerOp: user }) satisfies Sample;

Deno.test("median of odd and even counts, null for none", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});

Deno.test("ratios pair rounds and skip failed loads", () => {
  const a = [s(0, 100), s(1, null), s(2, 300)];
  const b = [s(0, 50), s(1, 100), s(2, 100)];
  assert.equal(perRoundRatio(a, b), 2.5); // median of 2 and 3; round 1 failed on a
  assert.equal(perRoundRatio([s(0, 10)], [s(1, 10)]), null);
});

Deno.test("ratio columns: nc over direct, then each tsproxy variant over nc", () => {
  assert.deepEqual(ratioPairs(["direct", "nutcracker", "tsproxy", "tsproxy-w2"]), [
    ["nutcracker", "direct"],
    ["tsproxy", "nutcracker"],
    ["tsproxy-w2", "nutcracker"],
  ]);
});

Deno.test("a case's medians, ratios and proxy cpu per request", () => {
  const c = summarizeCase({
    direct: [s(0, 100), s(1, 120)],
    nutcracker: [s(0, 50, 10, 2), s(1, 60, 12, 4)],
    tsproxy: [s(0, 100, 8, 4), s(1, null)],
  }, ["direct", "nutcracker", "tsproxy"]);
  assert.deepEqual(c.ops, { direct: 110, nutcracker: 55, tsproxy: 100 });
  assert.deepEqual(c.ratios, { "nc/direct": 0.5, "tsproxy/nc": 2 });
  assert.deepEqual(c.cpuUsPerOp, { nutcracker: { total: 11, user: 3 }, tsproxy: { total: 8, user: 4 } });
});

Deno.test("ops formatting and table alignment", () => {
  assert.equal(formatOps(null), "-");
  assert.equal(formatOps(9999.6), "10000");
  assert.equal(formatOps(123_456), "123k");
  assert.deepEqual(alignTable([["case", "ops/s"], ["redis get P1", "5k"]]), [
    "case          ops/s",
    "redis get P1     5k",
  ]);
});

Deno.test("the result document carries the printed table and memory lines", () => {
  const r: BenchRecord = {
    settings: { rounds: 1, conns: 50, mcSecs: 1.3, memcachedThreads: 1 },
    targets: ["direct", "nutcracker", "tsproxy"],
    cases: ["mc get P1"],
    samples: {
      "mc get P1": { direct: [s(0, 100_000)], nutcracker: [s(0, 50_000, 10, 1)], tsproxy: [s(0, 60_000)] },
    },
    peakRssKb: { nutcracker: 2048, tsproxy: 102400 },
    idle: {
      tsproxy: { clients: 1000, beforeKb: 100_000, duringKb: 102_000, line: "READY 1000 conns in 0.4s" },
    },
    unavailable: { "tsproxy-w2": "exited with code 1" },
    errors: ["round 1 mc get P1 tsproxy: boom"],
    benchSecs: 12.4,
    logDir: "/tmp/x",
  };
  const doc = resultDocument(r, new Date(0));
  assert.equal(doc.date, "1970-01-01T00:00:00.000Z");
  assert.equal(doc.cases["mc get P1"].ratios["tsproxy/nc"], 1.2);
  const text = doc.lines.join("\n");
  assert.match(text, /^case +direct ops\/s +nutcracker ops\/s +tsproxy ops\/s +nc\/direct +tsproxy\/nc/m);
  assert.match(text, /^mc get P1 +100k +50k +60k +0\.50 +1\.20 +10\.00 \(usr 1\.00\) +-$/m);
  assert.match(text, /^peak RSS tsproxy +100\.0 MiB$/m);
  assert.match(text, /idle 1000 clients +tsproxy +RSS +97\.7 -> +99\.6 MiB \(\+2\.0 KiB\/conn\) READY/);
  assert.match(text, /^not available: tsproxy-w2: exited with code 1$/m);
  assert.match(text, /^ERROR round 1 mc get P1 tsproxy: boom$/m);
  assert.match(text, /^bench time 12s; logs in \/tmp\/x$/m);
});

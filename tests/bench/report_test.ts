import assert from "assert";
import {
  alignTable,
  type BenchRecord,
  formatOps,
  median,
  perRoundRatio,
  ratioPairs,
  renderAb,
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

Deno.test("a ratio of another measure pairs rounds where both are positive", () => {
  const cpu = (x: Sample) => x.cpuUsPerOp;
  const a = [s(0, 1, 3), s(1, 1, 0), s(2, 1, 4)];
  const b = [s(0, 1, 2), s(1, 1, 2), s(2, 1, 2)];
  assert.equal(perRoundRatio(a, b, cpu), 1.75); // median of 1.5 and 2; round 1 read 0 on a
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

Deno.test("tsproxy-b is a target like the others, and an A/B table shows it over tsproxy per case", () => {
  const targets = ["direct", "nutcracker", "tsproxy", "tsproxy-b"];
  const r: BenchRecord = {
    settings: { rounds: 3, conns: 50, mcSecs: 1.3, memcachedThreads: 1, tsproxyBFlags: ["--admin-port=0"] },
    targets,
    cases: ["redis get P1", "mc get P16"],
    samples: {
      "redis get P1": {
        direct: [s(0, 100_000), s(1, 100_000), s(2, 100_000)],
        nutcracker: [s(0, 50_000, 10, 5), s(1, 50_000, 10, 5), s(2, 50_000, 10, 5)],
        tsproxy: [s(0, 60_000, 8, 4), s(1, 50_000, 10, 5), s(2, 40_000, 10, 5)],
        // Per round over tsproxy: ops 1.1, 1.2, 1.5; cpu 0.75, 0.9, 0.8.
        "tsproxy-b": [s(0, 66_000, 6, 3), s(1, 60_000, 9, 4), s(2, 60_000, 8, 4)],
      },
      "mc get P16": {
        direct: [s(0, 100_000)],
        nutcracker: [s(0, 50_000, 10, 5)],
        tsproxy: [s(0, 60_000, 8, 4)],
        "tsproxy-b": [s(0, null)],
      },
    },
    peakRssKb: { nutcracker: 2048, tsproxy: 102400, "tsproxy-b": 98304 },
    idle: {},
    unavailable: {},
    errors: [],
    benchSecs: 30,
    logDir: "/tmp/x",
  };
  const doc = resultDocument(r, new Date(0));
  assert.deepEqual(doc.targets, targets);
  assert.deepEqual(doc.settings.tsproxyBFlags, ["--admin-port=0"]);
  const get = doc.cases["redis get P1"];
  assert.equal(get.ratios["tsproxy-b/nc"], 1.2);
  assert.deepEqual(get.cpuUsPerOp["tsproxy-b"], { total: 8, user: 4 });
  assert.equal(get.ab?.opsPerSec, 1.2);
  assert.equal(get.ab?.cpuUsPerOp, 0.8);
  assert.deepEqual(doc.cases["mc get P16"].ab, { opsPerSec: null, cpuUsPerOp: null });

  const text = doc.lines.join("\n");
  assert.match(
    text,
    /^case +direct ops\/s +nutcracker ops\/s +tsproxy ops\/s +tsproxy-b ops\/s +nc\/direct +tsproxy\/nc +tsproxy-b\/nc +nc cpu us\/op +tsproxy cpu us\/op +tsproxy-b cpu us\/op$/m,
  );
  assert.match(text, /^peak RSS tsproxy-b +96\.0 MiB$/m);
  assert.deepEqual(renderAb(r, doc.cases), [
    "A/B: tsproxy-b (tsproxy + --admin-port=0) over tsproxy, medians of per-round ratios" +
    " (ops/s above 1: tsproxy-b faster; cpu us/op below 1: tsproxy-b cheaper)",
    "case          ops/s  cpu us/op",
    "redis get P1   1.20       0.80",
    "mc get P16        -          -",
  ]);
  assert.ok(text.includes(renderAb(r, doc.cases).join("\n")), "the A/B table is printed");
});

Deno.test("no A/B table or figures unless both tsproxy and tsproxy-b ran", () => {
  const samples = { tsproxy: [s(0, 10, 1)], "tsproxy-b": [s(0, 10, 1)] };
  assert.equal(summarizeCase(samples, ["direct", "tsproxy"]).ab, undefined);
  const r: BenchRecord = {
    settings: { rounds: 1, conns: 50, mcSecs: 1.3, memcachedThreads: 1 },
    targets: ["direct", "nutcracker", "tsproxy"],
    cases: ["mc get P1"],
    samples: { "mc get P1": samples },
    peakRssKb: {},
    idle: {},
    unavailable: {},
    errors: [],
    benchSecs: 1,
    logDir: "/tmp/x",
  };
  const doc = resultDocument(r, new Date(0));
  assert.deepEqual(renderAb(r, doc.cases), []);
  assert.ok(!doc.lines.some((l) => l.startsWith("A/B")));
});

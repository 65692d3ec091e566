import assert from "assert";
import { ALL_CASES, caseLabel, readKnobs } from "../../bench/knobs.ts";
import { parseMcLoadOutput, parseRedisCsv } from "../../bench/loads.ts";
import { buildBatch, buildBatches, mcKey, preloadBatches } from "../../bench/mc_batches.ts";
import { parseMcLoadArgs } from "../../bench/mc_load.ts";
import { statFields, statusKb } from "../../bench/proc_stats.ts";
import { poolsYaml, setsAdminPort, withAdminPort } from "../../bench/targets.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const shape = { keys: 1000, vsize: 3, mgetKeys: 2, pipeline: 2 };

Deno.test("memcache batches know their exact replies", () => {
  assert.equal(mcKey(42), "k:0000000042");
  const set = buildBatch("set", shape, 1);
  assert.equal(text(set.request), "set k:0000000002 0 0 3\r\nxxx\r\nset k:0000000003 0 0 3\r\nxxx\r\n");
  assert.equal(text(set.reply), "STORED\r\nSTORED\r\n");
  const mget = buildBatch("mget", { ...shape, pipeline: 1 }, 0);
  assert.equal(text(mget.request), "get k:0000000000 k:0000000001\r\n");
  assert.equal(text(mget.reply), "VALUE k:0000000000 0 3\r\nxxx\r\nVALUE k:0000000001 0 3\r\nxxx\r\nEND\r\n");
  assert.equal(buildBatches("get", { ...shape, pipeline: 16 }).length, 62);
  assert.equal(buildBatches("get", { ...shape, pipeline: 1 }).length, 64);
  const pre = preloadBatches({ ...shape, keys: 150 });
  assert.deepEqual(pre.map((b) => text(b.reply).length / 8), [100, 50]);
});

Deno.test("mc_load's command line is bounded", () => {
  const o = parseMcLoadArgs(["--port", "11211", "--op", "mget", "--pipeline", "16", "--seconds", "1.3"]);
  assert.equal(o.op, "mget");
  assert.equal(o.shape.pipeline, 16);
  assert.equal(o.seconds, 1.3);
  assert.throws(() => parseMcLoadArgs(["--port", "1", "--conns", "9999"]), /--conns/);
  assert.throws(() => parseMcLoadArgs(["--host", "10.0.0.1"]), /bad argument/);
  assert.throws(() => parseMcLoadArgs([]), /--port/);
});

Deno.test("load outputs: redis-benchmark csv and mc_load json", () => {
  const csv = '"test","rps","avg_latency_ms"\n"GET","61349.69","0.700"\n';
  assert.equal(parseRedisCsv(csv, "get"), 61349.69);
  assert.equal(parseRedisCsv(csv, "set"), null);
  assert.deepEqual(parseMcLoadOutput('{"ops":10,"ops_per_s":5,"cpu_s":0.1}\n'), {
    opsPerSec: 5,
    requests: 10,
    loaderCpuSecs: 0.1,
  });
  assert.deepEqual(parseMcLoadOutput('{"error":"stalled"}'), { error: "stalled" });
  assert.ok("error" in parseMcLoadOutput("Killed"));
});

Deno.test("knobs: defaults, bounds and case selection", () => {
  const k = readKnobs({});
  assert.equal(k.rounds, 5);
  assert.equal(k.cases.length, ALL_CASES.length);
  assert.equal(k.workers, null);
  assert.deepEqual(ALL_CASES.map(caseLabel).slice(-2), ["mc get P16", "mc mget10 P1"]);
  const sel = readKnobs({ CASES: "mc mget10 P1, redis get P16", SECS: "0.5", TSPROXY_WORKERS: "2" });
  assert.deepEqual(sel.cases.map(caseLabel), ["redis get P16", "mc mget10 P1"]);
  assert.equal(sel.mcSecs, 0.5);
  assert.equal(sel.workers, 2);
  assert.throws(() => readKnobs({ ROUNDS: "0" }), /ROUNDS/);
  assert.throws(() => readKnobs({ CASES: "mc get P2" }), /unknown mc get P2/);
});

Deno.test("TSPROXY_B_FLAGS: unset or blank adds no target; words split on whitespace; bounded, flag first", () => {
  assert.equal(readKnobs({}).bFlags, null);
  assert.equal(readKnobs({ TSPROXY_B_FLAGS: " \t " }).bFlags, null);
  assert.deepEqual(readKnobs({ TSPROXY_B_FLAGS: "--admin-port=0" }).bFlags, ["--admin-port=0"]);
  assert.deepEqual(readKnobs({ TSPROXY_B_FLAGS: " --workers\t2  -m 1024\n" }).bFlags, [
    "--workers",
    "2",
    "-m",
    "1024",
  ]);
  assert.equal(readKnobs({ TSPROXY_B_FLAGS: Array(16).fill("-v").join(" ") }).bFlags?.length, 16);
  assert.throws(
    () => readKnobs({ TSPROXY_B_FLAGS: Array(17).fill("-v").join(" ") }),
    /^Error: TSPROXY_B_FLAGS=.*: at most 16 words$/,
  );
  // An operand first: tsproxy would skip it and run a B identical to A.
  assert.throws(
    () => readKnobs({ TSPROXY_B_FLAGS: "admin-port=0" }),
    /^Error: TSPROXY_B_FLAGS=admin-port=0: must start with a flag/,
  );
});

Deno.test("each tsproxy target gets its own admin port unless its flags set one", () => {
  assert.deepEqual(withAdminPort([], 4000), ["--admin-port=4000"]);
  assert.deepEqual(withAdminPort(["--workers", "2"], 4000), ["--workers", "2", "--admin-port=4000"]);
  for (
    const flags of [["--admin-port=0"], ["-v", "5", "--admin-port", "0"], ["--admin-p=0"], ["--admin-po=9"]]
  ) {
    assert.ok(setsAdminPort(flags), flags.join(" "));
    assert.deepEqual(withAdminPort(flags, 4000), flags);
  }
  // --admin-addr alone, an abbreviation as ambiguous as `--admin-` or a word after `--` leave it unset.
  for (const flags of [["--admin-addr=127.0.0.2"], ["--admin-=0"], ["--", "--admin-port=0"]]) {
    assert.ok(!setsAdminPort(flags), flags.join(" "));
    assert.deepEqual(withAdminPort(flags, 4000), [...flags, "--admin-port=4000"]);
  }
});

Deno.test("/proc parsing and the pools YAML", () => {
  const f = statFields("123 (deno (x) y) S 1 2 3 4 5 6 7 8 9 10 250 40 0");
  assert.equal(f[1], "1");
  assert.equal(f[11], "250");
  assert.equal(f[12], "40");
  assert.equal(statusKb("Name:\tdeno\nVmHWM:\t  1234 kB\nVmRSS:\t  99 kB\n", "VmHWM"), 1234);
  const pool = (name: string, listen: number, redis: string, server: number) =>
    `${name}:\n  listen: 127.0.0.1:${listen}\n  hash: fnv1a_64\n  distribution: ketama\n${redis}` +
    `  server_connections: 1\n  auto_eject_hosts: false\n  timeout: 4000\n  servers:\n   - 127.0.0.1:${server}:1\n`;
  assert.equal(
    poolsYaml(1, 2, 3, 4),
    pool("redis_pool", 1, "  redis: true\n", 3) + pool("mc_pool", 2, "", 4),
  );
});

import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { freePort, type ProxyProc, readStats, startTsproxy } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import { type Family, needsPromParser, parseExposition, valueOf } from "../support/prom_parse.ts";

const COUNTERS = [
  "tsproxy_connections",
  "tsproxy_pool_client_eof",
  "tsproxy_pool_client_err",
  "tsproxy_pool_server_ejects",
  "tsproxy_pool_forward_error",
  "tsproxy_pool_fragments",
  "tsproxy_server_eof",
  "tsproxy_server_err",
  "tsproxy_server_timedout",
  "tsproxy_server_requests",
  "tsproxy_server_request_bytes",
  "tsproxy_server_responses",
  "tsproxy_server_response_bytes",
  "tsproxy_pool_commands",
  "tsproxy_pool_command_errors",
  "process_cpu_seconds",
];
const GAUGES = [
  "tsproxy_build_info",
  "tsproxy_open_connections",
  "tsproxy_processes_listening",
  "tsproxy_pool_client_connections",
  "tsproxy_server_connections",
  "tsproxy_server_ejected_at_seconds",
  "tsproxy_server_ejected",
  "tsproxy_server_in_queue",
  "tsproxy_server_in_queue_bytes",
  "tsproxy_server_out_queue",
  "tsproxy_server_out_queue_bytes",
  "process_resident_memory_bytes",
  "tsproxy_heap_used_bytes",
  "tsproxy_heap_total_bytes",
  "process_open_fds",
  "process_max_fds",
  "process_start_time_seconds",
];
const HISTOGRAMS = [
  "tsproxy_request_duration_seconds",
  "tsproxy_server_duration_seconds",
  "tsproxy_event_loop_lag_seconds",
];

interface Setup {
  proxy: ProxyProc;
  admin: string;
  mcPort: number;
  redisPort: number;
  mc: FakeMemcached;
  rd: FakeRedis;
}

/** A memcache pool and a redis pool on fakes, behind tsproxy with its admin endpoint on. */
async function withProxy(extraYaml: string, fn: (s: Setup) => Promise<void>): Promise<void> {
  const mc = await FakeMemcached.start();
  const rd = await FakeRedis.start();
  const mcPort = freePort(), redisPort = freePort(), adminPort = freePort();
  const yaml = `mc:\n  listen: 127.0.0.1:${mcPort}\n${extraYaml}  servers:\n   - ${mc.address}:1 m1\n` +
    `rd:\n  listen: 127.0.0.1:${redisPort}\n  redis: true\n  servers:\n   - ${rd.address}:1 r1\n`;
  const proxy = await startTsproxy(yaml, [mcPort, redisPort, adminPort], ["--admin-port", String(adminPort)]);
  try {
    await fn({ proxy, admin: `http://127.0.0.1:${adminPort}`, mcPort, redisPort, mc, rd });
  } finally {
    await proxy.stop();
    await mc.close();
    await rd.close();
  }
}

async function scrape(admin: string): Promise<{ text: string; families: Family[] }> {
  const res = await fetch(`${admin}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await res.text();
  return { text, families: await parseExposition(text) };
}

/** Sends `requests` and reads `n` replies. */
async function exchange(port: number, requests: string, n: number, redis: boolean): Promise<string> {
  const w = await Wire.connect(port);
  try {
    await w.send(requests);
    const r = await w.replies(redis ? new RedisReplyParser() : new MemcacheReplyParser(), n);
    assert.equal(r.replies.length, n);
    return r.replies.map((b) => new TextDecoder().decode(b)).join("");
  } finally {
    w.close();
  }
}

function checkHistogram(families: Family[], name: string): void {
  const family = families.find((f) => f.name === name);
  assert.ok(family, name);
  const series = new Map<string, { le: number; v: number }[]>();
  for (const s of family.samples.filter((s) => s.name === `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    if (!series.has(key)) series.set(key, []);
    series.get(key)!.push({ le: le === "+Inf" ? Infinity : Number(le), v: s.value });
  }
  assert.ok(series.size > 0, `${name} has series`);
  for (const [key, buckets] of series) {
    const labels = JSON.parse(key);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i].le > buckets[i - 1].le, `${name} ${key}: bounds ascend`);
      assert.ok(buckets[i].v >= buckets[i - 1].v, `${name} ${key}: counts are monotone`);
    }
    assert.equal(buckets.at(-1)!.le, Infinity);
    assert.equal(
      buckets.at(-1)!.v,
      valueOf(families, `${name}_count`, labels),
      `${name} ${key}: +Inf = count`,
    );
    assert.ok(buckets[0].le <= 0.00001, "the first bucket resolves tens of microseconds");
  }
}

Deno.test({
  name:
    "/metrics: every family has its type, counters grow by exactly the traffic sent, histograms count every request",
  ...needsPromParser(),
  async fn() {
    await withProxy("", async ({ admin, mcPort, redisPort }) => {
      const before = (await scrape(admin)).families;
      const types = new Map(before.map((f) => [f.name, f.type]));
      for (const n of COUNTERS) assert.equal(types.get(n), "counter", n);
      for (const n of GAUGES) assert.equal(types.get(n), "gauge", n);
      for (const n of HISTOGRAMS) assert.equal(types.get(n), "histogram", n);

      // memcache: 2 sets, 3 gets (one split over... a single server: no fragments), 1 incr that fails.
      await exchange(
        mcPort,
        "set a 0 0 1\r\n1\r\nset b 0 0 1\r\nx\r\nget a\r\nget a b\r\nget zz\r\nincr b 1\r\n",
        6,
        false,
      );
      // redis: SET, GET, MGET, PING (answered by the proxy), and an error reply from the server.
      const rd = await exchange(
        redisPort,
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" +
          "*3\r\n$4\r\nMGET\r\n$1\r\nk\r\n$1\r\nq\r\n*1\r\n$4\r\nPING\r\n" +
          "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n",
        5,
        true,
      );
      assert.match(rd, /^\+OK\r\n\$1\r\nv\r\n\*2\r\n\$1\r\nv\r\n\$-1\r\n\+PONG\r\n-ERR/);
      const after = (await scrape(admin)).families;
      const delta = (name: string, labels: Record<string, string> = {}) =>
        valueOf(after, name, labels) - valueOf(before, name, labels);

      const mc = { pool: "mc" }, r = { pool: "rd" };
      assert.deepEqual(
        ["set", "get", "incr"].map((command) => delta("tsproxy_pool_commands_total", { ...mc, command })),
        [2, 3, 1],
      );
      assert.equal(delta("tsproxy_pool_command_errors_total", { ...mc, command: "incr" }), 1);
      assert.equal(delta("tsproxy_pool_command_errors_total", { ...mc, command: "get" }), 0);
      assert.deepEqual(
        ["set", "get", "mget", "ping", "incr"].map((command) =>
          delta("tsproxy_pool_commands_total", { ...r, command })
        ),
        [1, 1, 1, 1, 1],
      );
      assert.equal(delta("tsproxy_pool_command_errors_total", { ...r, command: "incr" }), 1);
      // Every request is in its pool's histogram; the server's sees those forwarded (not PING).
      assert.equal(delta("tsproxy_request_duration_seconds_count", mc), 6);
      assert.equal(delta("tsproxy_request_duration_seconds_count", r), 5);
      assert.equal(delta("tsproxy_server_duration_seconds_count", { ...r, server: "r1" }), 4);
      assert.equal(delta("tsproxy_server_requests_total", { ...r, server: "r1" }), 4);
      assert.equal(delta("tsproxy_server_responses_total", { ...r, server: "r1" }), 4);
      // The memcache gets may travel as one batch; each is still its own request and round trip.
      assert.equal(delta("tsproxy_server_duration_seconds_count", { ...mc, server: "m1" }), 6);
      assert.ok(delta("tsproxy_request_duration_seconds_sum", mc) > 0);
      assert.equal(delta("tsproxy_pool_client_eof_total", mc), 1);
      assert.equal(delta("tsproxy_pool_client_err_total", mc), 0);
      for (const n of HISTOGRAMS) checkHistogram(after, n);
      assert.equal(valueOf(after, "tsproxy_server_ejected", { ...mc, server: "m1" }), 0);
      assert.ok(valueOf(after, "process_resident_memory_bytes") > 1e6);
      assert.ok(valueOf(after, "process_open_fds") > 0);
      const started = valueOf(after, "process_start_time_seconds");
      assert.ok(started > 1.7e9 && started <= Date.now() / 1000);
    });
  },
});

Deno.test({
  name: "/stats serves the stats port's document; /healthz answers 200; unknown paths 404, other methods 405",
  ...needsPromParser(),
  async fn() {
    await withProxy("", async ({ admin, proxy }) => {
      const viaHttp = await (await fetch(`${admin}/stats`)).json();
      const viaPort = await readStats(proxy.statsPort);
      for (const doc of [viaHttp, viaPort]) {
        delete doc.uptime;
        delete doc.timestamp;
        delete doc.total_connections; // the stats port's own connection is counted in one of them
        delete doc.curr_connections;
      }
      assert.deepEqual(viaHttp, viaPort);
      const health = await fetch(`${admin}/healthz`);
      assert.equal([health.status, await health.text()].join(" "), "200 ok\n");
      const missing = await fetch(`${admin}/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
      const post = await fetch(`${admin}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
      await post.body?.cancel();
    });
  },
});

Deno.test({
  name:
    "/ready answers 503 with the reason once every server of a pool is ejected, and 200 again when it is back",
  ...needsPromParser(),
  async fn() {
    const yaml = "  auto_eject_hosts: true\n  server_failure_limit: 1\n  server_retry_timeout: 1500\n";
    await withProxy(yaml, async ({ admin, mcPort, mc }) => {
      const ready = async () => {
        const res = await fetch(`${admin}/ready`);
        return `${res.status} ${await res.text()}`;
      };
      assert.equal(await ready(), "200 ready\n");
      await mc.refuse();
      const reply = await exchange(mcPort, "get a\r\n", 1, false);
      assert.match(reply, /^SERVER_ERROR /);
      assert.equal(await ready(), "503 not ready:\n- pool mc: all 1 servers ejected\n");
      const m = (await scrape(admin)).families;
      assert.equal(valueOf(m, "tsproxy_server_ejected", { pool: "mc", server: "m1" }), 1);
      assert.ok(valueOf(m, "tsproxy_server_ejected_at_seconds", { pool: "mc", server: "m1" }) > 1.7e9);
      assert.equal((await fetch(`${admin}/healthz`)).status, 200, "alive though not ready");
      await mc.restore();
      // Ejected servers come back when a request is routed after their retry time.
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        await exchange(mcPort, "get a\r\n", 1, false);
        if ((await ready()).startsWith("200")) return;
      }
      assert.fail(`still not ready: ${await ready()}`);
    });
  },
});

import assert from "assert";
import { metricsText } from "../../src/metrics/exposition.ts";
import { Histogram } from "../../src/metrics/histogram.ts";
import { PoolStats, ServerStats } from "../../src/stats/counters.ts";
import type { StatsSnapshot } from "../../src/stats/snapshot.ts";
import { buildView } from "../../src/top/model.ts";
import { parsePromText } from "../../src/top/prom_text.ts";
import { needsPromParser, parseExposition, valueOf } from "../support/prom_parse.ts";

const BUILD = { version: "0.1.0", deno: "2.0.0", v8: "12" };

function snapshot(serverName: string): StatsSnapshot {
  const latency = new Histogram();
  latency.observe(0.0003);
  latency.observe(0.02);
  const server = new ServerStats();
  server.requests = 7;
  server.server_ejected_at = 1_700_000_000_500_000;
  return {
    total_connections: 9,
    curr_connections: 3,
    pools: [{
      name: "alpha",
      stats: new PoolStats(),
      metrics: { latency: latency.snapshot(), commands: { get: 5, set: 2 }, errors: { set: 1 } },
      pinned: { open: 2, refused: 3 },
      sentinel: null,
      servers: [{
        name: serverName,
        stats: server,
        ejected: 1,
        latency: latency.snapshot(),
        address: "127.0.0.1:11211",
        switches: 0,
        replicas: [],
      }],
    }],
    processes: 1,
    listening: 1,
    health: [],
    reload: null,
  };
}

Deno.test({
  name: "label values are escaped, so any server name reads back exactly",
  ...needsPromParser(),
  async fn() {
    const name = 'we"ird\\name\nx';
    const families = await parseExposition(metricsText(snapshot(name), BUILD));
    assert.equal(valueOf(families, "tsproxy_server_requests_total", { pool: "alpha", server: name }), 7);
  },
});

Deno.test({
  name: "nutcracker's counters end in _total, the ejection time is in seconds, histograms are cumulative",
  ...needsPromParser(),
  async fn() {
    const text = metricsText(snapshot("s1"), BUILD);
    assert.match(text, /^# TYPE tsproxy_server_in_queue gauge$/m);
    assert.match(text, /^# TYPE tsproxy_server_requests_total counter$/m);
    const f = await parseExposition(text);
    const s = { pool: "alpha", server: "s1" };
    assert.equal(valueOf(f, "tsproxy_server_ejected_at_seconds", s), 1_700_000_000.5);
    assert.equal(valueOf(f, "tsproxy_server_ejected", s), 1);
    assert.equal(valueOf(f, "tsproxy_pinned_connections", { pool: "alpha" }), 2);
    assert.equal(valueOf(f, "tsproxy_pinned_refused_total", { pool: "alpha" }), 3);
    assert.equal(valueOf(f, "tsproxy_request_duration_seconds_bucket", { pool: "alpha", le: "0.00025" }), 0);
    assert.equal(valueOf(f, "tsproxy_request_duration_seconds_bucket", { pool: "alpha", le: "0.0005" }), 1);
    assert.equal(valueOf(f, "tsproxy_request_duration_seconds_bucket", { pool: "alpha", le: "+Inf" }), 2);
    assert.equal(valueOf(f, "tsproxy_pool_command_errors_total", { pool: "alpha", command: "set" }), 1);
    assert.equal(valueOf(f, "tsproxy_build_info", { ...BUILD, nutcracker: "0.5.0" }), 1);
    assert.equal(valueOf(f, "tsproxy_open_connections"), 3);
  },
});

Deno.test("without metrics (admin off) only nutcracker's counters are exposed", () => {
  const snap = snapshot("s1");
  snap.pools[0].metrics = null;
  snap.pools[0].servers[0].latency = null;
  const text = metricsText(snap, BUILD);
  assert.doesNotMatch(text, /duration_seconds|commands_total/);
  assert.match(text, /tsproxy_server_requests_total\{pool="alpha",server="s1"\} 7/);
});

/** Pool "alpha" as above, plus "ha" (a sentinel, m1 moved once with two replicas, m2) and "reads" (replicas only). */
function haSnapshot(): StatsSnapshot {
  const snap = snapshot("s1");
  const replica = (name: string, inSync: number, requests: number, responses: number) => {
    const stats = new ServerStats();
    Object.assign(stats, { requests, responses, server_err: 1, server_eof: 2, server_timedout: 3 });
    return { name, stats, inSync, ejected: 1 - inSync };
  };
  const server = (
    name: string,
    address: string,
    switches: number,
    replicas: ReturnType<typeof replica>[],
  ) => ({
    name,
    stats: new ServerStats(),
    ejected: 0,
    latency: null,
    address,
    switches,
    replicas,
  });
  const pool = (name: string, sentinel: StatsSnapshot["pools"][number]["sentinel"]) => ({
    name,
    stats: new PoolStats(),
    metrics: null,
    pinned: { open: 0, refused: 0 },
    sentinel,
  });
  snap.pools.push(
    {
      ...pool("ha", { connected: 1, address: "10.0.0.9:26379" }),
      servers: [
        server("m1", "10.0.0.2:6380", 1, [
          replica("10.0.0.3:6379", 1, 10, 9),
          replica("10.0.0.4:6379", 0, 0, 0),
        ]),
        server("m2", "10.0.0.5:6379", 0, []),
      ],
    },
    {
      ...pool("reads", null),
      servers: [server("r1", "10.0.1.1:6379", 0, [replica("10.0.1.2:6379", 1, 4, 4)])],
    },
  );
  return snap;
}

/** The lines of the families named, in text order. */
function linesOf(text: string, names: RegExp): string[] {
  return text.split("\n").filter((l) => names.test(l.replace(/^# (HELP|TYPE) /, "")));
}

const HA_NAMES =
  /^tsproxy_(server_address_info|server_switches_total|sentinel_connected|replica_[a-z_]+)[{ ]/;

Deno.test("pools without a sentinel or replicas expose none of the HA families", () => {
  assert.deepEqual(linesOf(metricsText(snapshot("s1"), BUILD), HA_NAMES), []);
});

Deno.test("HA pools: where each server is, its switches, the sentinel, each replica; each family declared once", () => {
  const text = metricsText(haSnapshot(), BUILD);
  assert.deepEqual(linesOf(text, HA_NAMES), [
    "# HELP tsproxy_server_address_info Where the server is now: Sentinel may have moved it.",
    "# TYPE tsproxy_server_address_info gauge",
    'tsproxy_server_address_info{pool="ha",server="m1",address="10.0.0.2:6380"} 1',
    'tsproxy_server_address_info{pool="ha",server="m2",address="10.0.0.5:6379"} 1',
    'tsproxy_server_address_info{pool="reads",server="r1",address="10.0.1.1:6379"} 1',
    "# HELP tsproxy_server_switches_total Failovers that moved the server.",
    "# TYPE tsproxy_server_switches_total counter",
    'tsproxy_server_switches_total{pool="ha",server="m1"} 1',
    'tsproxy_server_switches_total{pool="ha",server="m2"} 0',
    'tsproxy_server_switches_total{pool="reads",server="r1"} 0',
    "# HELP tsproxy_sentinel_connected Processes connected to a sentinel of the pool (the sentinel label: the one in use, empty if none).",
    "# TYPE tsproxy_sentinel_connected gauge",
    'tsproxy_sentinel_connected{pool="ha",sentinel="10.0.0.9:26379"} 1',
    "# HELP tsproxy_replica_requests_total Requests sent to the replica.",
    "# TYPE tsproxy_replica_requests_total counter",
    'tsproxy_replica_requests_total{pool="ha",server="m1",replica="10.0.0.3:6379"} 10',
    'tsproxy_replica_requests_total{pool="ha",server="m1",replica="10.0.0.4:6379"} 0',
    'tsproxy_replica_requests_total{pool="reads",server="r1",replica="10.0.1.2:6379"} 4',
    "# HELP tsproxy_replica_responses_total Responses read from the replica.",
    "# TYPE tsproxy_replica_responses_total counter",
    'tsproxy_replica_responses_total{pool="ha",server="m1",replica="10.0.0.3:6379"} 9',
    'tsproxy_replica_responses_total{pool="ha",server="m1",replica="10.0.0.4:6379"} 0',
    'tsproxy_replica_responses_total{pool="reads",server="r1",replica="10.0.1.2:6379"} 4',
    "# HELP tsproxy_replica_errors_total Errors, eofs and timeouts on connections to the replica.",
    "# TYPE tsproxy_replica_errors_total counter",
    'tsproxy_replica_errors_total{pool="ha",server="m1",replica="10.0.0.3:6379"} 6',
    'tsproxy_replica_errors_total{pool="ha",server="m1",replica="10.0.0.4:6379"} 6',
    'tsproxy_replica_errors_total{pool="reads",server="r1",replica="10.0.1.2:6379"} 6',
    "# HELP tsproxy_replica_in_sync Processes in which the replica is in sync with its server, and read from (0 or 1 for one).",
    "# TYPE tsproxy_replica_in_sync gauge",
    'tsproxy_replica_in_sync{pool="ha",server="m1",replica="10.0.0.3:6379"} 1',
    'tsproxy_replica_in_sync{pool="ha",server="m1",replica="10.0.0.4:6379"} 0',
    'tsproxy_replica_in_sync{pool="reads",server="r1",replica="10.0.1.2:6379"} 1',
    "# HELP tsproxy_replica_ejected Processes in which the replica is ejected right now (0 or 1 for one).",
    "# TYPE tsproxy_replica_ejected gauge",
    'tsproxy_replica_ejected{pool="ha",server="m1",replica="10.0.0.3:6379"} 0',
    'tsproxy_replica_ejected{pool="ha",server="m1",replica="10.0.0.4:6379"} 1',
    'tsproxy_replica_ejected{pool="reads",server="r1",replica="10.0.1.2:6379"} 0',
  ]);
  // The plain pool's lines are as they were without the HA pools.
  const alpha = (t: string) => t.split("\n").filter((l) => l.includes('pool="alpha"'));
  assert.deepEqual(alpha(text), alpha(metricsText(snapshot("s1"), BUILD)));
});

Deno.test("HA families: no sentinel connected is an empty sentinel label; no replicas, no replica families", () => {
  const snap = haSnapshot();
  snap.pools[1].sentinel = { connected: 0, address: null };
  snap.pools[1].servers[0].replicas = [];
  snap.pools.pop();
  const text = metricsText(snap, BUILD);
  assert.match(text, /^tsproxy_sentinel_connected\{pool="ha",sentinel=""\} 0$/m);
  assert.doesNotMatch(text, /tsproxy_replica_/);
  assert.match(text, /^tsproxy_server_address_info\{pool="ha",server="m1",address="10\.0\.0\.2:6380"\} 1$/m);
});

Deno.test("top reads an exposition with HA pools strictly, and sees only the servers as servers", () => {
  const view = buildView({
    families: parsePromText(metricsText(haSnapshot(), BUILD)),
    monoMs: 0,
    wallSeconds: 0,
  });
  assert.deepEqual(view.pools.map((p) => [p.name, p.servers.map((s) => s.name)]), [
    ["alpha", ["s1"]],
    ["ha", ["m1", "m2"]],
    ["reads", ["r1"]],
  ]);
});

Deno.test({
  name: "the reference parser reads the HA families",
  ...needsPromParser(),
  async fn() {
    const f = await parseExposition(metricsText(haSnapshot(), BUILD));
    const r = { pool: "ha", server: "m1", replica: "10.0.0.3:6379" };
    assert.equal(valueOf(f, "tsproxy_replica_requests_total", r), 10);
    assert.equal(valueOf(f, "tsproxy_replica_errors_total", r), 6);
    assert.equal(valueOf(f, "tsproxy_server_switches_total", { pool: "ha", server: "m1" }), 1);
    assert.equal(valueOf(f, "tsproxy_sentinel_connected", { pool: "ha", sentinel: "10.0.0.9:26379" }), 1);
    assert.equal(
      valueOf(f, "tsproxy_server_address_info", { pool: "reads", server: "r1", address: "10.0.1.1:6379" }),
      1,
    );
  },
});

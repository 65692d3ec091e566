import assert from "assert";
import { metricsText } from "../../src/metrics/exposition.ts";
import { Histogram } from "../../src/metrics/histogram.ts";
import { PoolStats, ServerStats } from "../../src/stats/counters.ts";
import type { StatsSnapshot } from "../../src/stats/snapshot.ts";
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
      servers: [{ name: serverName, stats: server, ejected: 1, latency: latency.snapshot() }],
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

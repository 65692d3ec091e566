import assert from "assert";
import { buildView, counterRate, histogramQuantile, type Scrape } from "../../src/top/model.ts";
import { parsePromText } from "../../src/top/prom_text.ts";

const T0 = 1_700_000_000;

function scrape(lines: string[], monoMs: number, wallSeconds = T0): Scrape {
  return { families: parsePromText(lines.join("\n") + "\n"), monoMs, wallSeconds };
}

/** A histogram's lines: cumulative counts by bound, +Inf last. */
function histogram(name: string, labels: string, cumulative: [string, number][]): string[] {
  const count = cumulative[cumulative.length - 1][1];
  return [
    ...cumulative.map(([le, n]) => `${name}_bucket{${labels},le="${le}"} ${n}`),
    `${name}_sum{${labels}} 0`,
    `${name}_count{${labels}} ${count}`,
  ];
}

/** One pool "alpha" with servers s1 (live) and s2 (ejected), its counters at `n` times a base. */
function alpha(n: number, latency: [string, number][]): string[] {
  const server = (s: string, lines: Record<string, number>) =>
    Object.entries(lines).map(([name, v]) => `tsproxy_server_${name}{pool="alpha",server="${s}"} ${v}`);
  return [
    "# TYPE tsproxy_pool_commands_total counter",
    `tsproxy_pool_commands_total{pool="alpha",command="get"} ${100 * n}`,
    `tsproxy_pool_commands_total{pool="alpha",command="set"} ${50 * n}`,
    "# TYPE tsproxy_pool_command_errors_total counter",
    `tsproxy_pool_command_errors_total{pool="alpha",command="get"} ${4 * n}`,
    "# TYPE tsproxy_pool_forward_error_total counter",
    `tsproxy_pool_forward_error_total{pool="alpha"} ${2 * n}`,
    "# TYPE tsproxy_pool_client_connections gauge",
    'tsproxy_pool_client_connections{pool="alpha"} 7',
    "# TYPE tsproxy_request_duration_seconds histogram",
    ...histogram("tsproxy_request_duration_seconds", 'pool="alpha"', latency),
    ...server("s1", {
      ejected: 0,
      connections: 2,
      in_queue: 1,
      out_queue: 3,
      in_queue_bytes: 10,
      out_queue_bytes: 30,
      requests_total: 80 * n,
      eof_total: n,
      err_total: 2 * n,
      timedout_total: 3 * n,
      request_bytes_total: 1000 * n,
      response_bytes_total: 5000 * n,
    }),
    ...server("s2", { ejected: 1, connections: 0, in_queue: 0, out_queue: 0, requests_total: 9 }),
  ];
}

Deno.test("a quantile is interpolated linearly within the bucket holding its rank, from 0 in the first", () => {
  const buckets = [{ le: 1, count: 10 }, { le: 2, count: 30 }, { le: Infinity, count: 30 }];
  assert.equal(histogramQuantile(0.5, buckets), 1.25); // rank 15: 5 of the 20 between 1 and 2
  assert.equal(histogramQuantile(0.1, buckets), 0.3); // rank 3: 3 of the 10 between 0 and 1
  assert.equal(histogramQuantile(1, buckets), 2);
});

Deno.test("a quantile whose rank is in the +Inf bucket is the highest finite bound", () => {
  assert.equal(
    histogramQuantile(0.99, [{ le: 0.5, count: 1 }, { le: 10, count: 2 }, { le: Infinity, count: 50 }]),
    10,
  );
});

Deno.test("buckets in any order are sorted by bound, and counts that dip are evened out", () => {
  const buckets = [{ le: Infinity, count: 4 }, { le: 2, count: 3 }, { le: 1, count: 4 }];
  assert.equal(histogramQuantile(0.5, buckets), 0.5); // 2 is read as 4: rank 2 of 4 between 0 and 1
});

Deno.test("a histogram without observations or without a +Inf bucket has no quantile", () => {
  assert.equal(histogramQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]), undefined);
  assert.equal(histogramQuantile(0.5, [{ le: 1, count: 3 }, { le: 2, count: 4 }]), undefined);
});

Deno.test("a counter's rate is its growth per second, and one that went down restarted from 0", () => {
  assert.equal(counterRate(150, 100, 2), 25);
  assert.equal(counterRate(30, 100, 2), 15);
});

Deno.test("a pool's rates, latency, queue and state come from the growth between two scrapes", () => {
  const before = scrape(alpha(1, [["0.001", 10], ["0.01", 20], ["+Inf", 20]]), 1000);
  // In the 2 s between: 20 requests, 10 under 1 ms, 10 more under 10 ms.
  const after = scrape(alpha(3, [["0.001", 20], ["0.01", 40], ["+Inf", 40]]), 3000);
  const [pool] = buildView(after, before).pools;
  assert.equal(pool.name, "alpha");
  assert.equal(pool.reqRate, 150); // (450 - 150) / 2
  assert.equal(pool.errRate, 6); // command errors (8 / 2) + forward errors (4 / 2)
  assert.equal(pool.p50, 0.001);
  assert.ok(Math.abs(pool.p99! - 0.00982) < 1e-12, String(pool.p99)); // rank 19.8: 9.8 of the 10 in 1..10 ms
  assert.deepEqual([pool.live, pool.ejected, pool.queue, pool.queueBytes, pool.connections], [
    1,
    1,
    4,
    40,
    7,
  ]);
  assert.deepEqual([pool.sentRate, pool.recvRate], [1000, 5000]);
});

Deno.test("each server row has its state, its rates, its errors as eof + err + timedout, queue and connections; no latency without requests", () => {
  const before = scrape(alpha(1, [["+Inf", 0]]), 0);
  const after = scrape(alpha(2, [["+Inf", 0]]), 1000);
  const [s1, s2] = buildView(after, before).pools[0].servers;
  assert.deepEqual(s1, {
    name: "s1",
    ejected: false,
    reqRate: 80,
    errRate: 6,
    p50: undefined,
    p99: undefined,
    queue: 4,
    queueBytes: 40,
    connections: 2,
    sentRate: 1000,
    recvRate: 5000,
  });
  assert.equal(s2.name, "s2");
  assert.equal(s2.ejected, true);
  assert.equal(s2.reqRate, 0);
  assert.equal(s2.queueBytes, undefined); // not served: shown as "-"
});

Deno.test("with no request in the interval a pool has no latency, though earlier requests had one", () => {
  const latency: [string, number][] = [["0.001", 5], ["+Inf", 5]];
  const view = buildView(scrape(alpha(1, latency), 2000), scrape(alpha(1, latency), 1000));
  assert.equal(view.pools[0].reqRate, 0);
  assert.equal(view.pools[0].p50, undefined);
  assert.equal(view.pools[0].p99, undefined);
});

Deno.test("the first scrape has gauges but no rates and no latency", () => {
  const [pool] = buildView(scrape(alpha(1, [["0.001", 5], ["+Inf", 5]]), 1000)).pools;
  assert.equal(pool.reqRate, undefined);
  assert.equal(pool.errRate, undefined);
  assert.equal(pool.p50, undefined);
  assert.equal(pool.connections, 7);
  assert.equal(pool.servers[0].queue, 4);
});

Deno.test("a labelled series that appears between two scrapes counted from 0", () => {
  const before = scrape([
    "# TYPE tsproxy_pool_client_connections gauge",
    'tsproxy_pool_client_connections{pool="p"} 1',
  ], 0);
  const after = scrape([
    "# TYPE tsproxy_pool_client_connections gauge",
    'tsproxy_pool_client_connections{pool="p"} 1',
    "# TYPE tsproxy_pool_command_errors_total counter",
    'tsproxy_pool_command_errors_total{pool="p",command="get"} 3',
  ], 1000);
  const [pool] = buildView(after, before).pools;
  assert.equal(pool.errRate, 3);
  assert.equal(pool.reqRate, 0);
});

Deno.test("a proxy restarted between two scrapes has the rates and latency of its new counters", () => {
  const before = scrape(alpha(10, [["0.01", 100], ["+Inf", 100]]), 0);
  const after = scrape(alpha(1, [["0.001", 4], ["+Inf", 4]]), 1000);
  const [pool] = buildView(after, before).pools;
  assert.equal(pool.reqRate, 150);
  assert.equal(pool.p50, 0.0005);
});

Deno.test("pools and servers keep the order they first appear in", () => {
  const view = buildView(scrape([
    'tsproxy_server_connections{pool="zeta",server="b"} 1',
    'tsproxy_server_connections{pool="zeta",server="a"} 1',
    'tsproxy_pool_client_connections{pool="alpha"} 1',
    'tsproxy_server_ejected{pool="zeta",server="c"} 0',
  ], 0));
  assert.deepEqual(view.pools.map((p) => [p.name, p.servers.map((s) => s.name)]), [
    ["zeta", ["b", "a", "c"]],
    ["alpha", []],
  ]);
});

Deno.test("the header sums process_* over --workers processes, uptime from the earliest start", () => {
  const lines = (cpu: number) => [
    'tsproxy_build_info{version="1.2.3",nutcracker="0.5.0",deno="2.0.0"} 1',
    `process_start_time_seconds{process="0"} ${T0 - 100}`,
    `process_start_time_seconds{process="1"} ${T0 - 40}`,
    'process_resident_memory_bytes{process="0"} 1000',
    'process_resident_memory_bytes{process="1"} 2000',
    'process_open_fds{process="0"} 10',
    'process_open_fds{process="1"} 12',
    `process_cpu_seconds_total{process="0"} ${cpu}`,
    `process_cpu_seconds_total{process="1"} ${cpu}`,
    "tsproxy_heap_used_bytes 500",
    "tsproxy_open_connections 9",
    "tsproxy_connections_total 123",
    'tsproxy_pool_client_connections{pool="a"} 2',
    'tsproxy_pool_client_connections{pool="b"} 3',
  ];
  const { header } = buildView(scrape(lines(1.5), 2000, T0 + 2), scrape(lines(1), 0));
  assert.deepEqual(header, {
    version: "1.2.3",
    processes: 2,
    uptimeSeconds: 102,
    rssBytes: 3000,
    heapBytes: 500,
    openFds: 22,
    cpuPercent: 50, // 2 x 0.5 s of CPU in 2 s
    clients: 5,
    connections: 9,
    totalConnections: 123,
  });
});

Deno.test("metrics without tsproxy's families give a header of unknowns and no pools", () => {
  const view = buildView(scrape(["up 1"], 0));
  assert.deepEqual(view.pools, []);
  assert.equal(view.header.processes, 0);
  assert.ok(Object.values(view.header).every((v) => v === undefined || v === 0), JSON.stringify(view.header));
});

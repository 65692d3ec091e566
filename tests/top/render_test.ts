import assert from "assert";
import type { PoolRow, ServerRow, View } from "../../src/top/model.ts";
import { bytes, count, duration, elide, type Frame, render, uptime } from "../../src/top/render.ts";

const AT = new Date(2024, 0, 2, 3, 4, 5); // local time, shown as 03:04:05

function server(name: string, ejected = false): ServerRow {
  return {
    name,
    ejected,
    reqRate: ejected ? 0 : 617.25,
    errRate: ejected ? 0 : 0.5,
    p50: ejected ? undefined : 0.000112,
    p99: ejected ? undefined : 0.00123,
    queue: 2,
    queueBytes: 2048,
    connections: ejected ? 0 : 1,
    sentRate: 123456,
    recvRate: 7654321,
  };
}

function pool(name: string, servers: ServerRow[]): PoolRow {
  const ejected = servers.filter((s) => s.ejected).length;
  return {
    name,
    live: servers.length - ejected,
    ejected,
    reqRate: 1234.5,
    errRate: 0,
    p50: 0.00012,
    p99: 0.0456,
    queue: 4,
    queueBytes: 4096,
    connections: 12,
    sentRate: 246912,
    recvRate: 15308642,
    servers,
  };
}

const VIEW: View = {
  header: {
    version: "0.9.0",
    processes: 1,
    uptimeSeconds: 93784,
    rssBytes: 47448064,
    heapBytes: 20 * 1024 * 1024,
    openFds: 23,
    cpuPercent: 3.14,
    clients: 14,
    connections: 20,
    totalConnections: 345,
  },
  pools: [
    pool("alpha", [server("127.0.0.1:11211:1"), server("127.0.0.1:11212:1", true)]),
    pool("beta", [server("10.0.0.7:6379:1 redis-main-with-a-long-name")]),
  ],
};

function frame(view: View): Frame {
  return { address: "127.0.0.1:22223", intervalSeconds: 1, at: AT, interactive: true, view };
}

/** A view of `pools` pools of `servers` servers each. */
function bigView(pools: number, servers: number): View {
  const list = Array.from(
    { length: pools },
    (_, p) => pool(`pool${p}`, Array.from({ length: servers }, (_, s) => server(`10.0.${p}.${s}:11211:1`))),
  );
  return { ...VIEW, pools: list };
}

function assertFits(lines: string[], width: number, height: number): void {
  assert.equal(lines.length, height, `${lines.length} lines for a height of ${height}`);
  for (const line of lines) {
    assert.ok(line.length <= width, `${line.length} > ${width}: ${JSON.stringify(line)}`);
  }
}

Deno.test("at 80x24 the header, each pool followed by its servers and the status line fill the screen", () => {
  const lines = render(frame(VIEW), 80, 24);
  assertFits(lines, 80, 24);
  assert.deepEqual(lines.slice(0, 8), [
    "tsproxy 0.9.0 @ 127.0.0.1:22223  up 1d 02:03:04  rss 45.3M  cpu 3.1%  clients 14",
    "conns 20, 345 total  heap 20.0M  fds 23",
    "",
    "POOL/SERVER               STATE       EJ  REQ/S  ERR/S    P50    P99 QUEUE  CONN",
    "alpha                     1/2 live     1  1.23k      0  120us 45.6ms     4    12",
    "  127.0.0.1:11211:1       live              617   0.50  112us 1.23ms     2     1",
    "  127.0.0.1:11212:1       EJECTED             0      0      -      -     2     0",
    "beta                      1/1 live     0  1.23k      0  120us 45.6ms     4    12",
  ]);
  assert.equal(lines[8], "  10.0.0.7:63..-long-name live              617   0.50  112us 1.23ms     2     1");
  assert.deepEqual(lines.slice(9, 23), Array(14).fill(""));
  assert.equal(lines[23], "03:04:05  every 1s  q quits");
});

Deno.test("at 132x40 the extra width holds byte rates, queued bytes and whole server names", () => {
  const lines = render(frame(VIEW), 132, 40);
  assertFits(lines, 132, 40);
  assert.match(
    lines[0],
    /^tsproxy 0\.9\.0 @ 127\.0\.0\.1:22223 .* clients 14 {2}conns 20, 345 total {2}heap 20\.0M {2}fds 23$/,
  );
  assert.match(
    lines[2],
    /^POOL\/SERVER +STATE +EJ +REQ\/S +ERR\/S +P50 +P99 +QUEUE +CONN +SENT\/S +RECV\/S +QBYTES$/,
  );
  assert.match(lines[3], /^alpha +1\/2 live +1 +1\.23k +0 +120us +45\.6ms +4 +12 +241K +14\.6M +4\.00K$/);
  assert.ok(
    lines.some((l) => l.startsWith("  10.0.0.7:6379:1 redis-main-with-a-long-name ")),
    lines.join("\n"),
  );
});

Deno.test("rows past the height are left out and counted on the last row of the table", () => {
  const lines = render(frame(bigView(5, 6)), 80, 24); // 35 rows
  assertFits(lines, 80, 24);
  // 2 header lines, a blank, the titles, 18 rows, the count, the status line.
  assert.equal(lines[4], "pool0                     6/6 live     0  1.23k      0  120us 45.6ms     4    12");
  assert.equal(lines[22], "... 17 more rows (make the window taller)");
  assert.equal(lines[23], "03:04:05  every 1s  q quits");
});

Deno.test("every size from tiny to wide gets lines no longer than its width and exactly its height", () => {
  for (const width of [10, 20, 40, 79, 80, 100, 132, 200]) {
    for (const height of [0, 1, 2, 3, 5, 10, 24, 40]) {
      assertFits(render(frame(bigView(3, 4)), width, height), width, height);
      assertFits(render(frame(VIEW), width, height), width, height);
    }
  }
});

Deno.test("an unreachable endpoint is said on screen with how long it has been retrying", () => {
  const down: Frame = {
    address: "127.0.0.1:22223",
    intervalSeconds: 1,
    at: AT,
    interactive: true,
    problem: "cannot reach http://127.0.0.1:22223/metrics: Connection refused (os error 111)",
    failures: 3,
  };
  const lines = render(down, 80, 24);
  assertFits(lines, 80, 24);
  assert.deepEqual(lines.slice(0, 5), [
    "tsproxy @ 127.0.0.1:22223",
    "",
    "cannot reach http://127.0.0.1:22223/metrics: Connection refused (os error 111)",
    "retrying every 1s (3 failed in a row)",
    "",
  ]);
});

Deno.test("with an infinite height every row is shown and nothing pads the status line", () => {
  const lines = render({ ...frame(bigView(5, 6)), interactive: false }, 80, Infinity);
  assert.equal(lines.length, 2 + 1 + 1 + 35 + 1);
  assert.equal(lines[lines.length - 1], "03:04:05  every 1s");
});

Deno.test("names are elided in the middle, and characters other than printable ASCII shown as '?'", () => {
  const view: View = { ...VIEW, pools: [pool("a\x1b[2Jb\u00e9", [server("x".repeat(30) + "-tail")])] };
  const lines = render(frame(view), 80, 24);
  assert.ok(lines[4].startsWith("a?[2Jb? "), lines[4]);
  assert.ok(lines[5].startsWith("  xxxxxxxxxxx..xxxxx-tail "), lines[5]); // 23 columns after the indent
  assert.equal(elide("abcdefghij", 8), "abc..hij");
  assert.equal(elide("abcdefghij", 10), "abcdefghij");
  assert.equal(elide("abcdefghij", 4), "abcd");
});

Deno.test("a pool's table says so when the metrics name no pool", () => {
  const lines = render(frame({ ...VIEW, pools: [] }), 80, 24);
  assert.equal(lines[3], "no pools in the metrics");
});

Deno.test("figures keep to 6 columns: counts, bytes, latencies, uptime, '-' when unknown", () => {
  assert.deepEqual([0, 7, 0.333, 12.34, 999, 1234.5, 45_600_000, undefined].map(count), [
    "0",
    "7",
    "0.33",
    "12.3",
    "999",
    "1.23k",
    "45.6M",
    "-",
  ]);
  assert.deepEqual([512, 1536, 47448064, undefined].map(bytes), ["512B", "1.50K", "45.3M", "-"]);
  assert.deepEqual([0.000012, 0.000999, 0.00123, 0.0456, 0.456, 2.5, 10, undefined].map(duration), [
    "12.0us",
    "999us",
    "1.23ms",
    "45.6ms",
    "456ms",
    "2.50s",
    "10.0s",
    "-",
  ]);
  assert.deepEqual([5, 3725, 93784, undefined].map(uptime), ["00:00:05", "01:02:05", "1d 02:03:04", "-"]);
});

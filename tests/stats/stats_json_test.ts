import assert from "assert";
import { PoolStats, ServerStats } from "../../src/stats/counters.ts";
import { type ReplicaSnapshot, type StatsSnapshot, sumSnapshots } from "../../src/stats/snapshot.ts";
import { statsJson } from "../../src/stats/stats_json.ts";

const HEADER = { source: "host1", uptime: 5, timestamp: 1_700_000_000 };
const HEAD = `{"service":"nutcracker", "source":"host1", "version":"0.5.0", "uptime":5, ` +
  `"timestamp":1700000000, "total_connections":9, "curr_connections":3, `;
const POOL_ZEROS = `"client_eof":0, "client_err":0, "client_connections":0, "server_ejects":0, ` +
  `"forward_error":0, "fragments":0, `;
/** A server's counters with `requests` and `responses` at 7 and 6, the rest 0. */
const SERVER_COUNTERS = `"server_eof":0, "server_err":0, "server_timedout":0, "server_connections":0, ` +
  `"server_ejected_at":0, "requests":7, "request_bytes":0, "responses":6, "response_bytes":0, ` +
  `"in_queue":0, "in_queue_bytes":0, "out_queue":0, "out_queue_bytes":0`;

type PoolSnapshot = StatsSnapshot["pools"][number];
type ServerSnapshot = PoolSnapshot["servers"][number];

function server(name: string, extra: Partial<ServerSnapshot> = {}): ServerSnapshot {
  const stats = new ServerStats();
  stats.requests = 7;
  stats.responses = 6;
  return {
    name,
    stats,
    ejected: 0,
    latency: null,
    address: "127.0.0.1:6379",
    switches: 0,
    replicas: [],
    ...extra,
  };
}

function replica(name: string, inSync: number, requests = 0): ReplicaSnapshot {
  const stats = new ServerStats();
  stats.requests = requests;
  return { name, stats, inSync, ejected: 1 - inSync };
}

function pool(
  name: string,
  servers: ServerSnapshot[],
  sentinel: PoolSnapshot["sentinel"] = null,
): PoolSnapshot {
  return { name, stats: new PoolStats(), metrics: null, pinned: { open: 0, refused: 0 }, sentinel, servers };
}

function snapshot(...pools: PoolSnapshot[]): StatsSnapshot {
  return {
    total_connections: 9,
    curr_connections: 3,
    pools,
    processes: 1,
    listening: 1,
    health: [],
    reload: null,
  };
}

Deno.test("a pool without a sentinel or replicas is laid out exactly as nutcracker does", () => {
  const doc = statsJson(HEADER, snapshot(pool("alpha", [server("s1"), server("s2", { switches: 3 })])));
  assert.equal(
    doc,
    HEAD + `"alpha": {${POOL_ZEROS}"s1": {${SERVER_COUNTERS}},"s2": {${SERVER_COUNTERS}}}}\n`,
  );
});

Deno.test("a sentinel pool adds the sentinel after its counters, and each server where it is and its replicas", () => {
  const snap = snapshot(
    pool("ha", [
      server("m1", {
        address: "10.0.0.2:6380",
        switches: 2,
        replicas: [replica("10.0.0.3:6379", 1), replica("10.0.0.4:6379", 0)],
      }),
      server("m2", { address: "10.0.0.5:6379" }),
    ], { connected: 1, address: "10.0.0.9:26379" }),
    pool("idle", [server("m3")], { connected: 0, address: null }),
    pool("plain", [server("p1")]),
  );
  const doc = statsJson(HEADER, snap);
  assert.equal(
    doc,
    HEAD +
      `"ha": {${POOL_ZEROS}"sentinel_connected":1, "sentinel":"10.0.0.9:26379", ` +
      `"m1": {${SERVER_COUNTERS}, "address":"10.0.0.2:6380", "switches":2, "replicas":2, "replicas_in_sync":1},` +
      `"m2": {${SERVER_COUNTERS}, "address":"10.0.0.5:6379", "switches":0, "replicas":0, "replicas_in_sync":0}},` +
      `"idle": {${POOL_ZEROS}"sentinel_connected":0, "sentinel":"", ` +
      `"m3": {${SERVER_COUNTERS}, "address":"127.0.0.1:6379", "switches":0, "replicas":0, "replicas_in_sync":0}},` +
      `"plain": {${POOL_ZEROS}"p1": {${SERVER_COUNTERS}}}}\n`,
  );
  // Valid JSON, and every object in a pool is still a server (what nutcracker's stats readers assume).
  const parsed = JSON.parse(doc);
  const objects = (o: Record<string, unknown>) => Object.keys(o).filter((k) => typeof o[k] === "object");
  assert.deepEqual(objects(parsed.ha), ["m1", "m2"]);
  assert.deepEqual(objects(parsed.ha.m1), []);
});

Deno.test("a pool with replicas but no sentinel has the server items but no sentinel items", () => {
  const snap = snapshot(pool("reads", [server("m1", { replicas: [replica("10.0.0.3:6379", 1)] })]));
  assert.equal(
    statsJson(HEADER, snap),
    HEAD + `"reads": {${POOL_ZEROS}` +
      `"m1": {${SERVER_COUNTERS}, "address":"127.0.0.1:6379", "switches":0, "replicas":1, "replicas_in_sync":1}}}\n`,
  );
});

Deno.test("workers summed: sentinels connected add up, switches are the most seen, replicas add up by address", () => {
  const a = snapshot(
    pool("ha", [
      server("m1", {
        switches: 1,
        replicas: [replica("10.0.0.3:6379", 1, 4), replica("10.0.0.4:6379", 0, 0)],
      }),
    ], { connected: 0, address: null }),
  );
  const b = snapshot(
    pool("ha", [
      server("m1", {
        switches: 3,
        // 10.0.0.5 only in this worker (a reload half done): it is added as it is.
        replicas: [
          replica("10.0.0.4:6379", 1, 2),
          replica("10.0.0.3:6379", 1, 5),
          replica("10.0.0.5:6379", 0),
        ],
      }),
    ], { connected: 1, address: "10.0.0.9:26379" }),
  );
  const sum = sumSnapshots([a, b]);
  const [ha] = sum.pools;
  assert.deepEqual(ha.sentinel, { connected: 1, address: "10.0.0.9:26379" });
  const [m1] = ha.servers;
  assert.equal(m1.switches, 3);
  assert.equal(m1.stats.requests, 14);
  assert.deepEqual(
    m1.replicas.map((r) => [r.name, r.inSync, r.ejected, r.stats.requests]),
    [["10.0.0.3:6379", 2, 0, 9], ["10.0.0.4:6379", 1, 1, 2], ["10.0.0.5:6379", 0, 1, 0]],
  );
  // The parts are left as they were.
  assert.equal(a.pools[0].servers[0].replicas[0].inSync, 1);
  assert.deepEqual(a.pools[0].sentinel, { connected: 0, address: null });
  // In sync in any worker counts once.
  assert.match(
    statsJson(HEADER, sum),
    /"sentinel_connected":1, "sentinel":"10\.0\.0\.9:26379", "m1": \{[^}]*"requests":14, [^}]*, "address":"127\.0\.0\.1:6379", "switches":3, "replicas":3, "replicas_in_sync":2\}/,
  );
});

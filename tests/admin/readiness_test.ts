import assert from "assert";
import { readiness } from "../../src/admin/readiness.ts";
import { PoolStats, ServerStats } from "../../src/stats/counters.ts";
import type { StatsSnapshot } from "../../src/stats/snapshot.ts";

function snap(ejected: number[], processes = 1, listening = processes): StatsSnapshot {
  return {
    total_connections: 0,
    curr_connections: 0,
    pools: [{
      name: "p",
      stats: new PoolStats(),
      metrics: null,
      pinned: { open: 0, refused: 0 },
      sentinel: null,
      servers: ejected.map((e, i) => ({
        name: `s${i}`,
        stats: new ServerStats(),
        ejected: e,
        latency: null,
        address: `127.0.0.1:${6379 + i}`,
        switches: 0,
        replicas: [],
      })),
    }],
    processes,
    listening,
    health: [],
    reload: null,
  };
}

Deno.test("ready while every pool listens and has a server not ejected", () => {
  assert.deepEqual(readiness(snap([0, 1])), { ready: true, reasons: [] });
});

Deno.test("not ready when every server of a pool is ejected, or while not listening (start, drain)", () => {
  assert.deepEqual(readiness(snap([1, 1])).reasons, ["pool p: all 2 servers ejected"]);
  assert.deepEqual(readiness(snap([0], 1, 0)).reasons, ["not listening (starting or draining)"]);
});

Deno.test("with workers, a server ejected by only some of them is still live", () => {
  assert.equal(readiness(snap([1], 2)).ready, true);
  assert.deepEqual(readiness(snap([2], 2, 1)).reasons, [
    "1 of 2 processes not listening (starting or draining)",
    "pool p: all 1 servers ejected",
  ]);
});

/**
 * A server moved by a failover (Pool.moveServer, as Sentinel's +switch-master drives it), with two
 * real redis-servers as the old and the new address: nothing is written to the old address after
 * the move, requests already written there are answered from it, requests not yet written fail
 * without reaching it, and the next requests go to the new address.
 */
import assert from "assert";
import { freePort, startRedis } from "../../harness/procs.ts";
import { ask, askDirect, cmd, R, sleep, withClient } from "../../harness/redis_lab.ts";
import { callsOf } from "../../harness/sentinel_lab.ts";
import type { PoolConfig } from "../../src/config/types.ts";
import type { Pool } from "../../src/core/pool.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import type { Protocol } from "../../src/protocol/types.ts";
import { needs } from "../support/needs.ts";
import { type InProcess, withInProcess } from "../support/inproc.ts";

type Redis = Awaited<ReturnType<typeof startRedis>>;

const MOVE = cmd("ECHO", "__move__");
const MOVED = R.err("ERR master moved by a failover, request not sent");

/** The real redis protocol, with ECHO __move__ moving server `shard` to `to` (synchronously, when read). */
function moving(target: { pool: Pool | null; to: number }, config: PoolConfig): Protocol {
  const real = protocolFor(config, 16384);
  return {
    ...real,
    newSession: () => {
      const session = real.newSession();
      return {
        intercept(req, msg) {
          if (!new TextDecoder().decode(msg).includes("__move__")) return session.intercept(req, msg);
          target.pool!.moveServer("shard", { host: "127.0.0.1", port: target.to }, "switch");
          return new TextEncoder().encode("+MOVED\r\n");
        },
        get pinned() {
          return session.pinned;
        },
      };
    },
  };
}

/** A running case: the old and the new address (k is "old" and "new" there), the proxy's port. */
interface Moving {
  old: Redis;
  next: Redis;
  port: number;
  proxy: InProcess;
}

/**
 * Two redis-servers and an in-process proxy whose one server, `shard`, is at the first; ECHO
 * __move__ moves it to the second.
 */
async function withMoving(fn: (m: Moving) => Promise<void>): Promise<void> {
  const [old, next] = [await startRedis(), await startRedis()];
  try {
    await askDirect(old.port, [cmd("SET", "k", "old")]);
    await askDirect(next.port, [cmd("SET", "k", "new")]);
    const port = freePort();
    const target = { pool: null as Pool | null, to: next.port };
    const yaml =
      `ha:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n    - 127.0.0.1:${old.port}:1 shard\n`;
    await withInProcess(yaml, { protocols: (config) => moving(target, config) }, async (proxy) => {
      target.pool = proxy.pools[0];
      await fn({ old, next, port, proxy });
    });
  } finally {
    await old.stop();
    await next.stop();
  }
}

Deno.test({
  ...needs("redis-server"),
  name: "a moved server: requests not yet written fail unsent, later ones go to the new address only",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withMoving(async ({ old, next, port, proxy }) => {
      await withClient(port, async (wire) => {
        assert.deepEqual((await ask(wire, cmd("GET", "k"))).replies, [R.bulk("old")]);
        const gets = Array.from({ length: 20 }, () => cmd("GET", "k"));
        const got = await ask(wire, [...gets, MOVE, ...gets]);
        const before = got.replies.slice(0, 20);
        // Read with the move, they were never written: a reply from the old address is only
        // possible for ones written before it (when the proxy read them in an earlier read).
        for (const r of before) assert.ok(r === R.bulk("old") || r === MOVED, r);
        assert.equal(got.replies[20], "+MOVED\r\n");
        assert.deepEqual(got.replies.slice(21), gets.map(() => R.bulk("new")));
        const answeredOld = before.filter((r) => r === R.bulk("old")).length;
        assert.ok(answeredOld < 20, "no request was caught unwritten by the move");
        assert.equal(await callsOf(old.port, "get"), 1 + answeredOld);
        assert.equal(await callsOf(next.port, "get"), 20);
      });
      const server = proxy.pools[0].servers[0];
      // The requests dropped unwritten left the queue gauges as the answered ones did.
      const { in_queue, in_queue_bytes, out_queue, out_queue_bytes } = server.stats;
      assert.deepEqual([in_queue, in_queue_bytes, out_queue, out_queue_bytes], [0, 0, 0, 0]);
      assert.equal(server.switches, 1);
      assert.equal(server.address, `127.0.0.1:${next.port}`);
      assert.equal(server.config.name, "shard");
      assert.ok(
        proxy.log().some((l) =>
          l.includes(
            `server 'shard' of pool ha moved from 127.0.0.1:${old.port}:1 to 127.0.0.1:${next.port}:1`,
          )
        ),
        proxy.log().join("\n"),
      );
    }),
});

Deno.test({
  ...needs("redis-server"),
  name: "a moved server: requests written to the old address before the move are answered from it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withMoving(async ({ old, port }) => {
      await withClient(port, async (wire) => {
        await withClient(port, async (mover) => {
          assert.deepEqual((await ask(wire, cmd("GET", "k"))).replies, [R.bulk("old")]);
          Deno.kill(old.pid, "SIGSTOP"); // written requests wait in its socket
          const gets = Array.from({ length: 10 }, () => cmd("GET", "k"));
          await wire.send(new TextEncoder().encode(gets.join("")));
          await sleep(200);
          assert.deepEqual((await ask(mover, MOVE)).replies, ["+MOVED\r\n"]);
          assert.deepEqual((await ask(mover, cmd("GET", "k"))).replies, [R.bulk("new")]);
          Deno.kill(old.pid, "SIGCONT");
          const got = await ask(wire, [], 10);
          assert.deepEqual(got.replies, gets.map(() => R.bulk("old")));
        });
      });
      assert.equal(await callsOf(old.port, "get"), 11);
      // Its last requests answered, the old connection closed: only this look is connected there.
      const [clients] = await askDirect(old.port, [cmd("INFO", "clients")]);
      assert.match(clients, /connected_clients:1\r/);
    }),
});

Deno.test({
  ...needs("redis-server"),
  name: "a reload that makes a sentinel pool's servers anew keeps them where Sentinel moved them",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [old, next] = [await startRedis(), await startRedis()];
    try {
      await askDirect(old.port, [cmd("SET", "k", "old")], { db: 1 });
      await askDirect(next.port, [cmd("SET", "k", "new")], { db: 1 });
      const port = freePort();
      // No sentinel answers here: the test moves the server itself, as +switch-master would.
      const yaml = (db: number) =>
        `ha:\n  listen: 127.0.0.1:${port}\n  redis: true\n  redis_db: ${db}\n  sentinels:\n` +
        `    - 127.0.0.1:${freePort()}:1\n  servers:\n    - 127.0.0.1:${old.port}:1 shard\n`;
      await withInProcess(yaml(0), {}, async (proxy) => {
        proxy.pools[0].moveServer("shard", { host: "127.0.0.1", port: next.port }, "switch");
        const changes = await proxy.reload(yaml(1));
        assert.deepEqual(changes.serversAdded, ["ha/shard"]); // redis_db changed: a new server
        assert.equal(proxy.pools[0].servers[0].address, `127.0.0.1:${next.port}`);
        const got = await withClient(port, (wire) => ask(wire, cmd("GET", "k")));
        assert.deepEqual(got.replies, [R.bulk("new")]);
      });
    } finally {
      await old.stop();
      await next.stop();
    }
  },
});

Deno.test({
  ...needs("redis-server"),
  name:
    "a moved server: a blocking command left waiting at the old address fails after the grace, having taken nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withMoving(async ({ next, port, proxy }) => {
      await withClient(port, async (blocked) => {
        await withClient(port, async (mover) => {
          await blocked.send(new TextEncoder().encode(cmd("BLPOP", "q", "0")));
          await sleep(100); // written: it waits at the old address
          assert.deepEqual((await ask(mover, MOVE)).replies, ["+MOVED\r\n"]);
          const started = Date.now();
          const got = await ask(blocked, [], 1, { timeoutMs: 5000 });
          assert.deepEqual(got.replies, [R.err("ERR Connection timed out")]);
          assert.ok(Date.now() - started >= 500, "failed before its grace");
          assert.deepEqual((await ask(mover, cmd("RPUSH", "q", "x"))).replies, [R.int(1)]);
        });
      });
      assert.deepEqual(await askDirect(next.port, [cmd("LLEN", "q")]), [R.int(1)]);
      assert.ok(
        proxy.log().some((l) => l.includes("not answered 1000 ms after its master moved")),
        proxy.log().join("\n"),
      );
    }),
});

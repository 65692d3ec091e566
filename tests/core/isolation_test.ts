/**
 * One client can never hurt another: client A misbehaves while client B, on the same backend and
 * the same shared server connection, is served as if A were not there (its replies checked byte for
 * byte).
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import type { FakeServer } from "../../harness/fake_server.ts";
import { freePort } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import { type InProcess, withInProcess } from "../support/inproc.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const replyParser = (redis: boolean) => redis ? new RedisReplyParser() : new MemcacheReplyParser();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * B's request and reply, sent while A misbehaves. B must be answered while A is still there (the
 * bound is generous: what matters is that B is not held until A leaves, as it was).
 */
async function assertServed(
  port: number,
  request: string,
  reply: string,
  what: string,
  redis = true,
): Promise<void> {
  const b = await Wire.connect(port);
  try {
    await b.send(request);
    const { replies } = await b.replies(replyParser(redis), 1, 5000);
    assert.deepEqual(replies.map(text), [reply], what);
  } finally {
    b.close();
  }
}

/** Runs `fn` with an in-process tsproxy in front of one fake backend, then stops the backend. */
async function withPool(
  backend: FakeServer,
  redis: boolean,
  directives: string,
  fn: (port: number, proxy: InProcess) => Promise<void>,
): Promise<void> {
  const port = freePort();
  try {
    await withInProcess(
      `p:\n  listen: 127.0.0.1:${port}\n  redis: ${redis}\n${directives}  servers:\n   - ${backend.address}:1\n`,
      {},
      (proxy) => fn(port, proxy),
    );
  } finally {
    await backend.close();
  }
}

const bulk = (s: string) => `$${s.length}\r\n${s}\r\n`;
const cmd = (...args: string[]) => `*${args.length}\r\n` + args.map(bulk).join("");

Deno.test({
  name: "redis: a bulk over 512 MB is refused to its client alone; the shared server connection goes on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    await withPool(backend, true, "", async (port, proxy) => {
      await assertServed(port, cmd("SET", "k", "v"), "+OK\r\n", "B before");
      const a = await Wire.connect(port);
      await a.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$536870913\r\n" + "x".repeat(1000));
      const { bytes, closed } = await a.drain(200);
      a.close();
      assert.equal(text(bytes), "-ERR Protocol error: invalid bulk length\r\n");
      assert.ok(closed, "A is closed");
      await assertServed(port, cmd("GET", "k"), "$1\r\nv\r\n", "B after");
      assert.equal(proxy.pools[0].servers[0].stats.server_err, 0);
      assert.equal(proxy.pools[0].servers[0].stats.server_eof, 0);
      assert.equal(backend.stats.connections, 1, "one server connection served both B's requests");
    });
  },
});

Deno.test({
  name: "redis: a client that never reads its large replies does not stall another client of the same server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    await withPool(backend, true, "", async (port, proxy) => {
      const big = "x".repeat(500_000);
      await assertServed(port, cmd("SET", "big", big), "+OK\r\n", "setting the big value");
      const a = await Wire.connect(port);
      try {
        await a.send(cmd("GET", "big").repeat(200)); // 100 MB of replies, never read
        await sleep(300);
        await assertServed(port, cmd("SET", "k", "v"), "+OK\r\n", "B while A does not read");
        assert.equal(proxy.pools[0].servers[0].stats.server_err, 0);
      } finally {
        a.close();
      }
    });
  },
});

Deno.test({
  name:
    "a client holding more unread replies than client_output_limit is closed with a log line; others go on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    await withPool(backend, true, "  client_output_limit: 20000000\n", async (port, proxy) => {
      const big = "x".repeat(500_000);
      await assertServed(port, cmd("SET", "big", big), "+OK\r\n", "setting the big value");
      const a = await Wire.connect(port);
      try {
        await a.send(cmd("GET", "big").repeat(200));
        await sleep(300);
        await assertServed(port, cmd("SET", "k", "v"), "+OK\r\n", "B after A's 100 MB of replies");
        assert.ok(await a.closedWithin(3000), "A is closed");
        const line = proxy.log().find((l) => l.includes("client_output_limit"));
        assert.match(
          line ?? "",
          /^client closing c \d+ on pool p: \d+ bytes of replies not read, over client_output_limit 20000000$/,
        );
        assert.equal(proxy.pools[0].stats.client_connections, 0);
      } finally {
        a.close();
      }
    });
  },
});

Deno.test({
  name: "memcache: an upload abandoned half way fails nobody else's requests on that server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeMemcached.start();
    await withPool(backend, false, "", async (port, proxy) => {
      const a = await Wire.connect(port);
      await a.send("set big 0 0 1000000\r\n" + "y".repeat(300_000));
      await sleep(100);
      await assertServed(port, "set k 0 0 1\r\nv\r\n", "STORED\r\n", "B during A's upload", false);
      a.close();
      await sleep(100);
      await assertServed(port, "get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n", "B after A left", false);
      await assertServed(port, "get big\r\n", "END\r\n", "nothing of A's upload was stored", false);
      const stats = proxy.pools[0].servers[0].stats;
      assert.deepEqual([stats.server_err, stats.server_eof], [0, 0]);
    });
  },
});

Deno.test({
  name: "redis: an upload abandoned half way fails nobody else's requests on that server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    await withPool(backend, true, "", async (port) => {
      await assertServed(port, cmd("SET", "k", "v"), "+OK\r\n", "B before");
      const a = await Wire.connect(port);
      await a.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1000000\r\n" + "y".repeat(300_000));
      await sleep(100);
      await assertServed(port, cmd("GET", "k"), "$1\r\nv\r\n", "B during A's upload");
      a.close();
      await sleep(100);
      await assertServed(port, cmd("GET", "k"), "$1\r\nv\r\n", "B after A left");
    });
  },
});

Deno.test({
  name:
    "a large value goes out only after the client's earlier requests, and its later ones wait for its reply",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeMemcached.start();
    await withPool(backend, false, "", async (port) => {
      const big = "z".repeat(400_000);
      const w = await Wire.connect(port);
      try {
        backend.faults.set({ mode: "delay", ms: 50 });
        await w.send(
          `set k 0 0 1\r\na\r\nset k 0 0 ${big.length}\r\n${big}\r\nget k\r\nappend k 0 0 1\r\n!\r\nget k\r\n`,
        );
        const { replies } = await w.replies(replyParser(false), 5, 5000);
        assert.deepEqual(replies.map(text), [
          "STORED\r\n",
          "STORED\r\n",
          `VALUE k 0 ${big.length}\r\n${big}\r\nEND\r\n`,
          "STORED\r\n",
          `VALUE k 0 ${big.length + 1}\r\n${big}!\r\nEND\r\n`,
        ]);
      } finally {
        w.close();
      }
    });
  },
});

Deno.test({
  name: "a request buffered whole over client_input_limit is refused and its client closed; others go on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    await withPool(backend, true, "  client_input_limit: 100000\n", async (port, proxy) => {
      const a = await Wire.connect(port);
      await a.send(cmd("MSET", "a", "1", "b", "x".repeat(150_000)));
      const { bytes, closed } = await a.drain(300);
      a.close();
      assert.equal(text(bytes), "-ERR request too large (over 100000 bytes)\r\n");
      assert.ok(closed);
      assert.ok(proxy.log().some((l) => /over client_input_limit 100000$/.test(l)), proxy.log().join("\n"));
      await assertServed(
        port,
        cmd("MSET", "a", "1", "b", "x".repeat(50_000)),
        "+OK\r\n",
        "a request under the limit",
      );
    });
  },
});

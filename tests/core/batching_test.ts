/**
 * Single-key gets queued back to back on a server connection travel as one multi-key get, and each
 * client still gets exactly the bytes memcached gives that get on its own.
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { freePort, type ProxyProc, readStats, startMemcached, startTsproxy } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";
import { askDirect } from "../../harness/memcache_lab.ts";

const text = (b: Uint8Array) => new TextDecoder("latin1").decode(b);

async function proxyFor(address: string, timeout = 5000): Promise<{ proxy: ProxyProc; port: number }> {
  const port = freePort();
  const proxy = await startTsproxy(
    `m:\n  listen: 127.0.0.1:${port}\n  timeout: ${timeout}\n  servers:\n   - ${address}:1\n`,
    [port],
  );
  return { proxy, port };
}

/** Runs `fn` against tsproxy in front of a fresh in-process fake memcached; stops both after. */
async function withFake(
  fn: (fake: FakeMemcached, proxy: ProxyProc, port: number) => Promise<void>,
  timeout = 5000,
): Promise<void> {
  const fake = await FakeMemcached.start();
  const { proxy, port } = await proxyFor(fake.address, timeout);
  try {
    await fn(fake, proxy, port);
  } finally {
    await proxy.stop();
    await fake.close();
  }
}

/** The pool's one server's counters on the stats port. */
async function serverStats(proxy: ProxyProc): Promise<Record<string, number>> {
  const stats = await readStats(proxy.statsPort) as Record<string, Record<string, unknown>>;
  const server = Object.entries(stats.m).find(([, v]) => typeof v === "object")!;
  return server[1] as Record<string, number>;
}

const gets = (keys: string[]) => keys.map((k) => `get ${k}\r\n`).join("");

Deno.test("pipelined gets reach the server as one multi-get, and each get gets its own reply", () =>
  withFake(async (fake, proxy, port) => {
    const keys = ["a", "miss1", "b", "a", "miss2", "c", "b"];
    const setup = "set a 0 0 1\r\n1\r\nset b 7 0 2\r\n22\r\nset c 0 0 0\r\n\r\n";
    assert.deepEqual(await askDirect(fake.port, setup, 3), ["STORED\r\n", "STORED\r\n", "STORED\r\n"]);
    const expected = await askDirect(fake.port, gets(keys), keys.length);

    const before = fake.stats.requests;
    assert.deepEqual(await askDirect(port, gets(keys), keys.length), expected);
    assert.equal(fake.stats.requests - before, 1, "one request on the wire for all the gets");

    // A request that cannot join ends the batch; gets after it start a new one; gets and gets do not mix.
    const mixed = gets(["a", "b"]) + "set d 0 0 1\r\nd\r\n" + gets(["d", "a"]) + "gets a\r\ngets b\r\n";
    const direct = await askDirect(fake.port, mixed, 7);
    const before2 = fake.stats.requests;
    const got = await askDirect(port, mixed, 7);
    assert.deepEqual(got.slice(0, 5), direct.slice(0, 5));
    assert.match(got[5], /^VALUE a 0 1 \d+\r\n1\r\nEND\r\n$/);
    assert.match(got[6], /^VALUE b 7 2 \d+\r\n22\r\nEND\r\n$/);
    assert.equal(fake.stats.requests - before2, 4, "get a b | set d | get d a | gets a b");

    // The stats count each get, as nutcracker's would.
    const s = await serverStats(proxy);
    assert.equal(s.requests, keys.length + 7);
    assert.equal(s.responses, keys.length + 7);
    assert.equal(s.out_queue, 0);
    assert.equal(s.out_queue_bytes, 0);
  }));

Deno.test("a server error answering a batch reaches every get in it; the client stays open", () =>
  withFake(async (fake, _proxy, port) => {
    fake.faults.set({ mode: "reply", raw: "SERVER_ERROR out of memory\r\n" });
    const w = await Wire.connect(port);
    try {
      await w.send(gets(["a", "b", "c"]));
      const { replies } = await w.replies(new MemcacheReplyParser(), 3, 10000);
      assert.deepEqual(replies.map(text), Array(3).fill("SERVER_ERROR out of memory\r\n"));
      await w.send("get a\r\n");
      const again = await w.replies(new MemcacheReplyParser(), 1, 10000);
      assert.equal(text(again.replies[0]), "END\r\n");
    } finally {
      w.close();
    }
  }));

Deno.test("a batch reply with a value for a key nobody asked for fails the server connection", () =>
  withFake(async (fake, proxy, port) => {
    fake.faults.set({ mode: "reply", raw: "VALUE zz 0 1\r\nz\r\nEND\r\n" });
    const got = await askDirect(port, gets(["a", "b"]), 2);
    assert.deepEqual(got, Array(2).fill("SERVER_ERROR Invalid argument\r\n"));
    const s = await serverStats(proxy);
    assert.equal(s.server_err, 1);
    assert.equal(s.out_queue, 0);
  }));

Deno.test("a batch that times out fails every get in it, and the gauges settle", () =>
  withFake(async (fake, proxy, port) => {
    fake.faults.set({ mode: "silent" });
    const got = await askDirect(port, gets(["a", "b", "c"]), 3);
    assert.deepEqual(got, Array(3).fill("SERVER_ERROR Connection timed out\r\n"));
    const s = await serverStats(proxy);
    assert.equal(s.server_timedout, 1);
    assert.equal(s.requests, 3);
    assert.equal(s.out_queue, 0);
    assert.equal(s.out_queue_bytes, 0);
    assert.equal(s.in_queue, 0);
  }, 300));

Deno.test(
  "batched gets and gets through real memcached: same bytes as asking memcached directly, large values too",
  needs("memcached"),
  async () => {
    const mc = await startMemcached(freePort(), ["-I", "4m"]);
    const { proxy, port } = await proxyFor(`127.0.0.1:${mc.port}`);
    try {
      const big = "v".repeat(600_000);
      const sets = `set big 3 0 ${big.length}\r\n${big}\r\nset s 1 0 5\r\nsmall\r\n`;
      assert.deepEqual(await askDirect(mc.port, sets, 2), ["STORED\r\n", "STORED\r\n"]);
      const keys = ["s", "big", "nope", "s", "big", "x".repeat(250)];
      const pipeline = gets(keys) + keys.map((k) => `gets ${k}\r\n`).join("");
      const expected = await askDirect(mc.port, pipeline, 2 * keys.length);
      assert.deepEqual(await askDirect(port, pipeline, 2 * keys.length), expected);
      // Many clients at once: every one of them gets its own keys' values.
      const clients = Array.from({ length: 40 }, (_, i) => askDirect(port, gets(["s", `k${i}`, "s"]), 3));
      for (const replies of await Promise.all(clients)) {
        assert.deepEqual(replies, [expected[0], "END\r\n", expected[0]]);
      }
    } finally {
      await proxy.stop();
      await mc.stop();
    }
  },
);

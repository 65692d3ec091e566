import assert from "assert";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import { concat } from "../../harness/bytes.ts";
import { freePort, startMemcached, startRedis, startTsproxy } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";

const MiB = 1 << 20;

/** Peak resident memory (KiB) of a process. */
function peakRssKiB(pid: number): number {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n").find((l) => l.startsWith("VmHWM:"))!;
  return Number(line.split(/\s+/)[1]);
}

/** A value of `size` bytes with a recognisable pattern (so a shifted or truncated copy shows). */
function value(size: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = 97 + (i * 7 + (i >> 12)) % 26;
  return v;
}

const join = (...parts: (string | Uint8Array)[]) => concat(parts);

/** tsproxy in front of one memcached that takes items up to 32 MB. */
async function bigItemPool() {
  const mc = await startMemcached(freePort(), ["-I", "32m", "-m", "256"]);
  const port = freePort();
  const proxy = await startTsproxy(
    `m:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:${mc.port}:1\n`,
    [port],
  );
  return { mc, proxy, port };
}

Deno.test(
  "a 64 MB redis value streams through SET and GET byte-identical without being buffered whole",
  needs("redis-server"),
  async () => {
    const rs = await startRedis();
    const port = freePort();
    const proxy = await startTsproxy(
      `r:\n  listen: 127.0.0.1:${port}\n  redis: true\n  timeout: 5000\n  servers:\n   - 127.0.0.1:${rs.port}:1\n`,
      [port],
    );
    const w = await Wire.connect(port);
    try {
      const before = peakRssKiB(proxy.pid);
      const big = value(64 * MiB);
      await w.send(join(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${big.length}\r\n`, big, "\r\n"));
      await w.send("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
      const { replies } = await w.replies(new RedisReplyParser(), 2, 60000);
      assert.equal(new TextDecoder().decode(replies[0]), "+OK\r\n");
      const header = `$${big.length}\r\n`;
      assert.equal(replies[1].length, header.length + big.length + 2);
      assert.deepEqual(replies[1].subarray(header.length, header.length + big.length), big);
      const grown = (peakRssKiB(proxy.pid) - before) / 1024;
      assert.ok(grown < 40, `peak RSS grew by ${grown.toFixed(1)} MiB for a 64 MiB value`);
    } finally {
      w.close();
      await proxy.stop();
      await rs.stop();
    }
  },
);

Deno.test(
  "while one client streams a large memcache value, another client's requests on the same server wait and succeed",
  needs("memcached"),
  async () => {
    const { mc, proxy, port } = await bigItemPool();
    const a = await Wire.connect(port);
    const b = await Wire.connect(port);
    try {
      await b.send("set small 0 0 2\r\nok\r\n");
      assert.equal((await b.replies(new MemcacheReplyParser(), 1)).replies.length, 1);
      const big = value(8 * MiB);
      const request = join(`set big 0 0 ${big.length}\r\n`, big, "\r\n");
      // The first half, then b's get while a's value is half sent, then the rest.
      await a.send(request.subarray(0, request.length >> 1));
      await new Promise((r) => setTimeout(r, 200));
      await b.send("get small\r\n");
      await new Promise((r) => setTimeout(r, 100));
      await a.send(request.subarray(request.length >> 1));
      const ra = await a.replies(new MemcacheReplyParser(), 1, 20000);
      assert.equal(new TextDecoder().decode(ra.replies[0]), "STORED\r\n");
      const rb = await b.replies(new MemcacheReplyParser(), 1, 20000);
      assert.equal(new TextDecoder().decode(rb.replies[0]), "VALUE small 0 2\r\nok\r\nEND\r\n");
      await b.send("get big\r\n");
      const got = (await b.replies(new MemcacheReplyParser(), 1, 20000)).replies[0];
      const header = `VALUE big 0 ${big.length}\r\n`;
      assert.deepEqual(got.subarray(header.length, header.length + big.length), big);
    } finally {
      a.close();
      b.close();
      await proxy.stop();
      await mc.stop();
    }
  },
);

Deno.test(
  "a client that leaves in the middle of a streamed value does not wedge the server for others",
  needs("memcached"),
  async () => {
    const { mc, proxy, port } = await bigItemPool();
    try {
      const a = await Wire.connect(port);
      const big = value(4 * MiB);
      await a.send(join(`set gone 0 0 ${big.length}\r\n`, big.subarray(0, 2 * MiB)));
      await new Promise((r) => setTimeout(r, 200));
      a.close();
      await new Promise((r) => setTimeout(r, 100));
      const b = await Wire.connect(port);
      await b.send("set after 0 0 2\r\nok\r\nget after gone\r\n");
      const { replies } = await b.replies(new MemcacheReplyParser(), 2, 5000);
      assert.deepEqual(replies.map((r) => new TextDecoder().decode(r)), [
        "STORED\r\n",
        "VALUE after 0 2\r\nok\r\nEND\r\n",
      ]);
      b.close();
    } finally {
      await proxy.stop();
      await mc.stop();
    }
  },
);

/**
 * One client can never hurt another: client A misbehaves while client B, on the same backend and
 * the same shared server connection, is served as if A were not there (its replies checked byte for
 * byte).
 */
import assert from "assert";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { freePort } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import { withInProcess } from "../support/inproc.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const redisReplies = () =>
  protocolFor({ redis: true, redisAuth: null, redisDb: 0 } as never, 16384).newReplyParser();

/** B's request and reply, sent while A misbehaves. */
async function assertServed(port: number, request: string, reply: string, what: string): Promise<void> {
  const b = await Wire.connect(port);
  try {
    await b.send(request);
    const { replies } = await b.replies(redisReplies(), 1, 2000);
    assert.deepEqual(replies.map(text), [reply], what);
  } finally {
    b.close();
  }
}

Deno.test({
  name: "redis: a bulk over 512 MB is refused to its client alone; the shared server connection goes on",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const backend = await FakeRedis.start();
    const port = freePort();
    try {
      await withInProcess(
        `p:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n   - ${backend.address}:1\n`,
        {},
        async (proxy) => {
          await assertServed(port, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK\r\n", "B before");
          const a = await Wire.connect(port);
          await a.send("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$536870913\r\n" + "x".repeat(1000));
          const { bytes, closed } = await a.drain(200);
          a.close();
          assert.equal(text(bytes), "-ERR Protocol error: invalid bulk length\r\n");
          assert.ok(closed, "A is closed");
          await assertServed(port, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$1\r\nv\r\n", "B after");
          assert.equal(proxy.pools[0].servers[0].stats.server_err, 0);
          assert.equal(proxy.pools[0].servers[0].stats.server_eof, 0);
          assert.equal(backend.stats.connections, 1, "one server connection served both B's requests");
        },
      );
    } finally {
      await backend.close();
    }
  },
});

import assert from "assert";
import { ReadBuffer } from "../../src/core/read_buffer.ts";

/** A connection that hands out the given chunks, then EOF. */
function fakeConn(chunks: Uint8Array[]): Deno.Conn {
  return {
    read(p: Uint8Array): Promise<number | null> {
      const c = chunks.shift();
      if (c === undefined) return Promise.resolve(null);
      const n = Math.min(p.length, c.length);
      p.set(c.subarray(0, n));
      if (n < c.length) chunks.unshift(c.subarray(n));
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn;
}

Deno.test("an announced huge message does not allocate its size up front: the buffer at most doubles", async () => {
  const rb = new ReadBuffer(1024, 16384);
  const conn = fakeConn([new Uint8Array(1024), new Uint8Array(10)]);
  await rb.readFrom(conn, 0);
  assert.equal(rb.end, 1024);
  await rb.readFrom(conn, 2_000_000_000);
  assert.equal(rb.buf.length, 2048);
  assert.equal(rb.end, 1034);
});

Deno.test("pending bytes survive growth and compaction, and an emptied oversized buffer shrinks back", async () => {
  const data = new Uint8Array(100_000).map((_, i) => i % 251);
  const rb = new ReadBuffer(1024, 16384);
  const conn = fakeConn([data]);
  rb.consumed(0);
  while (rb.end - rb.start < data.length) {
    const n = await rb.readFrom(conn, data.length);
    assert.ok(n !== null && n > 0);
  }
  assert.deepEqual(rb.buf.subarray(rb.start, rb.end), data);
  rb.consumed(rb.end);
  assert.equal(rb.buf.length, 16384);
});

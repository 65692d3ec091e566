import assert from "assert";
import { ReadBuffer } from "../../src/core/read_buffer.ts";

/** A reader that hands out the given chunks into a ReadBuffer, then EOF (null). */
function feeder(rb: ReadBuffer, chunks: Uint8Array[]) {
  return (need: number): number | null => {
    const c = chunks.shift();
    if (c === undefined) return null;
    const space = rb.space(need);
    const n = Math.min(space.length, c.length);
    space.set(c.subarray(0, n));
    if (n < c.length) chunks.unshift(c.subarray(n));
    rb.filled(n);
    return n;
  };
}

Deno.test("an announced huge message does not allocate its size up front: the buffer at most doubles", () => {
  const rb = new ReadBuffer(1024, 16384);
  const read = feeder(rb, [new Uint8Array(1024), new Uint8Array(10)]);
  read(0);
  assert.equal(rb.end, 1024);
  read(2_000_000_000);
  assert.equal(rb.buf.length, 2048);
  assert.equal(rb.end, 1034);
});

Deno.test("pending bytes survive growth and compaction, and an emptied oversized buffer shrinks back", () => {
  const data = new Uint8Array(100_000).map((_, i) => i % 251);
  const rb = new ReadBuffer(1024, 16384);
  const read = feeder(rb, [data]);
  rb.consumed(0);
  while (rb.end - rb.start < data.length) {
    const n = read(data.length);
    assert.ok(n !== null && n > 0);
  }
  assert.deepEqual(rb.buf.subarray(rb.start, rb.end), data);
  rb.consumed(rb.end);
  assert.equal(rb.buf.length, 16384);
});

Deno.test("a burst that took two reads doubles the buffer once consumed, so the next burst fits one read", () => {
  const rb = new ReadBuffer(1024, 16384);
  const burst = () => new Uint8Array(1200);
  const read = feeder(rb, [burst(), burst()]);
  // The parser consumes whole messages only: 13 of 75 bytes fit the first read, the rest follow.
  assert.equal(read(0), 1024);
  rb.consumed(975);
  assert.equal(read(75), 176);
  rb.consumed(rb.end);
  assert.equal(rb.buf.length, 2048);
  assert.equal(read(0), 1200, "the second burst in one read");
  rb.consumed(rb.end);
  assert.equal(rb.buf.length, 2048, "a read that did not fill the buffer does not grow it");
});

import assert from "assert";
import { WriteBuffer } from "../../src/core/write_buffer.ts";

/** A socket stand-in that records each write (taking at most `max` bytes per call). */
function fakeConn(max = Infinity) {
  const writes: Uint8Array[] = [];
  const conn = {
    write(bytes: Uint8Array): Promise<number> {
      const n = Math.min(bytes.length, max);
      writes.push(bytes.slice(0, n));
      return Promise.resolve(n);
    },
  } as unknown as Deno.Conn;
  return { conn, writes };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");

Deno.test("appends made in one turn go out in a single write", async () => {
  const { conn, writes } = fakeConn();
  const out = new WriteBuffer(16384);
  out.attach(conn);
  out.append(bytes("STORED\r\n"));
  out.append(bytes("END\r\n"));
  await settle();
  assert.equal(writes.length, 1);
  assert.equal(text(writes), "STORED\r\nEND\r\n");
  assert.equal(out.busy, false);
});

Deno.test("a partial write is completed before later bytes", async () => {
  const { conn, writes } = fakeConn(3);
  const out = new WriteBuffer(16384);
  out.attach(conn);
  out.append(bytes("VALUE k 0 1\r\nx\r\nEND\r\n"));
  await settle();
  out.append(bytes("+OK\r\n"));
  await settle();
  assert.equal(text(writes), "VALUE k 0 1\r\nx\r\nEND\r\n+OK\r\n");
});

Deno.test("a connection that wrote only short replies holds a small buffer, not a read chunk", async () => {
  const { conn } = fakeConn();
  const out = new WriteBuffer(16384);
  out.attach(conn);
  for (let i = 0; i < 3; i++) {
    out.append(bytes("STORED\r\n"));
    await settle();
  }
  assert.ok(out.capacity <= 1024, `capacity ${out.capacity}`);
});

Deno.test("a buffer grown for a large reply is let go once it is written", async () => {
  const { conn, writes } = fakeConn();
  const out = new WriteBuffer(16384);
  out.attach(conn);
  out.append(new Uint8Array(200_000));
  await settle();
  assert.equal(writes[0].length, 200_000);
  assert.ok(out.capacity < 200_000, `capacity ${out.capacity}`);
});

Deno.test("large appends are kept as chunks of their own, in order with the small ones around them", async () => {
  const { conn, writes } = fakeConn();
  const out = new WriteBuffer(16384);
  const big = (c: string) => bytes(c.repeat(100_000));
  out.append(bytes("a"));
  out.append(big("B"));
  out.append(bytes("c"));
  out.append(big("D"));
  out.append(big("E"));
  out.append(bytes("f"));
  assert.equal(out.backlog, 300_003);
  assert.ok(out.capacity < 300_003 + 2 * 512, `held ${out.capacity} bytes for 300,003`);
  out.attach(conn);
  await settle();
  assert.equal(
    text(writes),
    "a" + "B".repeat(100_000) + "c" + "D".repeat(100_000) + "E".repeat(100_000) + "f",
  );
  assert.equal(out.busy, false);
  assert.equal(out.backlog, 0);
});

import assert from "assert";
import { ByteQueue, concat, fromLatin1, latin1 } from "../../harness/bytes.ts";

Deno.test("latin1 maps every byte to one char and back", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const s = latin1(all);
  assert.strictEqual(s.length, 256);
  assert.strictEqual(s.charCodeAt(200), 200);
  assert.deepStrictEqual(fromLatin1(s), all);
});

Deno.test("latin1 converts arrays larger than one call's argument limit", () => {
  const big = new Uint8Array(300_000).fill(0xe9);
  assert.deepStrictEqual(fromLatin1(latin1(big)), big);
});

Deno.test("concat joins strings and byte arrays in order", () => {
  assert.deepStrictEqual(
    concat(["ab", new Uint8Array([0, 255]), "", "c"]),
    new Uint8Array([97, 98, 0, 255, 99]),
  );
});

Deno.test("a byte queue keeps unconsumed bytes across pushes, drops and growth", () => {
  const q = new ByteQueue();
  q.push(fromLatin1("hello "));
  q.drop(2);
  assert.strictEqual(latin1(q.bytes), "llo ");
  const big = "x".repeat(100_000);
  q.push(fromLatin1(big));
  assert.strictEqual(latin1(q.bytes), `llo ${big}`);
  q.drop(4 + big.length);
  assert.strictEqual(q.bytes.length, 0);
  for (let i = 0; i < 5000; i++) {
    q.push(fromLatin1("abcd"));
    q.drop(3);
  }
  assert.strictEqual(latin1(q.bytes), "abcd".repeat(1250));
});

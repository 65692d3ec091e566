import assert from "assert";
import { crc32 as zlibCrc32 } from "node:zlib";
import { crc32, crc32a } from "../../../src/routing/hash/crc32.ts";

Deno.test("crc32a equals zlib's crc32 on inputs of every length up to 300 bytes", () => {
  const data = Uint8Array.from({ length: 310 }, (_, i) => (i * 197 + 11) & 0xff);
  for (let n = 0; n <= 300; n++) {
    assert.equal(crc32a(data, 5, 5 + n), zlibCrc32(data.subarray(5, 5 + n)), `length ${n}`);
  }
});

Deno.test("crc32 keeps bits 16..30 of the standard CRC-32", () => {
  const data = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
  for (let n = 0; n <= 64; n++) {
    const full = zlibCrc32(data.subarray(0, n));
    assert.equal(crc32(data, 0, n), (full >>> 16) & 0x7fff, `length ${n}`);
  }
});

import assert from "assert";
import { createHash } from "node:crypto";
import { md5, md5Digest, md5Words } from "../../../src/routing/hash/md5.ts";

const te = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("md5Digest gives the RFC 1321 test-suite digests", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    [
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
      "57edf4a22be3c955ac49da2e2107b67a",
    ],
  ];
  for (const [text, digest] of suite) {
    const bytes = te.encode(text);
    assert.equal(hex(md5Digest(bytes, 0, bytes.length)), digest, JSON.stringify(text));
  }
});

Deno.test("md5Digest agrees with node:crypto across every padding boundary and multi-block input", () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let n = 0; n <= 200; n++) {
    const want = createHash("md5").update(data.subarray(3, 3 + n)).digest("hex");
    assert.equal(hex(md5Digest(data, 3, 3 + n)), want, `length ${n}`);
  }
  assert.equal(hex(md5Digest(data, 0, 1000)), createHash("md5").update(data).digest("hex"));
});

Deno.test("md5Words holds the digest bytes as four little-endian words", () => {
  // nutcracker 0.5.0's worked example A: MD5("127.0.0.1:31211-0") gives ketama points
  // 1032687169, 302077755, ...
  const name = te.encode("127.0.0.1:31211-0");
  const out = new Uint32Array(4);
  assert.equal(md5Words(name, 0, name.length, out), out);
  assert.deepEqual([...out], [1032687169, 302077755, 3405568161, 1891064518]);
  assert.equal(hex(md5Digest(name, 0, name.length)), "418e8d3d3b570112a1d8fccac65ab770");
});

Deno.test("md5 key hash is the first digest word", () => {
  const foo = te.encode("foo");
  assert.equal(md5(foo, 0, 3), 3675831724);
  assert.equal(md5(foo, 0, 3), md5Words(foo, 0, 3, new Uint32Array(4))[0]);
});

import assert from "assert";
import { HashTag } from "../../src/routing/hash_tag.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** The bytes `tag` hashes for `key`, with the key placed inside a larger buffer. */
function reduced(tag: string, key: string, before = "", after = ""): string {
  const buf = te.encode(before + key + after);
  const start = te.encode(before).length;
  const t = new HashTag(te.encode(tag));
  t.reduce(buf, start, start + te.encode(key).length);
  return td.decode(buf.subarray(t.start, t.end));
}

Deno.test("hash_tag {} hashes the bytes between the first { and the next }", () => {
  assert.equal(reduced("{}", "{user1}:a"), "user1");
  assert.equal(reduced("{}", "zz{user1}"), "user1");
  assert.equal(reduced("{}", "a{b}c{d}e"), "b");
  assert.equal(reduced("{}", "}{q}"), "q");
  assert.equal(reduced("{}", "{{q}}"), "{q");
});

Deno.test("hash_tag with nothing between the tag bytes hashes the whole key", () => {
  assert.equal(reduced("{}", "x{}y"), "x{}y");
  assert.equal(reduced("{}", "{}"), "{}");
  assert.equal(reduced("ab", "ab"), "ab");
  assert.equal(reduced("ab", "abab"), "abab");
});

Deno.test("hash_tag left unclosed or missing hashes the whole key", () => {
  for (const key of ["{abc", "abc}", "{", "}", "plain", ""]) assert.equal(reduced("{}", key), key);
});

Deno.test("hash_tag with letters uses the first left byte and the first right byte after it", () => {
  assert.equal(reduced("ab", "xaHELLObz"), "HELLO");
  assert.equal(reduced("ab", "xaHELLObzab"), "HELLO");
  assert.equal(reduced("ab", "aab"), "a");
  assert.equal(reduced("ab", "b_a_b"), "_");
});

Deno.test("hash_tag with two equal bytes pairs the first two occurrences", () => {
  assert.equal(reduced("$$", "a$id$b$c"), "id");
  assert.equal(reduced("$$", "$$x$"), "$$x$");
  assert.equal(reduced("$$", "x$y"), "x$y");
});

Deno.test("hash_tag never looks outside the key range", () => {
  // Tag bytes just outside [start, end) must not close or open a tag.
  assert.equal(reduced("{}", "{abc", "", "}"), "{abc");
  assert.equal(reduced("{}", "abc}", "{", ""), "abc}");
  assert.equal(reduced("{}", "k{x}", "{zz}", "{yy}"), "x");
});

Deno.test("hash_tag accepts high bytes as tag and key bytes", () => {
  const t = new HashTag(new Uint8Array([0xc3, 0xff]));
  const key = new Uint8Array([0x61, 0xc3, 0x80, 0x81, 0xff, 0x62]);
  t.reduce(key, 0, key.length);
  assert.deepEqual([t.start, t.end], [2, 4]);
});

Deno.test("HashTag rejects a tag that is not exactly 2 bytes", () => {
  assert.throws(() => new HashTag(te.encode("{")), RangeError);
  assert.throws(() => new HashTag(te.encode("{}}")), RangeError);
});

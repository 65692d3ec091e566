import assert from "assert";
import { asciiBytes, printable, wordIndex, wordTable } from "../../../src/protocol/memcache/ascii.ts";
import { bin } from "./latin1.ts";

Deno.test("wordIndex finds a byte range in a word table, exactly and case-sensitively", () => {
  const table = wordTable(["get", "gets", "END"]);
  const buf = bin("xgetsEND end");
  assert.equal(wordIndex(table, buf, 1, 4), 0);
  assert.equal(wordIndex(table, buf, 1, 5), 1);
  assert.equal(wordIndex(table, buf, 5, 8), 2);
  assert.equal(wordIndex(table, buf, 9, 12), -1);
  assert.equal(wordIndex(table, buf, 1, 3), -1);
  assert.equal(wordIndex(table, buf, 1, 1), -1);
});

Deno.test("asciiBytes gives one byte per char", () => {
  assert.deepEqual([...asciiBytes("a \r\n")], [97, 32, 13, 10]);
});

Deno.test("printable keeps visible ASCII and escapes the rest, backslash included", () => {
  const odd = bin("ab\t \x00\xff\\z");
  assert.equal(printable(odd, 0, odd.length), "ab\\x09\\x20\\x00\\xff\\x5cz");
  assert.equal(printable(bin("xyz"), 1, 2), "y");
});

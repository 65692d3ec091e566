import assert from "assert";
import { Modula } from "../../src/routing/modula.ts";
import { fnv1a_64 } from "../../src/routing/hash/fnv.ts";

const te = new TextEncoder();
const servers = (weights: number[]) => weights.map((weight, i) => ({ name: `s${i}`, weight }));

Deno.test("modula repeats each live server's index weight times and picks hash mod length", () => {
  const m = new Modula(servers([1, 1, 2]), [true, true, true]);
  const table = Array.from({ length: 8 }, (_, h) => m.pick(h));
  assert.deepEqual(table, [0, 1, 2, 2, 0, 1, 2, 2]);
});

Deno.test("modula leaves ejected servers out of the table", () => {
  const m = new Modula(servers([2, 1, 3]), [true, false, true]);
  const table = Array.from({ length: 10 }, (_, h) => m.pick(h));
  assert.deepEqual(table, [0, 0, 2, 2, 2, 0, 0, 2, 2, 2]);
});

Deno.test("modula handles the full unsigned 32-bit hash range and large weights", () => {
  const m = new Modula(servers([100000, 1]), [true, true]);
  assert.equal(m.pick(100000), 1);
  assert.equal(m.pick(100001), 0);
  assert.equal(m.pick(0xffffffff), 0); // 4294967295 mod 100001 = 24346
  assert.equal(m.pick(0xffffffff - 24346 + 100000), 1);
});

Deno.test("modula places example A's keys where nutcracker 0.5.0 does", () => {
  const a = [
    { name: "127.0.0.1:31211", weight: 1 },
    { name: "127.0.0.1:31212", weight: 1 },
    { name: "127.0.0.1:31213", weight: 2 },
  ];
  const all = new Modula(a, [true, true, true]);
  const rows: [string, number][] = [
    ["foo", 2],
    ["bar", 2],
    ["baz", 2],
    ["hello", 2],
    ["user:1", 2],
    ["user:3", 1],
    ["session:abc", 1],
    ["a", 0],
    ["b", 1],
    ["k1", 1],
    ["k2", 0],
  ];
  for (const [key, server] of rows) {
    const b = te.encode(key);
    assert.equal(all.pick(fnv1a_64(b, 0, b.length)), server, key);
  }
  // With the middle server ejected the table is [31211, 31213, 31213]: hello (h mod 3 = 0) -> 31211.
  const hello = te.encode("hello");
  assert.equal(new Modula(a, [true, false, true]).pick(fnv1a_64(hello, 0, hello.length)), 0);
});

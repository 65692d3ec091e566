import assert from "assert";
import { Ketama, ketamaPoints } from "../../src/routing/ketama.ts";
import { fnv1a_64 } from "../../src/routing/hash/fnv.ts";

const te = new TextEncoder();

function counts(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => ketamaPoints(w, total, weights.length));
}

Deno.test("ketama gives 160 points to each server when weights are equal", () => {
  assert.deepEqual(counts([1, 1, 1]), [160, 160, 160]);
  assert.deepEqual(counts([5, 5, 5, 5, 5]), [160, 160, 160, 160, 160]);
  assert.deepEqual(counts(Array(10).fill(1)), Array(10).fill(160));
  assert.deepEqual(counts([7]), [160]);
});

Deno.test("ketama point counts follow nutcracker's float32 arithmetic for unequal weights", () => {
  assert.deepEqual(counts([1, 2]), [104, 212]);
  assert.deepEqual(counts([1, 2, 3]), [80, 160, 240]);
  assert.deepEqual(counts([3, 7]), [96, 224]);
  assert.deepEqual(counts([1, 1, 2]), [120, 120, 240]);
});

Deno.test("ketama gives no points to a tiny weight next to a huge one", () => {
  assert.deepEqual(counts([100000, 1]), [316, 0]);
  const k = new Ketama([{ name: "heavy", weight: 100000 }, { name: "light", weight: 1 }], [true, true]);
  for (let h = 0; h < 2 ** 32; h += 9_999_991) assert.equal(k.pick(h), 0);
});

/** nutcracker 0.5.0's worked example A: names in nutcracker's sorted order. */
const EXAMPLE_A = [
  { name: "127.0.0.1:31211", weight: 1 },
  { name: "127.0.0.1:31212", weight: 1 },
  { name: "127.0.0.1:31213", weight: 2 },
];

Deno.test("ketama continuum of example A has nutcracker 0.5.0's lowest and highest points", () => {
  const k = new Ketama(EXAMPLE_A, [true, true, true]);
  // Lowest points 11921266 (31212), 14377607 (31213), 24142339 (31212), 25343552 (31213),
  // 33172020 (31212), 34530690 (31213); highest 4292648281 (31213).
  const lowest: [number, number][] = [
    [11921266, 1],
    [14377607, 2],
    [24142339, 1],
    [25343552, 2],
    [33172020, 1],
    [34530690, 2],
  ];
  assert.equal(k.pick(0), 1);
  let previous = 0;
  for (const [value, owner] of lowest) {
    assert.equal(k.pick(previous + 1), owner, `just above ${previous}`);
    assert.equal(k.pick(value), owner, `at ${value}`);
    previous = value;
  }
  assert.equal(k.pick(4292648281), 2);
  // Above the highest point the lookup wraps to the first one.
  assert.equal(k.pick(4292648282), 1);
  assert.equal(k.pick(0xffffffff), 1);
});

Deno.test("ketama places example A's keys on nutcracker 0.5.0's servers, all live and with 31212 ejected", () => {
  const all = new Ketama(EXAMPLE_A, [true, true, true]);
  const ejected = new Ketama(EXAMPLE_A, [true, false, true]);
  const rows: [string, number, number][] = [
    ["foo", 2, 2],
    ["bar", 0, 0],
    ["baz", 0, 0],
    ["hello", 2, 2],
    ["user:1", 2, 2],
    ["user:3", 2, 2],
    ["session:abc", 2, 2],
    ["a", 2, 2],
    ["b", 2, 2],
    ["k1", 1, 2],
    ["k2", 1, 2],
  ];
  for (const [key, live, withEjection] of rows) {
    const b = te.encode(key);
    const h = fnv1a_64(b, 0, b.length);
    assert.equal(all.pick(h), live, key);
    assert.equal(ejected.pick(h), withEjection, `${key} with 31212 ejected`);
  }
});

Deno.test("ketama never picks an ejected server", () => {
  const k = new Ketama(EXAMPLE_A, [false, true, false]);
  for (let h = 0; h < 2 ** 32; h += 65_537_011) assert.equal(k.pick(h), 1);
});

Deno.test("ketama hashes point names longer than 272 bytes as their first 272 bytes", () => {
  // Names that only differ after byte 272 produce the same points: the two continua agree.
  const long = (tail: string) => [{ name: "x".repeat(272) + tail, weight: 1 }, { name: "y", weight: 1 }];
  const a = new Ketama(long("A"), [true, true]);
  const b = new Ketama(long("BBBB"), [true, true]);
  for (let h = 0; h < 2 ** 32; h += 16_777_259) assert.equal(a.pick(h), b.pick(h));
});

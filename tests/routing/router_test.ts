import assert from "assert";
import { HASH_NAMES } from "../../src/config/types.ts";
import { PLACEHOLDER, Router, type RouterOptions } from "../../src/routing/router.ts";

const te = new TextEncoder();

function pick(r: Router, key: string | Uint8Array): number {
  const b = typeof key === "string" ? te.encode(key) : key;
  return r.pick(b, 0, b.length);
}

/** nutcracker 0.5.0's worked example A, in nutcracker's sorted order. */
const EXAMPLE_A: RouterOptions["servers"] = [
  { name: "127.0.0.1:31211", weight: 1 },
  { name: "127.0.0.1:31212", weight: 1 },
  { name: "127.0.0.1:31213", weight: 2 },
];

function router(
  distribution: RouterOptions["distribution"],
  servers = EXAMPLE_A,
  hashTag: string | null = null,
) {
  return new Router({
    hash: "fnv1a_64",
    distribution,
    hashTag: hashTag ? te.encode(hashTag) : null,
    servers,
  });
}

Deno.test("PLACEHOLDER is the bytes of `placeholder`", () => {
  assert.deepEqual(PLACEHOLDER, te.encode("placeholder"));
});

Deno.test("Router places example A's keys like nutcracker, ketama and modula", () => {
  const rows: [string, number, number][] = [
    ["foo", 2, 2],
    ["bar", 0, 2],
    ["k1", 1, 1],
    ["user:3", 2, 1],
    ["a", 2, 0],
  ];
  const ketama = router("ketama");
  const modula = router("modula");
  for (const [key, k, m] of rows) {
    assert.equal(pick(ketama, key), k, `ketama ${key}`);
    assert.equal(pick(modula, key), m, `modula ${key}`);
  }
});

Deno.test("Router routes placeholder and the empty key (hash 0) as in example A", () => {
  assert.equal(pick(router("ketama"), PLACEHOLDER), 1);
  assert.equal(pick(router("modula"), PLACEHOLDER), 2);
  assert.equal(pick(router("ketama"), ""), 1);
  assert.equal(pick(router("modula"), ""), 0);
});

Deno.test("Router rebuilds on setLive: ejecting 31212 moves only its keys, returning it restores them", () => {
  const r = router("ketama");
  r.setLive([true, false, true]);
  assert.equal(pick(r, "k1"), 2);
  assert.equal(pick(r, "k2"), 2);
  assert.equal(pick(r, "bar"), 0);
  assert.equal(pick(r, "foo"), 2);
  r.setLive([true, true, true]);
  assert.equal(pick(r, "k1"), 1);
});

Deno.test("Router modula with the middle server ejected uses the table of live weights", () => {
  const r = router("modula");
  r.setLive([true, false, true]);
  assert.equal(pick(r, "hello"), 0);
});

Deno.test("Router applies hash_tag and server names as in example B", () => {
  // `zeta` (31211), `al` (31212), `beta` (31213) sort as al, beta, zeta; addresses play no role.
  const named = [{ name: "al", weight: 1 }, { name: "beta", weight: 1 }, { name: "zeta", weight: 1 }];
  const r = router("ketama", named, "{}");
  assert.equal(pick(r, "{user1}:a"), 2);
  assert.equal(pick(r, "{user1}:b"), 2);
  assert.equal(pick(r, "{}"), 1);
  assert.equal(pick(r, "plain"), 2);
  assert.equal(pick(r, "xaHELLObz"), 0);
});

Deno.test("Router names port-11211 servers by host, as in example B", () => {
  const hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((name) => ({ name, weight: 1 }));
  const r = router("ketama", hosts);
  assert.equal(pick(r, "foo"), 1);
  assert.equal(pick(r, "bar"), 2);
  assert.equal(pick(r, "user:1"), 2);
});

Deno.test("Router hashes only the key range of a larger buffer", () => {
  const r = router("ketama", EXAMPLE_A, "{}");
  const buf = te.encode("{k1}set {user1}:a 0 0 1");
  const alone = pick(r, "{user1}:a");
  assert.equal(r.pick(buf, 8, 17), alone);
  // An empty range is the empty key: hash 0, the owner of the first point.
  assert.equal(r.pick(buf, 4, 4), 1);
});

Deno.test("Router with one server answers 0 for every key and distribution, -1 once it is ejected", () => {
  for (const distribution of ["ketama", "modula", "random"] as const) {
    for (const hash of HASH_NAMES) {
      const r = new Router({ hash, distribution, hashTag: null, servers: [{ name: "only", weight: 3 }] });
      for (const key of ["", "foo", "placeholder", "\u00ff"]) assert.equal(pick(r, key), 0);
      r.setLive([false]);
      assert.equal(pick(r, "foo"), -1);
      r.setLive([true]);
      assert.equal(pick(r, "foo"), 0);
    }
  }
});

Deno.test("Router answers -1 when every server is ejected, for every distribution", () => {
  for (const distribution of ["ketama", "modula", "random"] as const) {
    const r = router(distribution);
    r.setLive([false, false, false]);
    assert.equal(pick(r, "foo"), -1);
    assert.equal(pick(r, ""), -1);
    r.setLive([false, false, true]);
    assert.equal(pick(r, "foo"), 2);
  }
});

Deno.test("Router random ignores the key, weights and hash_tag but stays on live servers", () => {
  const r = router(
    "random",
    [{ name: "a", weight: 100 }, { name: "b", weight: 1 }, { name: "c", weight: 1 }],
    "{}",
  );
  const seen = [0, 0, 0];
  for (let i = 0; i < 3000; i++) seen[pick(r, "{same}")]++;
  for (const n of seen) assert.ok(n > 700, `${seen}`);
  r.setLive([true, false, true]);
  for (let i = 0; i < 500; i++) assert.notEqual(pick(r, "x"), 1);
});

Deno.test("Router refuses an empty pool and a live set of the wrong size", () => {
  assert.throws(() => router("ketama", []), RangeError);
  assert.throws(() => router("ketama").setLive([true, true]), RangeError);
});

Deno.test("Router keeps its own copy of the live set", () => {
  const r = router("ketama");
  const live = [true, false, true];
  r.setLive(live);
  live[1] = true;
  assert.equal(pick(r, "k1"), 2);
});

/**
 * The memcache model itself: a value an incr/decr made shorter may come back padded with spaces to
 * the old length or not (memcached 1.6 decides by the item's refcount, i.e. by timing), and the model
 * accepts exactly those two forms; everything else it still predicts byte for byte, so the scripts
 * built on it keep catching wrong replies. Against a real memcached, both forms are produced on
 * purpose and accepted.
 */
import assert from "assert";
import { MemcacheModel, valueBlock } from "./memcache_model.ts";
import {
  assertReplies,
  getStep,
  keySet,
  mixedSteps,
  prng,
  runScript,
  type Step,
  step,
  storageRequest,
} from "./memcache_scripts.ts";
import { startMemcached } from "../../harness/procs.ts";
import { withClient } from "../../harness/wire.ts";
import { needs } from "./needs.ts";

/** Whether `reply` passes as the reply of `s` (what assertReplies checks for one step). */
function accepts(s: Step, reply: string): boolean {
  try {
    assertReplies([reply], [s]);
    return true;
  } catch {
    return false;
  }
}

Deno.test("after a shrinking decr a get accepts the padded and the unpadded value, nothing else", () => {
  const m = new MemcacheModel();
  m.store("set", "n", 3, "1000");
  assert.equal(m.delta("decr", "n", 950n), "50\r\n");
  assert.deepEqual(m.values("n"), ["50  ", "50"]);
  const g = getStep(m, ["n"]);
  assert.equal(g.expect, "VALUE n 3 4\r\n50  \r\nEND\r\n");
  assert.ok(g.padding);
  assert.ok(accepts(g, "VALUE n 3 4\r\n50  \r\nEND\r\n"), "padded in place");
  assert.ok(accepts(g, "VALUE n 3 2\r\n50\r\nEND\r\n"), "a new item of the exact length");
  for (
    const wrong of [
      "VALUE n 3 3\r\n50 \r\nEND\r\n", // padded to another length
      "VALUE n 3 4\r\n50 \r\nEND\r\n", // length and data disagree
      "VALUE n 3 4\r\n51  \r\nEND\r\n", // another number
      "VALUE n 0 2\r\n50\r\nEND\r\n", // other flags
      "VALUE n 3 5\r\n50   \r\nEND\r\n",
      "VALUE n 3 2\r\n50\r\nVALUE n 3 2\r\n50\r\nEND\r\n",
      "END\r\n",
    ]
  ) {
    assert.ok(!accepts(g, wrong), JSON.stringify(wrong));
  }
  // Every later step follows from both: a shorter result again, a longer one, an append.
  assert.equal(m.delta("decr", "n", 45n), "5\r\n");
  assert.deepEqual(m.values("n"), ["5   ", "5", "5 "]);
  assert.equal(m.delta("incr", "n", 995n), "1000\r\n");
  assert.deepEqual(m.values("n"), ["1000"]);
  assert.equal(getStep(m, ["n"]).padding, undefined, "certain again");
  m.delta("decr", "n", 993n);
  m.store("append", "n", 0, "x");
  assert.deepEqual(m.values("n"), ["7   x", "7x"]);
  assert.ok(accepts(getStep(m, ["n"]), "VALUE n 3 2\r\n7x\r\nEND\r\n"));
  assert.ok(!accepts(getStep(m, ["n"]), "VALUE n 3 3\r\n7 x\r\nEND\r\n"));
});

Deno.test("incr/decr is predictable only when every value the model keeps gives the same reply", () => {
  const m = new MemcacheModel();
  m.store("set", "n", 0, "100");
  m.delta("decr", "n", 95n); // "5  " or "5"
  assert.ok(m.deltaIsPredictable("n"));
  m.store("append", "n", 0, "7"); // "5  7" (memcached reads 5) or "57"
  assert.equal(m.deltaIsPredictable("n"), false);
  assert.throws(() => m.delta("incr", "n", 1n), /not predictable/);
  m.store("prepend", "n", 0, "x"); // non-numeric either way
  assert.ok(m.deltaIsPredictable("n"));
  assert.equal(m.delta("incr", "n", 1n), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  m.store("set", "w", 0, "99");
  assert.equal(m.delta("incr", "w", 1n), "100\r\n");
  assert.deepEqual(m.values("w"), ["100"], "a longer result is a new item: never padded");
  m.store("set", "z", 0, "18446744073709551615".slice(0, 19));
  assert.equal(m.delta("decr", "z", 0n), "1844674407370955161\r\n", "same length: in place, the same bytes");
  assert.deepEqual(m.values("z"), ["1844674407370955161"]);
});

Deno.test("mixed scripts: certain replies stay exact, uncertain gets accept both forms only", () => {
  let padded = 0;
  // A shrink is rare (a decr across a power of ten): 100 scripts hold about 130 gets of shrunk values.
  for (let seed = 0; seed < 100; seed++) {
    const steps = mixedSteps(new MemcacheModel(), prng(seed), keySet("s:", 6), 2000);
    for (const s of steps) {
      if (s.expect === null) continue;
      if (!s.padding) {
        assert.equal(s.matches, undefined, s.request);
        continue;
      }
      padded++;
      assert.ok(accepts(s, s.expect), s.request);
      // The same reply with one byte of a value changed, or a padding space added, is refused.
      const i = s.expect.indexOf("\r\n") + 2;
      const changed = s.expect.slice(0, i) + (s.expect[i] === "9" ? "8" : "9") + s.expect.slice(i + 1);
      assert.ok(!accepts(s, changed), JSON.stringify(changed));
      const m = /^VALUE (\S+) (\d+) (\d+)\r\n/.exec(s.expect)!;
      const longer = `VALUE ${m[1]} ${m[2]} ${Number(m[3]) + 1}\r\n` +
        s.expect.slice(m[0].length).replace("\r\n", " \r\n");
      assert.ok(!accepts(s, longer), JSON.stringify(longer));
    }
  }
  assert.ok(padded > 50, `only ${padded} gets of shrunk values`);
});

Deno.test(
  "a real memcached pads a shrunk number in place, or not while a reply holds the item; the model takes both",
  needs("memcached"),
  async () => {
    const mc = await startMemcached();
    try {
      const model = new MemcacheModel();
      const big = "b".repeat(900_000);
      const setup = [
        step(storageRequest("set", "big", big), model.store("set", "big", 0, big)),
        step(storageRequest("set", "p", "1000"), model.store("set", "p", 0, "1000")),
        step(storageRequest("set", "q", "1000"), model.store("set", "q", 0, "1000")),
      ];
      await withClient(mc.port, async (w) => assertReplies((await runScript(w, setup)).replies, setup));

      // p: nothing else holds it, so memcached writes 50 in place, padded.
      const p = [step("decr p 950\r\n", model.delta("decr", "p", 950n)), getStep(model, ["p"])];
      const gotP = await withClient(mc.port, async (w) => (await runScript(w, p)).replies);
      assertReplies(gotP, p, "p");
      assert.equal(gotP[1], valueBlock("p", 0, "50  ") + "END\r\n");

      // q: a client that does not read its 90 MB get reply (far more than socket buffers take) keeps a
      // reference to q, so memcached stores 50 as a new item, unpadded.
      const q = [step("decr q 950\r\n", model.delta("decr", "q", 950n)), getStep(model, ["q"])];
      const stalled = await Deno.connect({ hostname: "127.0.0.1", port: mc.port });
      try {
        await stalled.write(new TextEncoder().encode(`get ${"big ".repeat(100)}q\r\n`));
        // The reply has begun: memcached took its references. Nothing more is read.
        assert.ok(await stalled.read(new Uint8Array(1024)));
        const gotQ = await withClient(mc.port, async (w) => (await runScript(w, q)).replies);
        assertReplies(gotQ, q, "q");
        assert.equal(gotQ[1], valueBlock("q", 0, "50") + "END\r\n");
      } finally {
        stalled.close();
      }
    } finally {
      await mc.stop();
    }
  },
);

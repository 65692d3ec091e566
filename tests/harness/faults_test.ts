import assert from "assert";
import { Faults, GARBAGE } from "../../harness/faults.ts";

Deno.test("faults serve normally until one is set", () => {
  const faults = new Faults();
  assert.strictEqual(faults.current, null);
  assert.strictEqual(faults.take(), null);
});

Deno.test("a mode fault applies to every request until cleared", () => {
  const faults = new Faults();
  faults.set({ mode: "delay", ms: 5 });
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(faults.take(), { mode: "delay", ms: 5 });
  faults.set({ mode: "silent" });
  assert.deepStrictEqual(faults.take(), { mode: "silent" });
  faults.clear();
  assert.strictEqual(faults.take(), null);
});

Deno.test("a reply fault is used up after its times, one by default", () => {
  const faults = new Faults();
  faults.set({ mode: "reply", raw: "-LOADING\r\n", times: 2 });
  assert.strictEqual(faults.take()?.mode, "reply");
  assert.strictEqual(faults.take()?.mode, "reply");
  assert.strictEqual(faults.take(), null);
  faults.set({ mode: "reply", raw: "-BUSY\r\n" });
  assert.strictEqual(faults.take()?.mode, "reply");
  assert.strictEqual(faults.current, null);
});

Deno.test("a reply fault with infinite times is never used up", () => {
  const faults = new Faults();
  faults.set({ mode: "reply", raw: "x", times: Infinity });
  for (let i = 0; i < 100; i++) faults.take();
  assert.strictEqual(faults.current?.mode, "reply");
});

Deno.test("faults refuse a negative delay or a reply count below one", () => {
  const faults = new Faults();
  assert.throws(() => faults.set({ mode: "delay", ms: -1 }), RangeError);
  assert.throws(() => faults.set({ mode: "delay", ms: NaN }), RangeError);
  assert.throws(() => faults.set({ mode: "reply", raw: "x", times: 0 }), RangeError);
  assert.strictEqual(faults.current, null);
});

Deno.test("garbage is a line no memcached or redis parser accepts", () => {
  assert.strictEqual(GARBAGE, "BOGUS\r\n");
});

import assert from "assert";
import { Random } from "../../src/routing/random.ts";

Deno.test("random spreads picks evenly over live servers, ignoring weights and the hash", () => {
  const r = new Random([true, true, true]);
  const seen = [0, 0, 0];
  for (let i = 0; i < 30000; i++) seen[r.pick(12345)]++;
  // Weights do not reach Random at all; each server gets about a third.
  for (const n of seen) assert.ok(n > 8000 && n < 12000, `${seen}`);
});

Deno.test("random only picks live servers", () => {
  const r = new Random([false, true, false, true]);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) seen.add(r.pick(i));
  assert.deepEqual([...seen].sort(), [1, 3]);
});

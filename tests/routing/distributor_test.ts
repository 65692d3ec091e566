import assert from "assert";
import { liveIndexes } from "../../src/routing/distributor.ts";

Deno.test("liveIndexes lists the live server indexes in index order", () => {
  assert.deepEqual(liveIndexes([true, false, true, true]), [0, 2, 3]);
  assert.deepEqual(liveIndexes([false, false]), []);
  assert.deepEqual(liveIndexes([]), []);
});

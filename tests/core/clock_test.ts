import assert from "assert";
import { now } from "../../src/core/clock.ts";

Deno.test("the clock is read once per task and moves on in the next one", async () => {
  const first = now();
  assert.ok(Math.abs(first - Date.now()) < 50);
  const spin = Date.now() + 5;
  while (Date.now() < spin) { /* let the wall clock move */ }
  assert.equal(now(), first, "same task: the cached time");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(now() > first, "a later task sees a later time");
});

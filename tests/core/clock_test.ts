import assert from "assert";
import { hrNow, now } from "../../src/core/clock.ts";

Deno.test("the clock is read once per task and moves on in the next one", async () => {
  const first = now();
  assert.ok(Math.abs(first - Date.now()) < 50);
  const spin = Date.now() + 5;
  while (Date.now() < spin) { /* let the wall clock move */ }
  assert.equal(now(), first, "same task: the cached time");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(now() > first, "a later task sees a later time");
});

Deno.test("the monotonic clock is read once per task too, and both clocks move on together", async () => {
  const wall = now();
  const first = hrNow();
  const spin = performance.now() + 2;
  while (performance.now() < spin) { /* let the clock move */ }
  assert.equal(hrNow(), first, "same task: the cached time");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(hrNow() > first, "a later task sees a later time");
  assert.ok(now() >= wall);
});

import assert from "assert";
import { ConfigError, InvalidValue } from "../../src/config/error.ts";

Deno.test("a ConfigError's message is nutcracker's line plus the context in parentheses", () => {
  const e = new ConfigError('conf: directive "hash" is not a valid hash', "pool 'a'");
  assert.equal(e.message, `conf: directive "hash" is not a valid hash (pool 'a')`);
  assert.equal(new ConfigError("conf: x").message, "conf: x");
});

Deno.test("a ConfigError without a nutcracker line is its context alone", () => {
  const e = new ConfigError("", "conf: a pool name is empty (line 1)");
  assert.equal(e.ncMessage, "");
  assert.equal(e.message, "conf: a pool name is empty (line 1)");
});

Deno.test("an InvalidValue carries the reason and an optional extra line", () => {
  const e = new InvalidValue("has an invalid value", "address resolution failed");
  assert.deepEqual([e.reason, e.detail], ["has an invalid value", "address resolution failed"]);
});

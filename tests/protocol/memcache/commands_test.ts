import assert from "assert";
import { Cmd, isRetrieval, isStorage, lookupCommand } from "../../../src/protocol/memcache/commands.ts";
import { bin } from "./latin1.ts";

const NAMES: [string, Cmd][] = [
  ["get", Cmd.Get],
  ["gets", Cmd.Gets],
  ["set", Cmd.Set],
  ["add", Cmd.Add],
  ["replace", Cmd.Replace],
  ["append", Cmd.Append],
  ["prepend", Cmd.Prepend],
  ["cas", Cmd.Cas],
  ["incr", Cmd.Incr],
  ["decr", Cmd.Decr],
  ["touch", Cmd.Touch],
  ["delete", Cmd.Delete],
  ["quit", Cmd.Quit],
  ["version", Cmd.Version],
];

Deno.test("every supported command is found by its lowercase name", () => {
  for (const [name, cmd] of NAMES) {
    const buf = bin(` ${name} `);
    assert.equal(lookupCommand(buf, 1, 1 + name.length), cmd, name);
  }
});

Deno.test("other names, other cases and prefixes are not commands", () => {
  for (const name of ["GET", "Get", "ge", "getx", "stats", "flush_all", "gat", "mg", "verbosity", ""]) {
    assert.equal(lookupCommand(bin(name), 0, name.length), -1, name);
  }
});

Deno.test("get/gets are the retrievals; set/add/replace/append/prepend/cas the storage commands", () => {
  const retrieval = NAMES.filter(([, c]) => isRetrieval(c)).map(([n]) => n);
  const storage = NAMES.filter(([, c]) => isStorage(c)).map(([n]) => n);
  assert.deepEqual(retrieval, ["get", "gets"]);
  assert.deepEqual(storage, ["set", "add", "replace", "append", "prepend", "cas"]);
});

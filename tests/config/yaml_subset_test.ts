import assert from "assert";
import { readConfigItems } from "../../src/config/yaml_subset.ts";
import { ConfigError } from "../../src/config/error.ts";

const ncMessage = (text: string) => {
  try {
    readConfigItems(text, "f.yml");
    return null;
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.ncMessage;
  }
};

Deno.test("items are pools and their directives in file order, sequences entry by entry", () => {
  const text = "b:\n  listen: x\n  servers:\n   - s1\n   - s2\n  hash: md5\na:\n  servers:\n   - s3\n";
  assert.deepEqual(readConfigItems(text, "f.yml"), [
    { kind: "pool", name: "b", line: 1 },
    { kind: "directive", key: "listen", value: "x", line: 2 },
    { kind: "directive", key: "servers", value: "s1", line: 4 },
    { kind: "directive", key: "servers", value: "s2", line: 5 },
    { kind: "directive", key: "hash", value: "md5", line: 6 },
    { kind: "pool", name: "a", line: 7 },
    { kind: "directive", key: "servers", value: "s3", line: 9 },
  ]);
});

Deno.test("empty scalars are kept as items: nutcracker's refusal comes later, in order", () => {
  const items = readConfigItems("a:\n  hash:\n  servers:\n   - s\n", "f.yml");
  assert.deepEqual(items[1], { kind: "directive", key: "hash", value: "", line: 2 });
});

Deno.test("quoted values count by their text", () => {
  const items = readConfigItems('a:\n  timeout: "400"\n  servers:\n   - s\n', "f.yml");
  assert.deepEqual(items[1], { kind: "directive", key: "timeout", value: "400", line: 2 });
});

Deno.test("document count is checked before tokens, tokens before structure", () => {
  assert.equal(
    ncMessage("a: [1]\n---\nb: c\n"),
    "conf: 'f.yml' must contain only 1 document; found 2 documents",
  );
  assert.equal(ncMessage("- [1]\n"), "conf: flow sequence start token (10) is disallowed");
  assert.equal(ncMessage("- a\n"), "conf: 'f.yml' has sequence at depth 0 instead of 2");
});

Deno.test("a syntax error anywhere comes first, even after a disallowed token", () => {
  assert.equal(ncMessage("a: [1]\nb: 'x"), "conf: failed (err 3) to get the next yaml document");
});

Deno.test("the first disallowed token in the file is the one reported", () => {
  assert.equal(ncMessage("a:\n  b: !!str c\n  d: &e f\n"), "conf: tag token (20) is disallowed");
});

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

Deno.test("a pool may also have one sequence under each of sentinels and replicas (tsproxy's own)", () => {
  const text =
    "a:\n  sentinels:\n   - t1\n   - t2\n  servers:\n   - s1\n  replicas:\n   - r1\n  hash: md5\n" +
    "b:\n  replicas:\n   - r2\n  listen: x\n";
  assert.deepEqual(readConfigItems(text, "f.yml"), [
    { kind: "pool", name: "a", line: 1 },
    { kind: "directive", key: "sentinels", value: "t1", line: 3 },
    { kind: "directive", key: "sentinels", value: "t2", line: 4 },
    { kind: "directive", key: "servers", value: "s1", line: 6 },
    { kind: "directive", key: "replicas", value: "r1", line: 8 },
    { kind: "directive", key: "hash", value: "md5", line: 9 },
    { kind: "pool", name: "b", line: 10 },
    { kind: "directive", key: "replicas", value: "r2", line: 12 },
    { kind: "directive", key: "listen", value: "x", line: 13 },
  ]);
});

Deno.test("any other second sequence in a pool is still nutcracker's error, and so is a second sentinels one", () => {
  const more = "conf: 'f.yml' has more than one sequence directive";
  assert.equal(ncMessage("a:\n  sentinels:\n   - t\n  servers:\n   - s\n  hash:\n   - md5\n"), more);
  assert.equal(ncMessage("a:\n  sentinels:\n   - t\n  servers:\n   - s\n  sentinels:\n   - u\n"), more);
  assert.equal(ncMessage("a:\n  replicas:\n   - r\n  replicas:\n   - q\n  servers:\n   - s\n"), more);
  assert.equal(ncMessage("a:\n  sentinels:\n   - - t\n  servers:\n   - s\n"), more);
  // A value that reads "sentinels" is no sequence key.
  assert.equal(
    ncMessage("a:\n  servers:\n   - s\n  hash: sentinels\n  ? - x\n  : y\n"),
    more,
  );
  // Each pool counts its own sequences.
  assert.equal(ncMessage("a:\n  sentinels:\n   - t\n  servers:\n   - s\nb:\n  sentinels:\n   - t\n"), null);
});

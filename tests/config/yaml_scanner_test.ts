import assert from "assert";
import { readYamlText } from "../../src/config/yaml_reader.ts";
import { Scanner, type Token, TokenType } from "../../src/config/yaml_scanner.ts";
import { YamlError, YamlErrorKind } from "../../src/config/yaml_error.ts";

// Expected streams were checked against libyaml 0.2.5 (the library nutcracker links).

function tokens(text: string): Token[] {
  const scanner = new Scanner(readYamlText(text));
  const out: Token[] = [];
  for (let token = scanner.scan(); token !== null; token = scanner.scan()) out.push(token);
  return out;
}
const types = (text: string) => tokens(text).map((t) => TokenType[t.type]).join(" ");
const scalars = (text: string) => tokens(text).filter((t) => t.type === TokenType.Scalar).map((t) => t.value);
const scanError = (text: string) => {
  try {
    tokens(text);
    return null;
  } catch (e) {
    assert.ok(e instanceof YamlError && e.kind === YamlErrorKind.Scanner);
    return e.problem;
  }
};

Deno.test("token numbers are libyaml's", () => {
  assert.deepEqual(
    [
      TokenType.VersionDirective,
      TokenType.DocumentStart,
      TokenType.FlowSequenceStart,
      TokenType.FlowMappingStart,
    ],
    [3, 5, 10, 12],
  );
  assert.deepEqual([TokenType.FlowEntry, TokenType.Alias, TokenType.Anchor, TokenType.Tag], [15, 18, 19, 20]);
});

Deno.test("block mappings and an indentless sequence give libyaml's token stream", () => {
  assert.equal(
    types("a:\n  s:\n  - x\n  - y\n"),
    "StreamStart BlockMappingStart Key Scalar Value BlockMappingStart Key Scalar Value " +
      "BlockEntry Scalar BlockEntry Scalar BlockEnd BlockEnd StreamEnd",
  );
});

Deno.test("an empty stream is just its start and end", () => {
  assert.equal(types(""), "StreamStart StreamEnd");
  assert.equal(types("# comment\n\n"), "StreamStart StreamEnd");
});

Deno.test("plain scalars fold lines and keep colons not followed by a space", () => {
  assert.deepEqual(scalars("a: b\n  c\n\n  d\n"), ["a", "b c\nd"]);
  assert.deepEqual(scalars("listen: 127.0.0.1:22121 # comment"), ["listen", "127.0.0.1:22121"]);
  assert.deepEqual(scalars("- ::1:6379:1 name"), ["::1:6379:1 name"]);
});

Deno.test("quoted scalars decode their escapes", () => {
  assert.deepEqual(scalars("k: 'it''s'"), ["k", "it's"]);
  assert.deepEqual(scalars('k: "\\x41\\u00e9\\/ \\\n  z"'), ["k", "Aé/ z"]);
  assert.deepEqual(scalars('k: "a\n\n  b"'), ["k", "a\nb"]);
});

Deno.test("block scalars follow their chomping indicators", () => {
  assert.deepEqual(scalars("k: |\n  one\n  two\n\nj: >-\n  a\n  b\n\n  c\n\n"), [
    "k",
    "one\ntwo\n",
    "j",
    "a b\nc",
  ]);
  assert.deepEqual(scalars("k: |+\n  x\n\n"), ["k", "x\n\n"]);
});

Deno.test("flow collections, anchors, aliases, tags and directives are tokens of their own", () => {
  assert.equal(
    types("k: [a, {b: c}]"),
    "StreamStart BlockMappingStart Key Scalar Value FlowSequenceStart Scalar FlowEntry FlowMappingStart " +
      "Key Scalar Value Scalar FlowMappingEnd FlowSequenceEnd BlockEnd StreamEnd",
  );
  const props = tokens("k: &a !!str v\nl: *a\nm: !<tag:x> w").filter((t) => [18, 19, 20].includes(t.type));
  assert.deepEqual(props.map((t) => [TokenType[t.type], t.handle, t.value]), [
    ["Anchor", undefined, "a"],
    ["Tag", "!!", "str"],
    ["Alias", undefined, "a"],
    ["Tag", "", "tag:x"],
  ]);
  assert.equal(
    types("%YAML 1.1\n%TAG !e! tag:e,2000:\n---\na\n...\n"),
    "StreamStart VersionDirective TagDirective DocumentStart Scalar DocumentEnd StreamEnd",
  );
});

Deno.test("inside flow collections, 'a:b' is one scalar and 'a:,' an error (libyaml 0.2.5)", () => {
  assert.deepEqual(scalars("{a:b}"), ["a:b"]);
  assert.equal(scanError("[a:,b]"), "found unexpected ':'");
});

Deno.test("tabs may not indent block content", () => {
  assert.equal(scanError("\ta: b"), "found character that cannot start any token");
  assert.equal(scanError("a: b\n\tc: d"), "found a tab character that violates indentation");
  assert.equal(scanError("a:\tb"), null);
});

Deno.test("libyaml's other scanner errors", () => {
  assert.equal(scanError('k: "\\q"'), "found unknown escape character");
  assert.equal(scanError('k: "\\\'"'), "found unknown escape character");
  assert.equal(scanError('k: "open'), "found unexpected end of stream");
  assert.equal(scanError("%FOO bar\n---\na"), "found unknown directive name");
  assert.equal(scanError("a: b: c"), "mapping values are not allowed in this context");
  assert.equal(scanError(`${"k".repeat(1025)}: v`), "mapping values are not allowed in this context");
  assert.equal(scanError(`${"k".repeat(1024)}: v`), null);
  assert.equal(scanError("a:\n  - b\n  c"), "could not find expected ':'");
});

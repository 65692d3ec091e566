import assert from "assert";
import { readYamlText } from "../../src/config/yaml_reader.ts";
import { Scanner } from "../../src/config/yaml_scanner.ts";
import { EventType, Parser } from "../../src/config/yaml_parser.ts";
import { YamlError, YamlErrorKind } from "../../src/config/yaml_error.ts";

// Expected events were checked against libyaml 0.2.5.

function events(text: string): string[] {
  const parser = new Parser(new Scanner(readYamlText(text)));
  const out: string[] = [];
  for (let event = parser.next(); event !== null; event = parser.next()) {
    const anchor = event.anchor === undefined ? "" : `&${event.anchor}`;
    out.push(
      event.type === EventType.Scalar ? `=${event.value}${anchor}` : `${EventType[event.type]}${anchor}`,
    );
  }
  return out;
}
const parseError = (text: string) => {
  try {
    events(text);
    return null;
  } catch (e) {
    assert.ok(e instanceof YamlError && e.kind === YamlErrorKind.Parser, String(e));
    return e.problem;
  }
};

Deno.test("a pool becomes nested mapping events with its servers sequence", () => {
  assert.deepEqual(events("alpha:\n  listen: x\n  servers:\n  - s1\n"), [
    "StreamStart",
    "DocumentStart",
    "MappingStart",
    "=alpha",
    "MappingStart",
    "=listen",
    "=x",
    "=servers",
    "SequenceStart",
    "=s1",
    "SequenceEnd",
    "MappingEnd",
    "MappingEnd",
    "DocumentEnd",
    "StreamEnd",
  ]);
});

Deno.test("a missing value is an empty scalar", () => {
  assert.deepEqual(events("a:\nb: c").slice(3, 7), ["=a", "=", "=b", "=c"]);
  assert.deepEqual(events("- &x").slice(2, 4), ["SequenceStart", "=&x"]);
});

Deno.test("each --- starts a document; an empty stream has none", () => {
  const documents = (text: string) => events(text).filter((e) => e === "DocumentStart").length;
  assert.equal(documents(""), 0);
  assert.equal(documents("---\n"), 1);
  assert.equal(documents("a: b\n---\nc: d\n"), 2);
  assert.equal(documents("a: b\n...\n...\n---\nc: d"), 2);
});

Deno.test("%YAML accepts versions 1.1 and 1.2 only", () => {
  assert.equal(parseError("%YAML 1.2\n---\na"), null);
  assert.equal(parseError("%YAML 2.0\n---\na"), "found incompatible YAML document");
  assert.equal(parseError("%YAML 1.1\n%YAML 1.1\n---\na"), "found duplicate %YAML directive");
});

Deno.test("tag handles must be declared in the document", () => {
  assert.equal(parseError("!e!x a"), "found undefined tag handle");
  assert.equal(parseError("%TAG !e! tag:e,2000:\n---\n!e!x a"), null);
  assert.equal(parseError("%TAG !e! tag:e,2000:\n---\na\n---\n!e!x a"), "found undefined tag handle");
});

Deno.test("libyaml's parser errors and its flow-mapping quirk", () => {
  assert.equal(parseError("a: b\n...\nc: d"), "did not find expected <document start>");
  assert.equal(parseError("a: ]"), "did not find expected node content");
  assert.equal(parseError("[a b"), "did not find expected ',' or ']'");
  assert.equal(parseError("[? : x]"), "did not find expected ',' or ']'");
  assert.equal(parseError("- a\nb: c"), "did not find expected '-' indicator");
  assert.equal(parseError("a:\n  b: c\n d: e"), "did not find expected key");
});

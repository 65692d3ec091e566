import assert from "assert";
import { decodeYamlBytes, readYamlText } from "../../src/config/yaml_reader.ts";
import { YamlError, YamlErrorKind } from "../../src/config/yaml_error.ts";

const isReaderError = (e: unknown) => e instanceof YamlError && e.kind === YamlErrorKind.Reader;

Deno.test("the reader drops one leading byte order mark and keeps the rest as code points", () => {
  assert.deepEqual(readYamlText("\ufeffa\ufeff"), [0x61, 0xfeff]);
  assert.deepEqual(readYamlText("é😀"), [0xe9, 0x1f600]);
});

Deno.test("the reader accepts tab, line breaks and printable characters only", () => {
  assert.deepEqual(readYamlText("\t\r\n\x85"), [9, 13, 10, 0x85]);
  for (const text of ["a\x00", "\x01", "\x7f", "\x9f", "\ufffe", "\ud800"]) {
    assert.throws(() => readYamlText(text), isReaderError, JSON.stringify(text));
  }
});

Deno.test("a reader error says on which line", () => {
  assert.throws(
    () => readYamlText("a: b\nc: \x07"),
    (e: YamlError) => e.mark.line === 1 && e.mark.column === 3,
  );
});

Deno.test("bytes are UTF-8 unless a UTF-16 byte order mark says otherwise", () => {
  assert.equal(decodeYamlBytes(new TextEncoder().encode("\ufeffé")), "\ufeffé");
  assert.equal(decodeYamlBytes(new Uint8Array([0xff, 0xfe, 0x61, 0x00])), "\ufeffa");
  assert.equal(decodeYamlBytes(new Uint8Array([0xfe, 0xff, 0x00, 0x61])), "\ufeffa");
});

Deno.test("undecodable bytes are a reader error", () => {
  assert.throws(() => decodeYamlBytes(new Uint8Array([0x61, 0xc3])), isReaderError);
  assert.throws(() => decodeYamlBytes(new Uint8Array([0xff, 0xfe, 0x00, 0xd8])), isReaderError);
});

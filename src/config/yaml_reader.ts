/**
 * libyaml's reader: turns configuration bytes or text into the code points the scanner works on,
 * rejecting what libyaml's reader rejects (bad encoding, control characters).
 */
import { YamlError, YamlErrorKind } from "./yaml_error.ts";

const BOM = 0xfeff;

/**
 * Decodes a configuration file as libyaml does: UTF-16 when it starts with a UTF-16 byte order mark,
 * UTF-8 otherwise. Undecodable bytes are a reader error.
 */
export function decodeYamlBytes(bytes: Uint8Array): string {
  const encoding = bytes[0] === 0xff && bytes[1] === 0xfe
    ? "utf-16le"
    : bytes[0] === 0xfe && bytes[1] === 0xff
    ? "utf-16be"
    : "utf-8";
  try {
    // ignoreBOM keeps the mark in the text so that readYamlText strips exactly one, like libyaml.
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new YamlError(YamlErrorKind.Reader, `invalid ${encoding} input`, { line: 0, column: 0 });
  }
}

/** YAML 1.1's printable set, which libyaml's reader enforces on every character. */
function isAllowed(cp: number): boolean {
  return cp === 0x09 || cp === 0x0a || cp === 0x0d || (cp >= 0x20 && cp <= 0x7e) || cp === 0x85 ||
    (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * The code points of a YAML text, without its leading byte order mark (the reader consumes it, so
 * it does not count as a column). Throws a reader error on a control character or a lone surrogate.
 */
export function readYamlText(text: string): number[] {
  const cps: number[] = [];
  let line = 0;
  let column = 0;
  let first = true;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const leadingBom = first && cp === BOM;
    first = false;
    if (leadingBom) continue;
    if (!isAllowed(cp)) {
      throw new YamlError(YamlErrorKind.Reader, "control characters are not allowed", { line, column });
    }
    cps.push(cp);
    if (cp === 0x0a) {
      line++;
      column = 0;
    } else column++;
  }
  return cps;
}

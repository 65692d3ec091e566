/**
 * Byte-level helpers shared by the memcache parsers: the ASCII bytes the grammar is made of and
 * matching a byte range against a small table of words without decoding it.
 */

/** `\r` */
export const CR = 13;
/** `\n` */
export const LF = 10;
/** `' '`, the only field separator memcache knows. */
export const SP = 32;
/** `-` */
export const MINUS = 45;
/** DEL, the one control character above the printable range. */
export const DEL = 127;

/** Whether `c` is an ASCII decimal digit. */
export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether `c` is an ASCII lowercase letter. */
export function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

/** The bytes of an ASCII text (a protocol word or line). */
export function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/** A table of ASCII words, compiled once so lookups compare bytes. */
export type WordTable = readonly Uint8Array[];

/** Compiles ASCII words for `wordIndex`. */
export function wordTable(words: readonly string[]): WordTable {
  return words.map(asciiBytes);
}

/** Index in `table` of the word equal to buf[start, end), or -1. */
export function wordIndex(table: WordTable, buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  next: for (let w = 0; w < table.length; w++) {
    const word = table[w];
    if (word.length !== len) continue;
    for (let i = 0; i < len; i++) {
      if (word[i] !== buf[start + i]) continue next;
    }
    return w;
  }
  return -1;
}

/** Bytes of buf[start, end) as text fit for a one-line message: non-printable bytes as \xNN. */
export function printable(buf: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = buf[i];
    s += c > 32 && c < 127 && c !== 92 ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return s;
}

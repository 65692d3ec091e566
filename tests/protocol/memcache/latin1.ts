/**
 * Test support for the memcache protocol tests: one char per byte both ways, so keys and values can
 * hold any byte (\x00..\xff) written in a string literal.
 */

/** The bytes of a string whose chars are all below 256. */
export function bin(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/** The string of a byte range, one char per byte (for assertions). */
export function str(buf: Uint8Array, start = 0, end = buf.length): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
  return s;
}

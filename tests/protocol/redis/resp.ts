/** Test support for the redis protocol tests: building RESP bytes and reading them back. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of a string. */
export const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Text of bytes (for assertions only). */
export const text = (b: Uint8Array): string => decoder.decode(b);

/** The byte streams one after the other. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A request as a RESP array of bulk strings. */
export function command(...args: (string | Uint8Array)[]): Uint8Array {
  const parts = [bytes(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = typeof arg === "string" ? bytes(arg) : arg;
    parts.push(bytes(`$${b.length}\r\n`), b, bytes("\r\n"));
  }
  return concat(...parts);
}

/** Small RESP2 writers and readers for the replies and requests the proxy makes itself. */

const encoder = new TextEncoder();

/** A RESP array of bulk strings, from text arguments (UTF-8) or bytes. */
export function command(...args: (string | Uint8Array)[]): Uint8Array {
  const parts = args.map((a) => typeof a === "string" ? encoder.encode(a) : a);
  const head = (n: number) => encoder.encode(`$${n}\r\n`);
  const chunks: Uint8Array[] = [encoder.encode(`*${parts.length}\r\n`)];
  for (const p of parts) chunks.push(head(p.length), p, CRLF);
  return concat(chunks);
}

const CRLF = encoder.encode("\r\n");

/** The bytes of `chunks`, one after the other. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The ranges [s0, e0, s1, e1, ...] of msg as byte arrays (views). */
export function argsOf(msg: Uint8Array, ranges: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < ranges.length; i += 2) out.push(msg.subarray(ranges[i], ranges[i + 1]));
  return out;
}

/** A byte string as a map key: one char per byte. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** The bytes of a string made by `latin1`. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Whether `bytes` spell `word` (ASCII, any letter case). */
export function isWord(bytes: Uint8Array, word: string): boolean {
  if (bytes.length !== word.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] | 0x20) !== (word.charCodeAt(i) | 0x20)) return false;
  }
  return true;
}

/**
 * The top-level elements of a RESP array reply whose elements are bulk strings or integers (a
 * pub/sub push), as views: bulks as their data, integers as their digits; null for anything else.
 */
export function pushElements(reply: Uint8Array): Uint8Array[] | null {
  if (reply[0] !== 42) return null; // '*'
  let at = 1;
  const line = (): number => {
    const start = at;
    while (at < reply.length && reply[at] !== 13) at++;
    const n = Number(new TextDecoder().decode(reply.subarray(start, at)));
    at += 2;
    return n;
  };
  const count = line();
  const out: Uint8Array[] = [];
  for (let i = 0; i < count && at < reply.length; i++) {
    const type = reply[at++];
    if (type === 36) { // '$'
      const len = line();
      if (len < 0) {
        out.push(new Uint8Array(0));
        continue;
      }
      out.push(reply.subarray(at, at + len));
      at += len + 2;
    } else if (type === 58) { // ':'
      const start = at;
      while (reply[at] !== 13) at++;
      out.push(reply.subarray(start, at));
      at += 2;
    } else return null;
  }
  return out.length === count ? out : null;
}

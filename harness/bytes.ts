/**
 * Byte helpers shared by the fake backends: keys and protocol text are handled as latin1 strings
 * (one char per byte), which keeps binary keys intact without a hot-path-grade byte map.
 */

/** The bytes as a string with one char (code 0..255) per byte. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  // Chunked: spreading a large array into fromCharCode would overflow the call stack.
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** The inverse of `latin1`: one byte per char (chars above 255 are truncated to their low byte). */
export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Joins byte chunks and latin1 strings into one array. */
export function concat(parts: (Uint8Array | string)[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? fromLatin1(p) : p);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Bytes received but not yet consumed by a parser: appended at the tail, dropped from the head,
 * with room grown by doubling so a large value arriving in many reads is copied O(n) times overall.
 */
export class ByteQueue {
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  /** The unconsumed bytes (a view, valid until the next push or drop). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Appends a chunk. */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.#end - this.#start;
      let size = this.#buf.length;
      while (size < live + chunk.length) size *= 2;
      if (size === this.#buf.length) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#end = live;
      this.#start = 0;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Consumes `n` bytes from the head. */
  drop(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }
}

/** A string for messages: JSON-quoted, a long one cut in the middle. */
export function show(s: string): string {
  const q = JSON.stringify(s);
  return q.length <= 300 ? q : `${q.slice(0, 150)}...(${s.length} bytes)...${q.slice(-100)}`;
}

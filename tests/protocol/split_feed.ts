/**
 * Test support for incremental parsers: feeds a byte stream in reads of chosen sizes the way the
 * proxy core does, so a test can check that any chunking frames the same messages.
 */

/** A parser under test, adapted: the message framed at buf[start] and its length, or null for "need more". */
export type Frame<T> = (buf: Uint8Array, start: number, end: number) => { length: number; value: T } | null;

/** Junk placed around the live bytes: a parser reading outside [start, end) meets line ends and digits. */
const JUNK = new TextEncoder().encode("\r\n$1\r\n*1\r\n:1\r\n");

/**
 * Read boundaries to try for a stream of `length` bytes: all at once, every split into two reads,
 * and one byte per read. Each entry lists the stream offsets where a read ends.
 */
export function* chunkings(length: number): Generator<number[]> {
  yield [length];
  for (let cut = 1; cut < length; cut++) yield [cut, length];
  if (length > 2) yield Array.from({ length }, (_, i) => i + 1);
}

/**
 * Feeds `stream` in reads ending at `cuts` and frames every message it can after each read. Like
 * the core, a message that needs more bytes is retried from its first byte once more arrive. With
 * `copy` (the default) each attempt sees the unconsumed bytes in a fresh buffer at a different
 * offset, surrounded by junk; without it every attempt reads the stream itself (cheap for large
 * streams). Returns the framed values in order and how many trailing bytes were left unframed.
 */
export function feed<T>(
  stream: Uint8Array,
  cuts: readonly number[],
  frame: Frame<T>,
  copy = true,
): { values: T[]; rest: number } {
  const values: T[] = [];
  let consumed = 0;
  let attempt = 0;
  for (const cut of cuts) {
    while (consumed < cut) {
      let buf = stream;
      let start = consumed;
      if (copy) {
        start = 1 + (attempt++ % 7);
        buf = new Uint8Array(start + cut - consumed + JUNK.length);
        buf.set(JUNK.subarray(0, start), 0);
        buf.set(stream.subarray(consumed, cut), start);
        buf.set(JUNK, start + cut - consumed);
      }
      const framed = frame(buf, start, start + cut - consumed);
      if (framed === null) break;
      if (framed.length <= 0 || framed.length > cut - consumed) {
        throw new Error(`bad frame length ${framed.length}`);
      }
      values.push(framed.value);
      consumed += framed.length;
    }
  }
  return { values, rest: stream.length - consumed };
}

/**
 * Test support for incremental parsers: feeds a byte stream in reads of chosen sizes the way the
 * proxy core does, so a test can check that any chunking frames the same messages, also when the
 * core drops the bytes a parser has settled (streaming a large value through).
 */
import assert from "assert";
import type { ReplyParser, RequestInfo } from "../../src/protocol/types.ts";

/**
 * The bytes [from, to) of the message being framed, relative to its first byte, whether or not the
 * core has dropped them from its buffer (for reading keys and replies back in assertions).
 */
export type MessageBytes = (from: number, to: number) => Uint8Array;

/**
 * A parser under test, adapted: the message framed at buf[start] and its length, or null for "need
 * more". `message` reads the message's bytes back for the assertions.
 */
export type Frame<T> = (
  buf: Uint8Array,
  start: number,
  end: number,
  message: MessageBytes,
) => { length: number; value: T } | null;

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

/** Read boundaries for a stream of `length` bytes arriving `size` bytes per read. */
export function evenReads(length: number, size: number): number[] {
  return Array.from({ length: Math.ceil(length / size) }, (_, i) => Math.min(length, (i + 1) * size));
}

/**
 * A reply parser adapted to frame replies by length only (for large replies: decoding them would
 * dwarf the parsing); a reply that is not one (-1) throws.
 */
export function replyLengths(parser: ReplyParser): Frame<number> {
  return (buf, start, end) => {
    const n = parser.parse(buf, start, end);
    if (n < 0) throw new Error("invalid reply");
    return n === 0 ? null : { length: n, value: n };
  };
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
      const framed = frame(
        buf,
        start,
        start + cut - consumed,
        (from, to) => buf.subarray(start + from, start + to),
      );
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

/**
 * How many leading bytes of the pending message the simulated core has dropped, in all, after the
 * parser asked for more bytes (called with the arguments of that parse). `index` is the message's
 * place in the stream.
 */
export type Settle = (buf: Uint8Array, start: number, end: number, index: number) => number;

/**
 * `buf` as a parser may see it: reading an index outside [floor, end) throws, so must a subarray
 * reaching outside it. Other properties pass through.
 */
function guarded(buf: Uint8Array, floor: number, end: number): Uint8Array {
  const check = (i: number) => {
    if (!(i >= floor && i < end)) throw new Error(`read at ${i} outside [${floor}, ${end})`);
  };
  const subarray = (from: number, to: number) => {
    if (to > from) {
      check(from);
      check(to - 1);
    }
    return buf.subarray(from, to);
  };
  return new Proxy(buf, {
    get(target, prop) {
      if (typeof prop === "string" && /^-?\d+$/.test(prop)) check(Number(prop));
      if (prop === "subarray") return subarray;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** What `feedDropping` framed, and how much the simulated core held at most. */
export interface DropFeed<T> {
  values: T[];
  /** Trailing bytes left unframed. */
  rest: number;
  /** Most bytes held in the buffer at once (read and not yet dropped or framed). */
  maxHeld: number;
  /** Times bytes were dropped. */
  drops: number;
}

/**
 * Feeds `stream` in reads ending at `cuts` as the core does when it streams large messages: after
 * a "need more", `settle` says how many of the pending message's leading bytes are dropped in all;
 * the next attempt sees only the bytes kept, in a fresh buffer after junk, with `start` moved back by
 * the bytes dropped (so it may be negative). Every read outside the kept bytes [start + dropped, end)
 * throws. A settle below what was dropped already, or beyond the bytes received, throws too.
 */
export function feedDropping<T>(
  stream: Uint8Array,
  cuts: readonly number[],
  frame: Frame<T>,
  settle: Settle,
): DropFeed<T> {
  const values: T[] = [];
  let consumed = 0;
  let dropped = 0;
  let attempt = 0;
  let maxHeld = 0;
  let drops = 0;
  for (const cut of cuts) {
    while (consumed < cut) {
      const kept = stream.subarray(consumed + dropped, cut);
      const floor = 1 + (attempt++ % 7);
      const end = floor + kept.length;
      const raw = new Uint8Array(end + JUNK.length);
      raw.set(JUNK.subarray(0, floor), 0);
      raw.set(kept, floor);
      raw.set(JUNK, end);
      maxHeld = Math.max(maxHeld, kept.length);
      const buf = guarded(raw, floor, end);
      const start = floor - dropped;
      const origin = consumed;
      const framed = frame(buf, start, end, (from, to) => stream.subarray(origin + from, origin + to));
      if (framed === null) {
        const settled = settle(buf, start, end, values.length);
        if (settled < dropped || settled > end - start) {
          throw new Error(`settled ${settled} with ${dropped} dropped and ${end - start} received`);
        }
        if (settled > dropped) drops++;
        dropped = settled;
        break;
      }
      if (framed.length <= 0 || framed.length < dropped || framed.length > cut - consumed) {
        throw new Error(`bad frame length ${framed.length} (${dropped} dropped, ${cut - consumed} received)`);
      }
      values.push(framed.value);
      consumed += framed.length;
      dropped = 0;
    }
  }
  return { values, rest: stream.length - consumed, maxHeld, drops };
}

/**
 * Feeds `stream` through a reply parser `read` bytes per read, the settled bytes dropped after each
 * read, and asserts that every byte is framed with never more than two reads held at once. Returns
 * the replies' lengths.
 */
export function streamReplies(stream: Uint8Array, parser: ReplyParser, read: number): number[] {
  const { values, rest, maxHeld } = feedDropping(
    stream,
    evenReads(stream.length, read),
    replyLengths(parser),
    () => parser.settled,
  );
  assert.equal(rest, 0);
  assert.ok(maxHeld <= 2 * read, `held ${maxHeld}`);
  return values;
}

/** A request parser that streams (the optional members of RequestParser, implemented). */
export interface Streaming {
  readonly settled: number;
  pending(): RequestInfo | null;
}

/** A request routed before it was complete: the first `pending()` of it, its keys' bytes copied. */
export interface Routed {
  info: RequestInfo;
  keys: Uint8Array[];
}

/**
 * The core's side of streaming requests, as a `Settle`: nothing is dropped until `pending()` routes
 * the pending request; then its keys are read from the bytes held (reading dropped bytes throws)
 * and the settled bytes are dropped. Each later `pending()` of the same request must route it the
 * same way. `routed` maps a message's index to its first routing.
 */
export function requestCore(parser: Streaming): { settle: Settle; routed: Map<number, Routed> } {
  const routed = new Map<number, Routed>();
  const settle: Settle = (buf, start, _end, index) => {
    const info = parser.pending();
    if (info === null) return 0;
    if (info.keys.some((k) => k > parser.settled)) {
      throw new Error(`keys ${info.keys} beyond the ${parser.settled} settled bytes`);
    }
    const first = routed.get(index);
    if (first === undefined) {
      const keys: Uint8Array[] = [];
      for (let i = 0; i < info.keys.length; i += 2) {
        keys.push(buf.subarray(start + info.keys[i], start + info.keys[i + 1]).slice());
      }
      routed.set(index, { info: { ...info, keys: info.keys.slice() }, keys });
    } else if (
      info.cmd !== first.info.cmd || info.action !== first.info.action ||
      info.noreply !== first.info.noreply || info.keys.join() !== first.info.keys.join() ||
      (first.info.length > 0 && info.length !== first.info.length)
    ) {
      throw new Error(`pending() changed: ${JSON.stringify(first.info)} then ${JSON.stringify(info)}`);
    }
    return parser.settled;
  };
  return { settle, routed };
}

/**
 * Feeds `stream` through a streaming request parser `read` bytes per read, with the core's side of
 * streaming (`requestCore`), and asserts that every byte is framed, never more than two reads held
 * at once, and the bytes dropped at least once a read for all but one read of the `streamed` bytes
 * (a large value's). Returns the framed values and the first request's early routing.
 */
export function streamRequests<T>(
  stream: Uint8Array,
  parser: Streaming,
  frame: Frame<T>,
  read: number,
  streamed: number,
): { values: T[]; first: Routed } {
  const core = requestCore(parser);
  const { values, rest, maxHeld, drops } = feedDropping(
    stream,
    evenReads(stream.length, read),
    frame,
    core.settle,
  );
  assert.equal(rest, 0);
  const first = core.routed.get(0);
  assert.ok(first);
  assert.ok(maxHeld <= 2 * read, `held ${maxHeld}`);
  assert.ok(drops >= streamed / read - 1, `${drops} drops`);
  return { values, first };
}

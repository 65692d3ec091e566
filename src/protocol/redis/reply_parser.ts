/**
 * Incremental framing of RESP2 replies (status, error, integer, bulk, arrays nested to any depth),
 * spotting the error replies nutcracker treats as a server failure.
 */
import type { ReplyParser } from "../types.ts";

const CR = 13;
const LF = 10;
const SPACE = 32;
const MAX_DIGITS = 10;

/** Error words that mean the server cannot serve (nutcracker closes the connection on them). */
const FAILURE_WORDS = ["OOM", "BUSY", "LOADING"].map((w) => new TextEncoder().encode(w));

/** Whether the top-level error line buf[from, lineEnd) (after the `-`) starts with a failure word. */
function isFailureError(buf: Uint8Array, from: number, lineEnd: number): boolean {
  let wordEnd = from;
  while (wordEnd < lineEnd && buf[wordEnd] !== SPACE) wordEnd++;
  const len = wordEnd - from;
  for (const word of FAILURE_WORDS) {
    if (word.length !== len) continue;
    let i = 0;
    while (i < len && buf[from + i] === word[i]) i++;
    if (i === len) return true;
  }
  return false;
}

/**
 * The decimal in buf[from, to): `-1` gives -1 (nil), other signs or non-digits give -2 (invalid).
 */
function readLength(buf: Uint8Array, from: number, to: number): number {
  if (to - from === 2 && buf[from] === 45 && buf[from + 1] === 49) return -1;
  if (to === from || to - from > MAX_DIGITS) return -2;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) return -2;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** Whether buf[from, to) is an optionally signed decimal integer. */
function isInteger(buf: Uint8Array, from: number, to: number): boolean {
  if (from < to && buf[from] === 45) from++;
  if (from === to) return false;
  for (let i = from; i < to; i++) {
    if (buf[i] < 48 || buf[i] > 57) return false;
  }
  return true;
}

/** Frames one server connection's replies; keeps its place (and array nesting) across calls. */
export class RedisReplyParser implements ReplyParser {
  failure = false;
  need = 0;
  /**
   * After a 0: bytes never read again. Each element's line is read from its first byte, a bulk's
   * data only at its CRLF: the elements completed so far and the data received may be dropped.
   */
  settled = 0;
  /** Relative offset of the next element's first byte. */
  #pos = 0;
  /** Relative offset where the search for the current line's CR resumes. */
  #scan = 0;
  /** End of the pending bulk's data (relative), or -1 when no bulk is pending. */
  #dataEnd = -1;
  /** Elements still expected by each open array, outermost first. */
  #remaining: number[] = [];

  parse(buf: Uint8Array, start: number, end: number): number {
    const avail = end - start;
    this.need = 0;
    for (;;) {
      if (this.#dataEnd >= 0) {
        const dataEnd = this.#dataEnd;
        if (dataEnd + 2 > avail) {
          this.need = dataEnd + 2;
          this.settled = Math.min(avail, dataEnd);
          return 0;
        }
        if (buf[start + dataEnd] !== CR || buf[start + dataEnd + 1] !== LF) return this.#invalid();
        this.#dataEnd = -1;
        this.#pos = dataEnd + 2;
        if (this.#elementDone()) return this.#finish(false);
        continue;
      }
      const pos = this.#pos;
      this.settled = pos;
      if (pos >= avail) return 0;
      let cr = start + Math.max(pos + 1, this.#scan);
      while (cr < end && buf[cr] !== CR) cr++;
      if (cr + 1 >= end) {
        this.#scan = cr - start;
        return 0;
      }
      if (buf[cr + 1] !== LF) return this.#invalid();
      this.#scan = 0;
      const first = start + pos + 1;
      this.#pos = cr + 2 - start;
      switch (buf[start + pos]) {
        case 43: // + status
          break;
        case 45: // - error
          if (this.#remaining.length === 0) return this.#finish(isFailureError(buf, first, cr));
          break;
        case 58: // : integer
          if (!isInteger(buf, first, cr)) return this.#invalid();
          break;
        case 36: { // $ bulk
          const len = readLength(buf, first, cr);
          if (len < -1) return this.#invalid();
          if (len >= 0) {
            this.#dataEnd = this.#pos + len;
            continue;
          }
          break;
        }
        case 42: { // * array
          const count = readLength(buf, first, cr);
          if (count < -1) return this.#invalid();
          if (count > 0) {
            this.#remaining.push(count);
            continue;
          }
          break;
        }
        default:
          return this.#invalid();
      }
      if (this.#elementDone()) return this.#finish(false);
    }
  }

  /** Counts a finished element against the open arrays; true when the whole reply is complete. */
  #elementDone(): boolean {
    const remaining = this.#remaining;
    while (remaining.length > 0) {
      const top = remaining.length - 1;
      if (--remaining[top] > 0) return false;
      remaining.pop();
    }
    return true;
  }

  #finish(failure: boolean): number {
    const length = this.#pos;
    this.failure = failure;
    this.#pos = 0;
    this.settled = 0;
    return length;
  }

  #invalid(): number {
    this.#pos = 0;
    this.settled = 0;
    this.#scan = 0;
    this.#dataEnd = -1;
    this.#remaining.length = 0;
    return -1;
  }
}

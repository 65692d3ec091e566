/**
 * Incremental framing of memcached replies: the reply lines nutcracker 0.5.0 recognises, and a get
 * reply's VALUE blocks up to its END as one reply. Anything else is not a reply (-1).
 */
import type { ReplyParser } from "../types.ts";
import { CR, isDigit, LF, SP, wordIndex, wordTable } from "./ascii.ts";

/** memcached's key limit; a longer key in a VALUE line is not memcached talking. */
const MAX_KEY = 250;
/** Longest reply line accepted (data blocks excluded): a server cannot make the proxy buffer forever. */
const MAX_LINE = 2048;
/** Largest data block accepted: memcached items cannot exceed 1 GiB. */
const MAX_VALUE = 1 << 30;
/** `END\r\n`: the least that follows a VALUE block. */
const END_LENGTH = 5;

// Reply words; the order matches WORDS.
const VALUE = 0;
const END = 1;
/** Words followed by free text up to the end of the line. */
const FIRST_TEXT_WORD = 9;
const WORDS = wordTable([
  "VALUE",
  "END",
  "STORED",
  "NOT_STORED",
  "EXISTS",
  "NOT_FOUND",
  "DELETED",
  "TOUCHED",
  "ERROR",
  "VERSION",
  "CLIENT_ERROR",
  "SERVER_ERROR",
]);
const MAX_WORD = 12;

// Parser states; the parser resumes in `#state` at `#off` (relative to the reply start).
const START = 0; // first byte: a number or a word
const NUM = 1; // incr/decr result
const WORD = 2; // reply word; also the line after a VALUE block
const TRAIL = 3; // only spaces before the end of the line
const TEXT = 4; // free text up to the end of the line
const LINE_LF = 5; // the \n ending the reply
const KEY_SPACES = 6; // spaces before a VALUE key
const KEY = 7; // a VALUE key
const FIELD_SPACES = 8; // spaces before the VALUE field `#field`
const FIELD = 9; // VALUE field `#field`
const VALUE_TAIL = 10; // after the VALUE length: the cas unique of gets; nutcracker skips any text
const VALUE_LF = 11; // the \n ending a VALUE line
const DATA = 12; // a VALUE data block and its \r\n

// VALUE line fields.
const FLAGS = 0;
const BYTES = 1;

/** Frames the replies of one memcached connection; keeps its place across calls. */
export class MemcacheReplyParser implements ReplyParser {
  /** memcache replies never signal a server failure. */
  readonly failure = false;
  #need = 0;
  #state = START;
  #off = 0;
  /** Start of the current line (a VALUE reply has many), relative to the reply start. */
  #line = 0;
  /** Start of the VALUE key being scanned, relative to the reply start. */
  #tok = 0;
  #field = FLAGS;
  #vlen = 0;
  /** End of the current data block, relative to the reply start. */
  #dataEnd = 0;
  #settled = 0;

  /** After a 0 inside a VALUE block: the length the reply has at least (through the block and END). */
  get need(): number {
    return this.#need;
  }

  /**
   * After a 0: bytes never read again. Each line is read from its start (no earlier), and a data
   * block only at its `\r\n`: the completed VALUE blocks, the current line's predecessors and the
   * data received so far may be dropped.
   */
  get settled(): number {
    return this.#settled;
  }

  /** Length of the reply starting at buf[start], 0 for more bytes, -1 for no valid reply. */
  parse(buf: Uint8Array, start: number, end: number): number {
    let state = this.#state;
    let p = start + this.#off;
    let stop = Math.min(end, start + this.#line + MAX_LINE);
    for (;;) {
      if (state === DATA) {
        const cr = start + this.#dataEnd;
        if ((cr < end && buf[cr] !== CR) || (cr + 1 < end && buf[cr + 1] !== LF)) return this.#fail();
        if (cr + 2 > end) {
          this.#state = DATA;
          this.#settled = Math.min(end, cr) - start;
          return 0;
        }
        // The next line of the same reply: another VALUE block or the END.
        this.#need = 0;
        this.#line = this.#dataEnd + 2;
        p = cr + 2;
        stop = Math.min(end, p + MAX_LINE);
        state = WORD;
      }
      if (p >= stop) {
        if (p < end) return this.#fail();
        this.#state = state;
        this.#off = p - start;
        this.#settled = this.#line;
        return 0;
      }
      let c = buf[p];
      switch (state) {
        case START:
          state = isDigit(c) ? NUM : WORD;
          break;

        case NUM:
          while (p < stop && isDigit(c = buf[p])) p++;
          if (p === stop) break;
          if (c !== SP && c !== CR) return this.#fail();
          state = TRAIL;
          break;

        case WORD: {
          const word = start + this.#line;
          const lim = Math.min(stop, word + MAX_WORD + 1);
          while (p < lim && (c = buf[p]) !== SP && c !== CR) p++;
          if (p === word + MAX_WORD + 1) return this.#fail();
          if (p === stop) break;
          const w = wordIndex(WORDS, buf, word, p);
          // After a VALUE block only another one or the END may follow.
          if (w < 0 || (this.#line > 0 && w !== VALUE && w !== END)) return this.#fail();
          if (w === VALUE) {
            if (c !== SP) return this.#fail();
            state = KEY_SPACES;
          } else if (w === END) {
            // nutcracker wants END\r\n exactly, with no spaces before the \r.
            if (c !== CR) return this.#fail();
            state = TRAIL;
          } else {
            state = w >= FIRST_TEXT_WORD ? TEXT : TRAIL;
          }
          break;
        }

        case TRAIL:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            state = LINE_LF;
            p++;
          } else {
            return this.#fail();
          }
          break;

        case TEXT:
          while (p < stop && buf[p] !== CR) p++;
          if (p === stop) break;
          state = LINE_LF;
          p++;
          break;

        case LINE_LF:
          if (c !== LF) return this.#fail();
          return this.#done(p + 1 - start);

        case KEY_SPACES:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            return this.#fail();
          } else {
            this.#tok = p - start;
            state = KEY;
          }
          break;

        case KEY: {
          const tooLong = start + this.#tok + MAX_KEY + 1;
          const lim = Math.min(stop, tooLong);
          while (p < lim && (c = buf[p]) !== SP && c !== CR) p++;
          if (p === tooLong || (p < stop && c === CR)) return this.#fail();
          if (p === stop) break;
          this.#field = FLAGS;
          state = FIELD_SPACES;
          break;
        }

        case FIELD_SPACES:
          if (c === SP) {
            p++;
          } else if (isDigit(c)) {
            this.#vlen = c - 48;
            state = FIELD;
            p++;
          } else {
            return this.#fail();
          }
          break;

        case FIELD: {
          const field = this.#field;
          if (field === BYTES) {
            let vlen = this.#vlen;
            while (p < stop && isDigit(c = buf[p])) {
              vlen = vlen * 10 + c - 48;
              p++;
            }
            if (vlen > MAX_VALUE) return this.#fail();
            this.#vlen = vlen;
          } else {
            while (p < stop && isDigit(c = buf[p])) p++;
          }
          if (p === stop) break;
          if (field === FLAGS && c === SP) {
            this.#field = BYTES;
            state = FIELD_SPACES;
          } else if (field === BYTES && (c === SP || c === CR)) {
            state = VALUE_TAIL;
          } else {
            return this.#fail();
          }
          break;
        }

        case VALUE_TAIL:
          while (p < stop && buf[p] !== CR) p++;
          if (p === stop) break;
          state = VALUE_LF;
          p++;
          break;

        case VALUE_LF:
          if (c !== LF) return this.#fail();
          this.#dataEnd = p + 1 - start + this.#vlen;
          this.#need = this.#dataEnd + 2 + END_LENGTH;
          state = DATA;
          break;
      }
    }
  }

  /** A complete reply; the parser is reset for the next one. */
  #done(length: number): number {
    this.#state = START;
    this.#off = 0;
    this.#line = 0;
    this.#need = 0;
    this.#settled = 0;
    return length;
  }

  /** Not a memcached reply: the connection is failed, so the parser is only reset for tidiness. */
  #fail(): number {
    this.#done(0);
    return -1;
  }
}

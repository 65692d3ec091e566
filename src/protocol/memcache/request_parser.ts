/**
 * Incremental framing of memcache ASCII requests with nutcracker 0.5.0's grammar: lowercase names,
 * `' '`-separated fields, keys of 1..250 bytes, digits-only numbers, `noreply`, data blocks of
 * exactly `<bytes>` bytes then `\r\n`. Bad bytes are refused as soon as they arrive, like nutcracker.
 *
 * Beyond nutcracker, a request is refused when memcached (1.6, measured against Debian's 1.6.18)
 * would read it as something other than the one request framed here: a forwarded request shares its
 * server connection with other clients' requests, and one reply too many or too few hands every
 * later reply on that connection to the wrong request. See `controlInKey` and `fitsDecimal`.
 */
import { Action, ProtocolError, type RequestInfo, type RequestParser } from "../types.ts";
import { asciiBytes, CR, DEL, isDigit, isLower, LF, MINUS, printable, SP } from "./ascii.ts";
import { Cmd, isRetrieval, isStorage, lookupCommand, ncType } from "./commands.ts";

/** memcached's key limit, enforced by nutcracker. */
const MAX_KEY = 250;
/**
 * Longest header line accepted for anything but get/gets (whose key list is unbounded): far above
 * any legal one, it stops a client from making the proxy buffer a line that never ends.
 */
const MAX_HEADER = 2048;
/** Spaces memcached lets stand before a get/gets name whose line is longer than MAX_HEADER. */
const MAX_GET_INDENT = 100;
/**
 * memcached's hard ceiling on an item (-I cannot exceed 1 GiB): larger values are never stored.
 * Below it memcached answers a value over its own -I with one SERVER_ERROR after reading (swallowing)
 * the data block, so such a set is still one request. Above INT_MAX - 2 it refuses the line without
 * swallowing and reads the data block as commands; its safe_strtol also keeps only the low 32 bits of
 * a longer number (4294967297 is 1). So bytes is refused above this limit, never wrapped.
 */
const MAX_VALUE = 1 << 30;
/** Bytes of a bad command name quoted back to the client. */
const MAX_QUOTED = 32;

// Parser states; the parser resumes in `#state` at `#off` (relative to the request start).
const START = 0; // spaces before the command name
const NAME = 1; // command name
const KEY_SPACES = 2; // spaces before the first key
const KEY = 3; // a key
const GET_KEYS = 4; // spaces before the next get/gets key, or the end of the line
const FIELD_SPACES = 5; // spaces before the numeric field `#field`
const FIELD = 6; // numeric field `#field`
const TAIL = 7; // after the fields: spaces, `noreply` or the end of the line
const NOREPLY = 8; // the word noreply
const AFTER_NOREPLY = 9; // spaces after noreply
const NO_ARGS = 10; // quit/version: only spaces before the end of the line
const LINE_LF = 11; // the \n after the line's \r
const DATA = 12; // a storage command's data block

// Numeric fields, by position in their command.
const FLAGS = 0;
const EXPTIME = 1;
const BYTES = 2;
const CAS = 3;
const DELTA = 4;
const TOUCH_EXPTIME = 5;
const FIELD_NAMES = ["flags", "exptime", "bytes", "cas unique", "delta", "exptime"];

/*
 * How memcached 1.6.18 reads the numbers (measured; safe_strto* in its util.c): strtoul/strtol/strtoull
 * with a 64-bit long, then the result stored in the field's C type. Leading zeros are fine
 * (00000000000000000000001 is 1), so the limits below count significant digits.
 * - flags, safe_strtoul into a uint32_t: up to 2^64 - 1 accepted and cut to 32 bits (4294967296 is
 *   stored as 0); beyond 2^64 - 1, CLIENT_ERROR and the data block is then read as a command.
 * - exptime, safe_strtol into an int32_t: up to 2^63 - 1 accepted and cut to 32 bits (4294967296 is
 *   0: never expires; 2147483648 is negative: expired at once); beyond, CLIENT_ERROR (a set's data
 *   block is then read as a command; a touch gets that one reply).
 * - cas unique, safe_strtoull: up to 2^64 - 1; beyond, CLIENT_ERROR and the data block read as a
 *   command.
 * - delta, safe_strtoull: up to 2^64 - 1; beyond, CLIENT_ERROR invalid numeric delta argument. strtoull
 *   negates a leading '-': -0 is 0; -1 .. -2^63 are refused by memcached with that one reply (relayed,
 *   as nutcracker does); -(2^63 + 1) .. -(2^64 - 1) wrap to a small positive delta (-18446744073709551615
 *   increments by 1).
 * Anything memcached would cut, wrap or refuse with the data block left unread is refused here.
 */
/** Largest flags: memcached keeps 32 bits. */
const U32_MAX = asciiBytes("4294967295");
/** Largest exptime, either command: memcached keeps 32 signed bits. */
const I32_MAX = asciiBytes("2147483647");
/** Largest negative touch exptime, without its sign. */
const I32_MIN_ABS = asciiBytes("2147483648");
/** Largest cas unique and delta: memcached's uint64_t. */
const U64_MAX = asciiBytes("18446744073709551615");
/** Largest negative delta, without its sign, memcached reads as negative (and refuses with one reply). */
const I64_MIN_ABS = asciiBytes("9223372036854775808");

/** Whether the decimal digits buf[from, to) (leading zeros allowed, at least one digit) are at most `max`. */
function fitsDecimal(buf: Uint8Array, from: number, to: number, max: Uint8Array): boolean {
  while (from < to - 1 && buf[from] === 48) from++;
  const len = to - from;
  if (len !== max.length) return len < max.length;
  for (let i = 0; i < len; i++) {
    const d = buf[from + i] - max[i];
    if (d !== 0) return d < 0;
  }
  return true;
}

/**
 * Whether the number buf[from, to) of field `field` is read by memcached as written, `to` > `from`.
 * Only delta and touch's exptime may start with '-'; a lone '-' is refused by memcached with its one
 * reply, relayed as nutcracker does.
 */
function inRange(buf: Uint8Array, from: number, to: number, field: number): boolean {
  const negative = buf[from] === MINUS;
  if (negative && ++from === to) return true;
  switch (field) {
    case FLAGS:
      return fitsDecimal(buf, from, to, U32_MAX);
    case EXPTIME:
      return fitsDecimal(buf, from, to, I32_MAX);
    case TOUCH_EXPTIME:
      return fitsDecimal(buf, from, to, negative ? I32_MIN_ABS : I32_MAX);
    case CAS:
      return fitsDecimal(buf, from, to, U64_MAX);
    case DELTA:
      return fitsDecimal(buf, from, to, negative ? I64_MIN_ABS : U64_MAX);
    default:
      return true; // bytes: bounded by MAX_VALUE as it is read
  }
}

/** Field after the key of a storage, incr/decr or touch command. */
function firstField(cmd: number): number {
  if (isStorage(cmd)) return FLAGS;
  return cmd === Cmd.Touch ? TOUCH_EXPTIME : DELTA;
}

/** Field after `field` for `cmd`, or -1 when it is the last one. */
function nextField(field: number, cmd: number): number {
  if (field === FLAGS) return EXPTIME;
  if (field === EXPTIME) return BYTES;
  if (field === BYTES && cmd === Cmd.Cas) return CAS;
  return -1;
}

const NOREPLY_WORD = asciiBytes("noreply");

/** The refusal of a bad command name starting at `from`, quoting what arrived of it. */
function unknownCommand(buf: Uint8Array, from: number, end: number): ProtocolError {
  let to = from;
  while (to < end && to - from < MAX_QUOTED && buf[to] !== SP && buf[to] !== CR) to++;
  if (to === from) return new ProtocolError("missing command");
  return new ProtocolError(`unknown command '${printable(buf, from, to)}'`);
}

/** Key bytes quoted in the log line of a key too long, as nutcracker quotes them. */
const LOGGED_KEY_PREFIX = 16;

/** A key missing after the command name (`get \r\n`), with nutcracker's log line. */
function emptyKey(cmd: number): ProtocolError {
  return new ProtocolError(
    "missing key",
    -1,
    (id) => `parsed bad req ${id} of type ${ncType(cmd)} with an empty key`,
  );
}

/**
 * A key over 250 bytes starting at buf[key], with nutcracker's log line: its length is the key's
 * whole length when its end has arrived, else what arrived of it.
 */
function keyTooLong(cmd: number, buf: Uint8Array, key: number, end: number): ProtocolError {
  let to = key;
  while (to < end && buf[to] !== SP && buf[to] !== CR) to++;
  const prefix = printable(buf, key, key + LOGGED_KEY_PREFIX);
  return new ProtocolError(
    "key too long",
    -1,
    (id) =>
      `parsed bad req ${id} of type ${ncType(cmd)} with key prefix '${prefix}...' and length ${to - key} ` +
      "that exceeds maximum key length",
  );
}

/**
 * A key holding a control byte (0x00..0x1f) or DEL, refused: memcached ends its line at the first
 * \n (`get a\nb\r\n` is `get a` then the command `b`: two replies) and tokenizes the line as a C
 * string, so a NUL ends it (`set a\0b 0 0 1` is `set a`: ERROR, then the data block read as a
 * command; `touch a\0 1 noreply` is `touch a`: an ERROR where noreply promised no reply). Other control
 * bytes and DEL memcached 1.6.18 keeps in the key (measured: \x01, \t, \v, \f, \x7f store and
 * get back), but its protocol forbids control characters in keys, so they are refused alike rather
 * than relied upon. (\r is the line end here: a key cannot hold it either.)
 */
function controlInKey(c: number): ProtocolError {
  return new ProtocolError(
    `control character \\x${c.toString(16).padStart(2, "0")} in key`,
  );
}

/** Frames one client's memcache requests; keeps its place across calls so no byte is scanned twice. */
export class MemcacheRequestParser implements RequestParser {
  #need = 0;
  #state = START;
  #off = 0;
  /** Start of the token being scanned (name, key, noreply), relative to the request start. */
  #tok = 0;
  #cmd = -1;
  #field = 0;
  /** The bytes field, MAX_VALUE + 1 once above MAX_VALUE (nutcracker wraps it to 32 bits instead). */
  #vlen = 0;
  #noreply = false;
  #keys: number[] = [];
  /** Header bytes allowed before the line must end. */
  #limit = MAX_HEADER;
  #settled = 0;

  /** After a null: the whole request's length once a storage header is parsed, else 0. */
  get need(): number {
    return this.#need;
  }

  /**
   * After a null: bytes never read again. Only a storage command's data block gives bytes away (the
   * header line and the data received so far): header lines are short and read again on each call.
   */
  get settled(): number {
    return this.#settled;
  }

  /**
   * After a null: a storage command whose header line is parsed, to be forwarded while its data
   * block arrives (nothing else streams: other requests are one short line).
   */
  pending(): RequestInfo | null {
    if (this.#state !== DATA) return null;
    return this.#info(this.#need);
  }

  /** Frames the request starting at buf[start] from bytes below `end`; see RequestParser.parse. */
  parse(buf: Uint8Array, start: number, end: number): RequestInfo | null {
    let state = this.#state;
    if (state === DATA) return this.#data(buf, start, end);
    let p = start + this.#off;
    let stop = Math.min(end, start + this.#limit);
    for (;;) {
      if (p >= stop) {
        if (p < end) throw new ProtocolError("line too long");
        this.#state = state;
        this.#off = p - start;
        return null;
      }
      let c = buf[p];
      switch (state) {
        case START:
          if (c === SP) {
            p++;
          } else if (isLower(c)) {
            this.#tok = p - start;
            state = NAME;
            p++;
          } else {
            throw unknownCommand(buf, p, end);
          }
          break;

        case NAME: {
          while (p < stop && isLower(buf[p])) p++;
          if (p === stop) break;
          c = buf[p];
          const name = start + this.#tok;
          const cmd = c === SP || c === CR ? lookupCommand(buf, name, p) : -1;
          if (cmd < 0) throw unknownCommand(buf, name, end);
          this.#cmd = cmd;
          this.#keys = [];
          // memcached reads a get/gets line of any length only when the name starts within its first
          // 100 bytes; past that it closes the connection on a line over 2048 bytes, as on any other.
          if (isRetrieval(cmd) && this.#tok <= MAX_GET_INDENT) {
            this.#limit = Infinity;
            stop = end;
          }
          if (cmd === Cmd.Quit || cmd === Cmd.Version) {
            state = NO_ARGS;
          } else if (c === CR) {
            throw emptyKey(cmd);
          } else {
            state = KEY_SPACES;
            p++;
          }
          break;
        }

        case KEY_SPACES:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            throw emptyKey(this.#cmd);
          } else {
            this.#tok = p - start;
            state = KEY;
          }
          break;

        case GET_KEYS:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            state = LINE_LF;
            p++;
          } else {
            this.#tok = p - start;
            state = KEY;
          }
          break;

        case KEY: {
          const tooLong = start + this.#tok + MAX_KEY + 1;
          const lim = Math.min(stop, tooLong);
          // Any byte above ' ' but DEL is a key byte (8-bit bytes too: memcached keys are binary).
          while (p < lim && (c = buf[p]) > SP && c !== DEL) p++;
          if (p === tooLong) throw keyTooLong(this.#cmd, buf, start + this.#tok, end);
          if (p === stop) break;
          if (c !== SP && c !== CR) {
            // A \n with nothing after it yet may be a client's bare-\n line end: nutcracker waits
            // for more (the line has not ended for it), and so does tsproxy; whatever follows is
            // then refused here.
            if (c === LF && p + 1 === end) {
              this.#state = state;
              this.#off = p - start;
              return null;
            }
            throw controlInKey(c);
          }
          this.#keys.push(this.#tok, p - start);
          const cmd = this.#cmd;
          if (isRetrieval(cmd)) {
            state = GET_KEYS;
          } else if (cmd === Cmd.Delete) {
            state = TAIL;
          } else {
            const field = firstField(cmd);
            if (c === CR) throw new ProtocolError(`missing ${FIELD_NAMES[field]}`);
            this.#field = field;
            state = FIELD_SPACES;
          }
          break;
        }

        case FIELD_SPACES: {
          const field = this.#field;
          if (c === SP) {
            p++;
          } else if (isDigit(c) || (c === MINUS && (field === DELTA || field === TOUCH_EXPTIME))) {
            if (field === BYTES) this.#vlen = c - 48;
            this.#tok = p - start;
            state = FIELD;
            p++;
          } else {
            throw new ProtocolError(`${c === CR ? "missing" : "invalid"} ${FIELD_NAMES[field]}`);
          }
          break;
        }

        case FIELD: {
          const field = this.#field;
          if (field === BYTES) {
            let vlen = this.#vlen;
            while (p < stop && isDigit(c = buf[p])) {
              vlen = Math.min(vlen * 10 + c - 48, MAX_VALUE + 1);
              p++;
            }
            this.#vlen = vlen;
          } else {
            while (p < stop && isDigit(buf[p])) p++;
          }
          if (p === stop) break;
          c = buf[p];
          const next = nextField(field, this.#cmd);
          if ((c === SP || c === CR) && !inRange(buf, start + this.#tok, p, field)) {
            throw new ProtocolError(`${FIELD_NAMES[field]} out of range`);
          }
          if (c === SP && next >= 0) {
            this.#field = next;
            state = FIELD_SPACES;
          } else if (c === SP || (c === CR && next < 0)) {
            state = TAIL;
          } else {
            throw new ProtocolError(
              c === CR ? `missing ${FIELD_NAMES[next]}` : `invalid ${FIELD_NAMES[field]}`,
            );
          }
          break;
        }

        case TAIL:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            state = LINE_LF;
            p++;
          } else if (c === NOREPLY_WORD[0]) {
            this.#tok = p - start;
            state = NOREPLY;
            p++;
          } else {
            throw new ProtocolError("too many arguments");
          }
          break;

        case NOREPLY: {
          const word = start + this.#tok;
          while (p < stop && p - word < NOREPLY_WORD.length) {
            if (buf[p] !== NOREPLY_WORD[p - word]) throw new ProtocolError("expected noreply");
            p++;
          }
          if (p === stop) break;
          c = buf[p];
          if (c !== SP && c !== CR) throw new ProtocolError("expected noreply");
          this.#noreply = true;
          state = AFTER_NOREPLY;
          break;
        }

        case AFTER_NOREPLY:
        case NO_ARGS:
          if (c === SP) {
            p++;
          } else if (c === CR) {
            state = LINE_LF;
            p++;
          } else {
            throw new ProtocolError("too many arguments");
          }
          break;

        case LINE_LF:
          if (c !== LF) throw new ProtocolError("bad line terminator");
          p++;
          if (!isStorage(this.#cmd)) return this.#done(p - start);
          if (this.#vlen > MAX_VALUE) throw new ProtocolError("value too large");
          this.#need = p - start + this.#vlen + 2;
          this.#state = DATA;
          return this.#data(buf, start, end);
      }
    }
  }

  /**
   * The data block of a storage command: `#need` bytes in all, the last two `\r\n`. Only those two
   * bytes are read, so everything before them may be dropped once received.
   */
  #data(buf: Uint8Array, start: number, end: number): RequestInfo | null {
    const cr = start + this.#need - 2;
    if ((cr < end && buf[cr] !== CR) || (cr + 1 < end && buf[cr + 1] !== LF)) {
      throw new ProtocolError("bad data chunk");
    }
    if (cr + 2 <= end) return this.#done(this.#need);
    this.#settled = Math.min(end, cr) - start;
    return null;
  }

  /** The request as framed so far (keys, noreply and command are final once the header is parsed). */
  #info(length: number): RequestInfo {
    const cmd = this.#cmd;
    const keys = this.#keys;
    return {
      length,
      action: cmd === Cmd.Quit ? Action.Quit : keys.length >= 4 ? Action.Split : Action.Forward,
      keys,
      noreply: this.#noreply,
      cmd,
    };
  }

  /** The framed request; the parser is reset for the next one. */
  #done(length: number): RequestInfo {
    const req = this.#info(length);
    this.#state = START;
    this.#off = 0;
    this.#need = 0;
    this.#settled = 0;
    this.#noreply = false;
    this.#limit = MAX_HEADER;
    return req;
  }
}

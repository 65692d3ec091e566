/**
 * Incremental framing of memcache ASCII requests with nutcracker 0.5.0's grammar: lowercase names,
 * `' '`-separated fields, keys of 1..250 bytes, digits-only numbers, `noreply`, data blocks of
 * exactly `<bytes>` bytes then `\r\n`. Bad bytes are refused as soon as they arrive, like nutcracker.
 */
import { Action, ProtocolError, type RequestInfo, type RequestParser } from "../types.ts";
import { asciiBytes, CR, isDigit, isLower, LF, MINUS, printable, SP } from "./ascii.ts";
import { Cmd, isRetrieval, isStorage, lookupCommand, ncType } from "./commands.ts";

/** memcached's key limit, enforced by nutcracker. */
const MAX_KEY = 250;
/**
 * Longest header line accepted for anything but get/gets (whose key list is unbounded): far above
 * any legal one, it stops a client from making the proxy buffer a line that never ends.
 */
const MAX_HEADER = 2048;
/** memcached's hard ceiling on an item (-I cannot exceed 1 GiB): larger values are never stored. */
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
    null,
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
    null,
    (id) =>
      `parsed bad req ${id} of type ${ncType(cmd)} with key prefix '${prefix}...' and length ${to - key} ` +
      "that exceeds maximum key length",
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
  /** The bytes field, wrapped to 32 bits as nutcracker does. */
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
          if (isRetrieval(cmd)) {
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
          while (p < lim && (c = buf[p]) !== SP && c !== CR) p++;
          if (p === tooLong) throw keyTooLong(this.#cmd, buf, start + this.#tok, end);
          if (p === stop) break;
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
              vlen = (vlen * 10 + c - 48) >>> 0;
              p++;
            }
            this.#vlen = vlen;
          } else {
            while (p < stop && isDigit(buf[p])) p++;
          }
          if (p === stop) break;
          c = buf[p];
          const next = nextField(field, this.#cmd);
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

/**
 * Incremental framing of redis requests (RESP arrays of bulk strings) with nutcracker 0.5.0's
 * command checks: supported names, arity, key length.
 */
import { Action, ProtocolError, type RequestInfo, type RequestParser } from "../types.ts";
import { CMD, COMMANDS, lookupCommand, ncType, reportsAllArgs, Shape } from "./commands.ts";

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
/** More digits than this in a length is treated as garbage rather than waited for. */
const MAX_DIGITS = 10;
/**
 * redis's proto-max-bulk-len default (512 MB): a longer bulk is refused up front, as redis would
 * refuse it, so that it never reaches (and closes) a shared server connection.
 */
const MAX_BULK = 512 * 1024 * 1024;
/** Bytes of an unsupported name quoted back to the client. */
const MAX_QUOTED_NAME = 128;

// Parser phases; a phase resumes at `pos` (relative to the request start) on the next call.
const HEADER = 0;
const BULK_HEADER = 1;
const BULK_DATA = 2;

/** Whether argument `index` of a command of this shape is a routing key. */
function isKeyPosition(shape: Shape, index: number): boolean {
  switch (shape) {
    case Shape.FirstKey:
      return index === 1;
    case Shape.AllKeys:
      return index >= 1;
    case Shape.Pairs:
      return (index & 1) === 1;
    case Shape.Script:
      return index === 3;
    default:
      return reportsAllArgs(shape) && index >= 1;
  }
}

/** Whether buf[start, end) is a decimal number above zero (EVAL's numkeys). */
function isPositiveDecimal(buf: Uint8Array, start: number, end: number): boolean {
  let positive = false;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) return false;
    if (c !== 48) positive = true;
  }
  return positive;
}

/** A name as the client sent it, made safe to quote inside a one-line error reply. */
function quotedName(buf: Uint8Array, start: number, end: number): string {
  const text = new TextDecoder().decode(buf.subarray(start, Math.min(end, start + MAX_QUOTED_NAME)));
  return text.replace(/\p{Cc}/gu, " ");
}

/** Frames one client's redis requests; keeps its place across calls so no byte is scanned twice. */
export class RedisRequestParser implements RequestParser {
  need = 0;
  /**
   * After a null: bytes never read again. Each `$` line is read from its start; an argument's data
   * only at its CRLF, except the name and EVAL's numkeys, read whole once complete (and then kept as
   * the command id, the quoted name of an unsupported one, numkeys' validity).
   */
  settled = 0;
  /** Keys must be shorter than this (nutcracker's mbuf payload size). */
  readonly #keyLimit: number;
  #phase = HEADER;
  #pos = 0;
  #nargs = 0;
  #arg = 0;
  #cmd = -1;
  #shape: Shape = Shape.NoKey;
  /** The name of an unsupported command, quoted for the refusal once the request is complete. */
  #unsupported = "";
  #numkeysOk = true;
  #dataStart = 0;
  #dataEnd = 0;
  #keys: number[] = [];
  // Result of #readLength, kept in fields to avoid allocating per line.
  #num = 0;
  #next = 0;

  constructor(mbufSize: number) {
    this.#keyLimit = mbufSize - 48;
  }

  parse(buf: Uint8Array, start: number, end: number): RequestInfo | null {
    const avail = end - start;
    this.need = 0;
    for (;;) {
      switch (this.#phase) {
        case HEADER: {
          if (avail === 0) return this.#wait(0);
          if (buf[start] !== STAR) this.#fail("Protocol error: expected '*'");
          if (!this.#readLength(buf, start, end, "multibulk")) return this.#wait(0);
          if (this.#num === 0) this.#fail("Protocol error: invalid multibulk length");
          this.#nargs = this.#num;
          this.#pos = this.#next - start;
          this.#phase = BULK_HEADER;
          break;
        }
        case BULK_HEADER: {
          const at = start + this.#pos;
          if (at >= end) return this.#wait(this.#pos);
          if (buf[at] !== DOLLAR) this.#fail("Protocol error: expected '$'");
          if (!this.#readLength(buf, at, end, "bulk")) return this.#wait(this.#pos);
          if (this.#num > MAX_BULK) this.#fail("Protocol error: invalid bulk length");
          this.#dataStart = this.#next - start;
          this.#dataEnd = this.#dataStart + this.#num;
          // Checked as soon as the length is known, as nutcracker does, so a huge key is never buffered.
          if (
            isKeyPosition(this.#shape, this.#arg) && this.#num >= this.#keyLimit &&
            !reportsAllArgs(this.#shape)
          ) {
            const [length, limit, type] = [this.#num, this.#keyLimit, ncType(this.#cmd)];
            this.#fail(
              `key too long: ${length} bytes (limit ${limit - 1})`,
              (id) =>
                `parsed bad req ${id} of type ${type} with key length ${length} that greater than or equal ` +
                `to maximum redis key length of ${limit}`,
            );
          }
          this.#phase = BULK_DATA;
          break;
        }
        default: {
          const dataEnd = this.#dataEnd;
          if (dataEnd + 2 > avail) {
            this.need = dataEnd + 2;
            return this.#wait(this.#readsWhole() ? this.#dataStart : Math.min(avail, dataEnd));
          }
          if (buf[start + dataEnd] !== CR || buf[start + dataEnd + 1] !== LF) {
            this.#fail("Protocol error: expected CRLF after bulk data");
          }
          this.#takeArg(buf, start);
          this.#pos = dataEnd + 2;
          if (++this.#arg === this.#nargs) return this.#finish();
          this.#phase = BULK_HEADER;
        }
      }
    }
  }

  /**
   * After a null: the pending request when its routing key is complete and it is sure to be
   * forwarded as it is (a supported command with one routing key, right arity, valid numkeys, not
   * AUTH), else null. Its length is known once the last argument's length is.
   */
  pending(): RequestInfo | null {
    if (!this.#streams()) return null;
    const last = this.#phase === BULK_DATA && this.#arg === this.#nargs - 1;
    return {
      length: last ? this.#dataEnd + 2 : 0,
      action: Action.Forward,
      keys: this.#keys,
      noreply: false,
      cmd: this.#cmd,
    };
  }

  #streams(): boolean {
    const cmd = this.#cmd;
    if (cmd < 0 || cmd === CMD.auth) return false;
    const spec = COMMANDS[cmd];
    if (this.#nargs < spec.minArgs || this.#nargs > spec.maxArgs) return false;
    if (spec.shape === Shape.FirstKey) return this.#arg >= 2;
    return spec.shape === Shape.Script && this.#arg >= 4 && this.#numkeysOk;
  }

  /** Whether the pending argument's bytes are read once complete: the name, EVAL's numkeys. */
  #readsWhole(): boolean {
    return this.#arg === 0 || (this.#shape === Shape.Script && this.#arg === 2);
  }

  /** Waits for more bytes, `settled` of them never read again. */
  #wait(settled: number): null {
    this.settled = settled;
    return null;
  }

  /**
   * Records what argument #arg means once its bytes are complete; whatever #finish needs from them
   * is taken now, as they may be dropped before the request completes.
   */
  #takeArg(buf: Uint8Array, start: number): void {
    const s = start + this.#dataStart;
    const e = start + this.#dataEnd;
    if (this.#arg === 0) {
      this.#cmd = lookupCommand(buf, s, e);
      if (this.#cmd >= 0) this.#shape = COMMANDS[this.#cmd].shape;
      else this.#unsupported = quotedName(buf, s, e);
    } else if (isKeyPosition(this.#shape, this.#arg)) {
      this.#keys.push(this.#dataStart, this.#dataEnd);
    } else if (this.#shape === Shape.Script && this.#arg === 2) {
      this.#numkeysOk = isPositiveDecimal(buf, s, e);
    }
  }

  /** Checks the complete request and describes it; refusals keep the client (skip = its length). */
  #finish(): RequestInfo {
    const length = this.#pos;
    const cmd = this.#cmd;
    const keys = this.#keys;
    const nargs = this.#nargs;
    const numkeysOk = this.#numkeysOk;
    const unsupported = this.#unsupported;
    this.#reset();
    if (cmd < 0) {
      const log = () => `parsed unsupported command '${unsupported}'`;
      throw new ProtocolError(`unsupported command '${unsupported}'`, length, log);
    }
    const spec = COMMANDS[cmd];
    if (nargs < spec.minArgs || nargs > spec.maxArgs || (spec.shape === Shape.Pairs && (nargs & 1) === 0)) {
      throw new ProtocolError(`wrong number of arguments for '${spec.name}' command`, length);
    }
    if (!numkeysOk) {
      throw new ProtocolError(`numkeys must be a positive integer for '${spec.name}' command`, length);
    }
    let action: Action = Action.Forward;
    if (cmd === CMD.quit) action = Action.Quit;
    else if (spec.shape === Shape.Pinned) action = Action.Pin;
    else if (spec.shape === Shape.Fanout) action = Action.Fanout;
    else if (keys.length > 2 && (spec.shape === Shape.AllKeys || spec.shape === Shape.Pairs)) {
      action = Action.Split;
    }
    return { length, action, keys, noreply: false, cmd };
  }

  /**
   * Reads the decimal after the `*` or `$` at buf[at] and its CRLF into #num/#next (absolute);
   * false when the line is not complete yet.
   */
  #readLength(buf: Uint8Array, at: number, end: number, what: string): boolean {
    let p = at + 1;
    let n = 0;
    while (p < end) {
      const c = buf[p];
      if (c < 48 || c > 57) break;
      // redis reads lengths with string2ll, which refuses a leading zero ($01) and then closes the
      // connection: forwarded, it would fail every request on the shared server connection.
      if (p - at > MAX_DIGITS || (p === at + 2 && buf[at + 1] === 48)) {
        this.#fail(`Protocol error: invalid ${what} length`);
      }
      n = n * 10 + (c - 48);
      p++;
    }
    if (p === end) return false;
    if (p === at + 1 || buf[p] !== CR) this.#fail(`Protocol error: invalid ${what} length`);
    if (p + 1 === end) return false;
    if (buf[p + 1] !== LF) this.#fail(`Protocol error: invalid ${what} length`);
    this.#num = n;
    this.#next = p + 2;
    return true;
  }

  /** Gives up on a stream that cannot be framed: the client is closed after the error. */
  #fail(reason: string, log: ((id: number) => string) | null = null): never {
    this.#reset();
    throw new ProtocolError(reason, -1, log);
  }

  #reset(): void {
    this.#phase = HEADER;
    this.#pos = 0;
    this.#arg = 0;
    this.#cmd = -1;
    this.#shape = Shape.NoKey;
    this.#unsupported = "";
    this.#numkeysOk = true;
    this.#keys = [];
    this.need = 0;
    this.settled = 0;
  }
}

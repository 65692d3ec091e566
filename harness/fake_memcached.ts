/**
 * In-process fake memcached: the ASCII protocol as memcached 1.6.18 answers it (get/gets, set, add,
 * replace, append, prepend, cas, incr/decr, delete, touch, flush_all, version, quit, noreply,
 * exptime rules, the 1 MB item limit), for tests, the harness and `deno task start` without a
 * memcached binary. Meta commands, stats, gat and verbosity are not implemented (answered `ERROR`).
 */
import { concat, fromLatin1, latin1 } from "./bytes.ts";
import { FakeServer, type Framed, type ListenOptions, type Outcome, type Session } from "./fake_server.ts";

/** What `version` reports; the suffix tells a fake from the real thing. */
const VERSION = "1.6.18-fake";
const KEY_MAX = 250;
/** Bytes memcached buffers without a newline before closing, unless the line is a get/gets. */
const LINE_MAX = 2048;
/** memcached's default `-I`. */
const ITEM_SIZE_MAX = 1024 * 1024;
/** Exptimes above 30 days are absolute unix times; up to it, seconds from now. */
const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;
const INT_MAX = 2 ** 31 - 1;
const U64 = (1n << 64n) - 1n;
const BAD_FORMAT = "CLIENT_ERROR bad command line format";

/** A fake memcached listening on TCP or a unix socket. */
export class FakeMemcached extends FakeServer {
  readonly #store = new Store();

  private constructor(opts: ListenOptions) {
    super(opts);
  }

  /** Starts listening (port 0 or none: a free loopback port, see `port`). */
  static async start(opts: ListenOptions = {}): Promise<FakeMemcached> {
    const server = new FakeMemcached(opts);
    await server.open();
    return server;
  }

  protected session(): Session {
    return new McSession(this.#store);
  }
}

interface Item {
  flags: number;
  value: Uint8Array;
  /** ms since the epoch; 0: never. */
  expiresAt: number;
  cas: bigint;
  storedAt: number;
}

/** The item table, with memcached's lazy expiry and flush_all rules. */
class Store {
  readonly #items = new Map<string, Item>();
  #lastCas = 0n;
  /** A pending delayed flush_all: items stored before it die once it has passed. */
  #flushAt = 0;

  /** The live item under `key`, dropping it when expired or flushed. */
  get(key: string): Item | undefined {
    const item = this.#items.get(key);
    if (!item) return undefined;
    const now = Date.now();
    const expired = item.expiresAt !== 0 && item.expiresAt <= now;
    const flushed = this.#flushAt !== 0 && this.#flushAt <= now && item.storedAt < this.#flushAt;
    if (!expired && !flushed) return item;
    this.#items.delete(key);
    return undefined;
  }

  #put(key: string, flags: number, value: Uint8Array, expiresAt: number): void {
    this.#items.set(key, { flags, value, expiresAt, cas: ++this.#lastCas, storedAt: Date.now() });
  }

  /** set/add/replace/append/prepend/cas; returns memcached's reply word. */
  store(cmd: string, key: string, flags: number, expiresAt: number, value: Uint8Array, cas: bigint): string {
    const old = this.get(key);
    if (!old) {
      if (cmd === "cas") return "NOT_FOUND";
      if (cmd !== "set" && cmd !== "add") return "NOT_STORED";
      this.#put(key, flags, value, expiresAt);
      return "STORED";
    }
    switch (cmd) {
      case "add":
        return "NOT_STORED";
      case "cas":
        if (cas !== old.cas) return "EXISTS";
        break;
      case "append":
      case "prepend": {
        // The old item's flags and exptime win; an oversized result is refused, not truncated.
        if (tooLarge(key.length, old.flags, old.value.length + value.length)) return "NOT_STORED";
        const joined = cmd === "append" ? concat([old.value, value]) : concat([value, old.value]);
        this.#put(key, old.flags, joined, old.expiresAt);
        return "STORED";
      }
    }
    this.#put(key, flags, value, expiresAt);
    return "STORED";
  }

  /** incr/decr; returns the reply line's text. */
  delta(key: string, incr: boolean, by: bigint): string {
    const item = this.get(key);
    if (!item) return "NOT_FOUND";
    const current = item.value.length === 0 ? null : strtoull(latin1(item.value));
    if (current === null) return "CLIENT_ERROR cannot increment or decrement non-numeric value";
    const next = incr ? (current + by) & U64 : current > by ? current - by : 0n;
    const text = String(next);
    if (text.length <= item.value.length) {
      // memcached rewrites a value that fits in place, space-padded to its old length.
      item.value = fromLatin1(text.padEnd(item.value.length, " "));
      item.cas = ++this.#lastCas;
    } else {
      this.#put(key, item.flags, fromLatin1(text), item.expiresAt);
    }
    return text;
  }

  /** Sets a live item's expiry; false when there is none. */
  touch(key: string, expiresAt: number): boolean {
    const item = this.get(key);
    if (item) item.expiresAt = expiresAt;
    return item !== undefined;
  }

  /** Deletes a live item; false when there is none. */
  delete(key: string): boolean {
    return this.get(key) !== undefined && this.#items.delete(key);
  }

  /** flush_all: everything now (at <= now), or everything stored before `at` once `at` has come. */
  flush(at: number): void {
    if (at > Date.now()) {
      this.#flushAt = at;
      return;
    }
    this.#items.clear();
    this.#flushAt = 0;
  }
}

/** One connection's request framing (memcached's line reader and token-count checks). */
class McSession implements Session {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  frame(buf: Uint8Array): Framed | null {
    const nl = buf.indexOf(10);
    if (nl < 0) {
      if (buf.length <= LINE_MAX || isLongGet(buf)) return null;
      return { length: buf.length, run: () => ({ close: true }) };
    }
    // A bare "\n" ends a line too; "\r" is only stripped from lines longer than it.
    const end = nl > 1 && buf[nl - 1] === 13 ? nl - 1 : nl;
    // memcached tokenizes a C string: a NUL ends the line early.
    const line = latin1(buf.subarray(0, end)).split("\0", 1)[0];
    return command(this.#store, line.split(" ").filter((t) => t !== ""), buf, nl + 1);
  }
}

/** A newline-less line memcached keeps buffering: a multi-get, after at most 100 spaces. */
function isLongGet(buf: Uint8Array): boolean {
  let i = 0;
  while (buf[i] === 32) i++;
  const head = latin1(buf.subarray(i, i + 5));
  return i <= 100 && (head.startsWith("get ") || head === "gets ");
}

const say = (text: string): Outcome => ({ reply: fromLatin1(`${text}\r\n`) });

/** Frames (and prepares to run) the command whose tokens are `t` and whose line is `lineLen` bytes. */
function command(store: Store, t: string[], buf: Uint8Array, lineLen: number): Framed | null {
  // memcached counts a terminal empty token, and its arity checks are in those terms.
  const n = t.length + 1;
  const noreply = t[t.length - 1] === "noreply";
  const quiet = (text: string): Outcome => noreply ? {} : say(text);
  const line = (run: () => Outcome): Framed => ({ length: lineLen, run });
  const key = t[1];
  switch (t[0]) {
    case "get":
    case "gets":
      if (n < 3) break;
      return line(() => get(store, t.slice(1), t[0] === "gets"));
    case "set":
    case "add":
    case "replace":
    case "append":
    case "prepend":
      if (n !== 6 && n !== 7) break;
      return update(store, t, quiet, buf, lineLen);
    case "cas":
      if (n !== 7 && n !== 8) break;
      return update(store, t, quiet, buf, lineLen);
    case "incr":
    case "decr":
      if (n !== 4 && n !== 5) break;
      return line(() => {
        if (key.length > KEY_MAX) return quiet(BAD_FORMAT);
        const by = strtoull(t[2]);
        if (by === null) return quiet("CLIENT_ERROR invalid numeric delta argument");
        return quiet(store.delta(key, t[0] === "incr", by));
      });
    case "touch":
      if (n !== 4 && n !== 5) break;
      return line(() => {
        if (key.length > KEY_MAX) return quiet(BAD_FORMAT);
        const exptime = strtol(t[2]);
        if (exptime === null) return quiet("CLIENT_ERROR invalid exptime argument");
        return quiet(store.touch(key, deadline(exptime)) ? "TOUCHED" : "NOT_FOUND");
      });
    case "delete":
      if (n < 3 || n > 5) break;
      return line(() => {
        // The legacy hold time is accepted only as "0"; noreply is looked for only past the key.
        const quietAfterKey = n > 3 ? quiet : say;
        const zero = t[2] === "0";
        if (n > 3 && !(n === 4 ? zero || noreply : zero && noreply)) {
          return quietAfterKey(`${BAD_FORMAT}.  Usage: delete <key> [noreply]`);
        }
        if (key.length > KEY_MAX) return quietAfterKey(BAD_FORMAT);
        return quietAfterKey(store.delete(key) ? "DELETED" : "NOT_FOUND");
      });
    case "flush_all":
      if (n > 4) break;
      return line(() => {
        let exptime = 0;
        if (n !== (noreply ? 3 : 2)) {
          const parsed = strtol(t[1]);
          if (parsed === null) return quiet("CLIENT_ERROR invalid exptime argument");
          exptime = parsed;
        }
        store.flush(exptime > 0 ? deadline(exptime) : 0);
        return quiet("OK");
      });
    case "version":
      return line(() => say(`VERSION ${VERSION}`));
    case "quit":
      return line(() => ({ close: true }));
  }
  return line(() => say("ERROR"));
}

/** Frames a storage command: the line, plus its data block when the line is well formed. */
function update(
  store: Store,
  t: string[],
  quiet: (text: string) => Outcome,
  buf: Uint8Array,
  lineLen: number,
): Framed | null {
  const [cmd, key] = t;
  const flags = strtoul32(t[2]);
  const exptime = strtol(t[3]);
  const vlen = strtol(t[4]);
  const cas = cmd === "cas" ? strtoull(t[5]) : 0n;
  // A malformed line is answered alone: its data block is then read as the next command.
  const malformed = key.length > KEY_MAX || flags === null || exptime === null || cas === null ||
    vlen === null || vlen < 0 || vlen > INT_MAX - 2;
  if (malformed) return { length: lineLen, run: () => quiet(BAD_FORMAT) };
  const length = lineLen + vlen + 2;
  if (buf.length < length) return null;
  return {
    length,
    run: () => {
      if (tooLarge(key.length, flags, vlen)) {
        // The data is swallowed; a failed set also drops the old value so no stale copy survives.
        if (cmd === "set") store.delete(key);
        return quiet("SERVER_ERROR object too large for cache");
      }
      if (buf[length - 2] !== 13 || buf[length - 1] !== 10) return quiet("CLIENT_ERROR bad data chunk");
      return quiet(store.store(cmd, key, flags, deadline(exptime), buf.slice(lineLen, lineLen + vlen), cas));
    },
  };
}

/** Multi-key get/gets: hits in request order, then END; one over-long key voids the whole reply. */
function get(store: Store, keys: string[], withCas: boolean): Outcome {
  const parts: (string | Uint8Array)[] = [];
  for (const key of keys) {
    if (key.length > KEY_MAX) return say(BAD_FORMAT);
    const item = store.get(key);
    if (!item) continue;
    parts.push(
      `VALUE ${key} ${item.flags} ${item.value.length}${withCas ? ` ${item.cas}` : ""}\r\n`,
      item.value,
      "\r\n",
    );
  }
  parts.push("END\r\n");
  return { reply: concat(parts) };
}

/**
 * Whether an item exceeds memcached's max item size: a 48-byte header, the key and its NUL, the
 * data and its CRLF, the 8-byte cas, and 4 bytes of flags when they are not 0.
 */
function tooLarge(keyLen: number, flags: number, valueLen: number): boolean {
  return 48 + keyLen + 1 + valueLen + 2 + 8 + (flags === 0 ? 0 : 4) > ITEM_SIZE_MAX;
}

/** memcached's realtime(): when an item with this exptime dies, in ms since the epoch; 0: never. */
function deadline(exptime: number): number {
  // A negative exptime becomes an absolute time in 1970: expired at once.
  const t = exptime < 0 ? REALTIME_MAXDELTA + 1 : exptime;
  if (t === 0) return 0;
  return t > REALTIME_MAXDELTA ? t * 1000 : Date.now() + t * 1000;
}

/**
 * C strtoull/strtol's scan as memcached's safe_strto* use it: leading whitespace, a sign, decimal
 * digits, then only whitespace or the end may follow. Null when that fails or there is no digit.
 */
function scan(s: string): { negative: boolean; digits: bigint } | null {
  const m = /^[\t\n\v\f\r ]*([+-]?)([0-9]+)([\t\n\v\f\r \0]|$)/.exec(s);
  return m ? { negative: m[1] === "-", digits: BigInt(m[2]) } : null;
}

/** safe_strtoull: unsigned 64-bit; a "-" is refused only when the wrapped result looks negative. */
function strtoull(s: string): bigint | null {
  const n = scan(s);
  if (!n || n.digits > U64) return null;
  const value = n.negative ? -n.digits & U64 : n.digits;
  return n.negative && value >= 1n << 63n ? null : value;
}

/** safe_strtoul as the flags field uses it: parsed as 64-bit, then truncated to 32 bits. */
function strtoul32(s: string): number | null {
  const value = strtoull(s);
  return value === null ? null : Number(value & 0xffffffffn);
}

/** safe_strtol as memcached 1.6.18 has it: a 64-bit long, silently truncated to 32 bits. */
function strtol(s: string): number | null {
  const n = scan(s);
  if (!n) return null;
  const value = n.negative ? -n.digits : n.digits;
  if (value < -(1n << 63n) || value >= 1n << 63n) return null;
  return Number(BigInt.asIntN(32, value));
}

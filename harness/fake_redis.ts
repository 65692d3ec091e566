/**
 * In-process fake Redis: a RESP2 server answering, with redis 7.0's replies and error texts, the
 * commands tsproxy tests need: GET SET (EX PX NX XX) DEL UNLINK EXISTS TOUCH MGET MSET INCR INCRBY
 * DECR DECRBY APPEND STRLEN EXPIRE (NX XX GT LT) TTL PING AUTH SELECT (16 dbs) COMMAND (an empty
 * table) FLUSHALL HSET HGET HGETALL LPUSH RPUSH LRANGE SADD SMEMBERS. Anything else gets redis's
 * `-ERR unknown command ...`. Inline (non-array) requests are refused with a protocol error.
 */
import { concat, fromLatin1, latin1 } from "./bytes.ts";
import { FakeServer, type Framed, type ListenOptions, type Session } from "./fake_server.ts";

const MAX = (1n << 63n) - 1n;
const MIN = -(1n << 63n);
const INT_MAX = (1n << 31n) - 1n;
const DATABASES = 16;
/** Longest `*`/`$` header line redis waits for (PROTO_INLINE_MAX_SIZE). */
const HEADER_MAX = 64 * 1024;
/** proto-max-bulk-len. */
const BULK_MAX = 512n * 1024n * 1024n;
/** Sets of integers up to this size are intsets, which redis lists in numeric order. */
const INTSET_MAX = 512;

/** Options of a fake Redis. */
export interface FakeRedisOptions extends ListenOptions {
  /** Like redis `requirepass`: clients must AUTH before other commands. */
  requirepass?: string;
}

/** A fake Redis listening on TCP or a unix socket. */
export class FakeRedis extends FakeServer {
  readonly #dbs: Db[] = Array.from({ length: DATABASES }, () => new Db());
  /** The password as the latin1 string of its UTF-8 bytes, to compare with AUTH's bytes. */
  readonly #password: string | undefined;

  private constructor(opts: FakeRedisOptions) {
    super(opts);
    this.#password = opts.requirepass === undefined
      ? undefined
      : latin1(new TextEncoder().encode(opts.requirepass));
  }

  /** Starts listening (port 0 or none: a free loopback port, see `port`). */
  static async start(opts: FakeRedisOptions = {}): Promise<FakeRedis> {
    const server = new FakeRedis(opts);
    await server.open();
    return server;
  }

  protected session(): Session {
    return new RespSession(this.#dbs, this.#password);
  }
}

type Value =
  | { type: "string"; data: Uint8Array }
  | { type: "hash"; data: Map<string, Uint8Array> }
  | { type: "list"; data: Uint8Array[] }
  | { type: "set"; data: Set<string> };
type Typed<T extends Value["type"]> = Extract<Value, { type: T }>;

interface Entry {
  value: Value;
  /** ms since the epoch; 0: no TTL. */
  expiresAt: number;
}

/** One numbered database: keys (latin1 strings of their bytes) with lazy expiry. */
class Db {
  readonly #entries = new Map<string, Entry>();

  /** The live entry under `key`, dropping it when its TTL has passed. */
  get(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt !== 0 && Date.now() > entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Stores a value, replacing whatever was there, TTL included. */
  set(key: string, value: Value, expiresAt = 0): void {
    this.#entries.set(key, { value, expiresAt });
  }

  /** Deletes a live key; false when there was none. */
  delete(key: string): boolean {
    return this.get(key) !== undefined && this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Thrown by a command to answer with an error reply (keeps the handlers linear). */
class Refusal extends Error {
  constructor(readonly reply: Uint8Array) {
    super("refused");
  }
}

/** One connection: RESP framing, its selected db and its AUTH state. */
class RespSession implements Session {
  readonly dbs: Db[];
  readonly password: string | undefined;
  db: Db;
  authed: boolean;

  constructor(dbs: Db[], password: string | undefined) {
    this.dbs = dbs;
    this.password = password;
    this.db = dbs[0];
    this.authed = password === undefined;
  }

  frame(buf: Uint8Array): Framed | null {
    if (buf.length === 0) return null;
    // Fatal errors: redis answers them, then closes, ignoring whatever follows.
    const fatal = (why: string): Framed => ({
      length: buf.length,
      run: () => ({ reply: error(`ERR Protocol error: ${why}`), close: true }),
    });
    if (buf[0] !== 0x2a) return fatal("inline commands are not supported by this fake");
    const count = header(buf, 0);
    if (count === undefined) return null;
    if (count === "too big") return fatal("too big mbulk count string");
    if (count.n === null || count.n > INT_MAX) return fatal("invalid multibulk length");
    if (count.n > 10n && !this.authed) return fatal("unauthenticated multibulk length");
    // `*0` and `*-1` are skipped without a reply.
    if (count.n <= 0n) return { length: count.next, run: () => ({}) };
    const spans: number[] = [];
    let at = count.next;
    for (let i = 0n; i < count.n; i++) {
      if (at >= buf.length) return null;
      if (buf[at] !== 0x24) return fatal(`expected '$', got '${String.fromCharCode(buf[at])}'`);
      const len = header(buf, at);
      if (len === undefined) return null;
      if (len === "too big") return fatal("too big bulk count string");
      if (len.n === null || len.n < 0n || len.n > BULK_MAX) return fatal("invalid bulk length");
      if (len.n > 16384n && !this.authed) return fatal("unauthenticated bulk length");
      const end = len.next + Number(len.n);
      // Redis skips the two bytes after a bulk without checking that they are CRLF.
      if (buf.length < end + 2) return null;
      spans.push(len.next, end);
      at = end + 2;
    }
    const args: Uint8Array[] = [];
    for (let i = 0; i < spans.length; i += 2) args.push(buf.slice(spans[i], spans[i + 1]));
    return { length: at, run: () => ({ reply: this.#exec(args) }) };
  }

  #exec(args: Uint8Array[]): Uint8Array {
    const name = latin1(args[0]).toLowerCase();
    const cmd = COMMANDS.get(name);
    if (!cmd) return unknownCommand(args);
    if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) return arityError(name);
    if (!this.authed && name !== "auth") return error("NOAUTH Authentication required.");
    try {
      return cmd.run(this, args);
    } catch (e) {
      if (e instanceof Refusal) return e.reply;
      throw e;
    }
  }

  /** The value under `key` if it has `type`; undefined when missing; WRONGTYPE otherwise. */
  find<T extends Value["type"]>(key: Uint8Array, type: T): Typed<T> | undefined {
    const entry = this.db.get(latin1(key));
    if (entry && entry.value.type !== type) throw new Refusal(WRONGTYPE);
    return entry?.value as Typed<T> | undefined;
  }

  /** Like `find`, creating an empty value when the key is missing. */
  obtain<T extends Value["type"]>(key: Uint8Array, type: T, empty: () => Typed<T>): Typed<T> {
    const found = this.find(key, type);
    if (found) return found;
    const made = empty();
    this.db.set(latin1(key), made);
    return made;
  }
}

/** The integer after the `*` or `$` at `at`: undefined while incomplete, `n` null when malformed. */
function header(buf: Uint8Array, at: number): { n: bigint | null; next: number } | "too big" | undefined {
  const cr = buf.indexOf(13, at + 1);
  if (cr < 0) return buf.length - at > HEADER_MAX ? "too big" : undefined;
  // Redis takes the byte after "\r" as the "\n" without looking at it.
  if (cr + 1 >= buf.length) return undefined;
  return { n: int64(buf.subarray(at + 1, cr)), next: cr + 2 };
}

/** Redis's string2ll: a canonical decimal int64 only (no "+", no leading zero, no spaces). */
function int64(bytes: Uint8Array): bigint | null {
  const s = latin1(bytes);
  if (s.length >= 21 || !/^(0|-?[1-9][0-9]*)$/.test(s)) return null;
  const n = BigInt(s);
  return n < MIN || n > MAX ? null : n;
}

/** `int64`, refusing with redis's "not an integer" error. */
function integerArg(bytes: Uint8Array): bigint {
  const n = int64(bytes);
  if (n === null) throw new Refusal(NOT_INTEGER);
  return n;
}

function simple(text: string): Uint8Array {
  return fromLatin1(`+${text}\r\n`);
}

/** An error reply; like redis, newlines in the text are trimmed at the end and blanked inside. */
function error(text: string): Uint8Array {
  return fromLatin1(`-${text.replace(/[\r\n]+$/, "").replace(/[\r\n]/g, " ")}\r\n`);
}

function integer(n: number | bigint): Uint8Array {
  return fromLatin1(`:${n}\r\n`);
}

function bulk(data: Uint8Array | null | undefined): Uint8Array {
  return data ? concat([`$${data.length}\r\n`, data, "\r\n"]) : NIL;
}

function array(items: (Uint8Array | null)[]): Uint8Array {
  return concat([`*${items.length}\r\n`, ...items.map(bulk)]);
}

const OK = simple("OK");
const NIL = fromLatin1("$-1\r\n");
const SYNTAX = error("ERR syntax error");
const NOT_INTEGER = error("ERR value is not an integer or out of range");
const WRONGTYPE = error("WRONGTYPE Operation against a key holding the wrong kind of value");

/** An argument the way redis prints it with `%.*s`: at most `max` bytes, cut at a NUL. */
function cstr(bytes: Uint8Array, max: number): string {
  return latin1(bytes.subarray(0, max)).split("\0", 1)[0];
}

function unknownCommand(args: Uint8Array[]): Uint8Array {
  let rest = "";
  for (let i = 1; i < args.length && rest.length < 128; i++) rest += `'${cstr(args[i], 128 - rest.length)}' `;
  return error(`ERR unknown command '${cstr(args[0], 128)}', with args beginning with: ${rest}`);
}

function arityError(name: string): Uint8Array {
  return error(`ERR wrong number of arguments for '${name}' command`);
}

/** The reply to an invalid EX/PX/EXPIRE time. */
function badExpire(cmd: string): Uint8Array {
  return error(`ERR invalid expire time in '${cmd}' command`);
}

type Handler = (s: RespSession, a: Uint8Array[]) => Uint8Array;

function set(s: RespSession, a: Uint8Array[]): Uint8Array {
  let nx = false;
  let xx = false;
  let unit: "ex" | "px" | null = null;
  let ttl: Uint8Array | null = null;
  for (let j = 3; j < a.length; j++) {
    const opt = latin1(a[j]).toLowerCase();
    const next = a[j + 1];
    if (opt === "nx" && !xx) nx = true;
    else if (opt === "xx" && !nx) xx = true;
    else if ((opt === "ex" || opt === "px") && unit !== (opt === "ex" ? "px" : "ex") && next) {
      unit = opt;
      ttl = next;
      j++;
    } else return SYNTAX;
  }
  let expiresAt = 0;
  if (ttl) {
    const n = integerArg(ttl);
    if (n <= 0n || (unit === "ex" && n > MAX / 1000n)) return badExpire("set");
    const at = (unit === "ex" ? n * 1000n : n) + BigInt(Date.now());
    if (at > MAX) return badExpire("set");
    expiresAt = Number(at);
  }
  const key = latin1(a[1]);
  const found = s.db.get(key) !== undefined;
  if ((nx && found) || (xx && !found)) return NIL;
  s.db.set(key, { type: "string", data: a[2] }, expiresAt);
  return OK;
}

/** DEL and UNLINK: keys actually removed (a repeated key counts once). */
function del(s: RespSession, a: Uint8Array[]): Uint8Array {
  return integer(a.slice(1).filter((k) => s.db.delete(latin1(k))).length);
}

/** EXISTS and TOUCH: keys present, a repeated key counting each time. */
function exists(s: RespSession, a: Uint8Array[]): Uint8Array {
  return integer(a.slice(1).filter((k) => s.db.get(latin1(k)) !== undefined).length);
}

function incrBy(s: RespSession, key: Uint8Array, by: bigint): Uint8Array {
  const value = s.find(key, "string");
  const current = value ? int64(value.data) : 0n;
  if (current === null) return NOT_INTEGER;
  const next = current + by;
  if (next > MAX || next < MIN) return error("ERR increment or decrement would overflow");
  const data = fromLatin1(String(next));
  // Updating in place keeps the TTL, as redis does.
  if (value) value.data = data;
  else s.db.set(latin1(key), { type: "string", data });
  return integer(next);
}

function expire(s: RespSession, a: Uint8Array[]): Uint8Array {
  const opts = new Set<string>();
  for (const opt of a.slice(3)) {
    const o = latin1(opt).toLowerCase();
    if (o !== "nx" && o !== "xx" && o !== "gt" && o !== "lt") {
      return error(`ERR Unsupported option ${cstr(opt, opt.length)}`);
    }
    opts.add(o);
  }
  if (opts.has("nx") && opts.size > 1) {
    return error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (opts.has("gt") && opts.has("lt")) {
    return error("ERR GT and LT options at the same time are not compatible");
  }
  const seconds = integerArg(a[2]);
  const now = BigInt(Date.now());
  if (seconds > MAX / 1000n || seconds < MIN / 1000n || seconds * 1000n > MAX - now) {
    return badExpire("expire");
  }
  const at = seconds * 1000n + now;
  const key = latin1(a[1]);
  const entry = s.db.get(key);
  if (!entry) return integer(0);
  const current = entry.expiresAt === 0 ? null : BigInt(entry.expiresAt);
  // GT treats "no TTL" as infinite; LT as larger than anything.
  const refused = (opts.has("nx") && current !== null) || (opts.has("xx") && current === null) ||
    (opts.has("gt") && (current === null || at <= current)) ||
    (opts.has("lt") && current !== null && at >= current);
  if (refused) return integer(0);
  if (at <= now) s.db.delete(key);
  else entry.expiresAt = Number(at);
  return integer(1);
}

function auth(s: RespSession, a: Uint8Array[]): Uint8Array {
  if (a.length > 3) return SYNTAX;
  if (a.length === 2 && s.password === undefined) {
    return error(
      "ERR AUTH <password> called without any password configured for the default user. " +
        "Are you sure your configuration is correct?",
    );
  }
  const user = a.length === 3 ? latin1(a[1]) : "default";
  const pass = latin1(a[a.length - 1]);
  if (user !== "default" || (s.password !== undefined && pass !== s.password)) {
    return error("WRONGPASS invalid username-password pair or user is disabled.");
  }
  s.authed = true;
  return OK;
}

function lrange(s: RespSession, a: Uint8Array[]): Uint8Array {
  let start = Number(integerArg(a[2]));
  let stop = Number(integerArg(a[3]));
  const list = s.find(a[1], "list")?.data ?? [];
  if (start < 0) start = Math.max(list.length + start, 0);
  if (stop < 0) stop = list.length + stop;
  return array(start > stop ? [] : list.slice(start, stop + 1));
}

function smembers(s: RespSession, a: Uint8Array[]): Uint8Array {
  const members = [...(s.find(a[1], "set")?.data ?? [])].map((m) => ({ m, n: int64(fromLatin1(m)) }));
  // An intset lists in numeric order; other sets here keep insertion order (redis: hash order).
  if (members.length <= INTSET_MAX && members.every((x) => x.n !== null)) {
    members.sort((x, y) => (x.n! < y.n! ? -1 : 1));
  }
  return array(members.map((x) => fromLatin1(x.m)));
}

/** Command name (lowercase) -> redis arity (negative: at least that many) and handler. */
const COMMANDS = new Map<string, { arity: number; run: Handler }>([
  ["get", { arity: 2, run: (s, a) => bulk(s.find(a[1], "string")?.data) }],
  ["set", { arity: -3, run: set }],
  ["del", { arity: -2, run: del }],
  ["unlink", { arity: -2, run: del }],
  ["exists", { arity: -2, run: exists }],
  ["touch", { arity: -2, run: exists }],
  ["mget", {
    arity: -2,
    run: (s, a) =>
      array(
        a.slice(1).map((k) => {
          const value = s.db.get(latin1(k))?.value;
          return value?.type === "string" ? value.data : null;
        }),
      ),
  }],
  ["mset", {
    arity: -3,
    run: (s, a) => {
      if (a.length % 2 === 0) return arityError("mset");
      for (let i = 1; i < a.length; i += 2) s.db.set(latin1(a[i]), { type: "string", data: a[i + 1] });
      return OK;
    },
  }],
  ["incr", { arity: 2, run: (s, a) => incrBy(s, a[1], 1n) }],
  ["decr", { arity: 2, run: (s, a) => incrBy(s, a[1], -1n) }],
  ["incrby", { arity: 3, run: (s, a) => incrBy(s, a[1], integerArg(a[2])) }],
  ["decrby", {
    arity: 3,
    run: (s, a) => {
      const by = integerArg(a[2]);
      return by === MIN ? error("ERR decrement would overflow") : incrBy(s, a[1], -by);
    },
  }],
  ["append", {
    arity: 3,
    run: (s, a) => {
      const value = s.obtain(a[1], "string", () => ({ type: "string", data: new Uint8Array() }));
      value.data = concat([value.data, a[2]]);
      return integer(value.data.length);
    },
  }],
  ["strlen", { arity: 2, run: (s, a) => integer(s.find(a[1], "string")?.data.length ?? 0) }],
  ["expire", { arity: -3, run: expire }],
  ["ttl", {
    arity: 2,
    run: (s, a) => {
      const entry = s.db.get(latin1(a[1]));
      if (!entry) return integer(-2);
      if (entry.expiresAt === 0) return integer(-1);
      return integer(Math.floor((Math.max(entry.expiresAt - Date.now(), 0) + 500) / 1000));
    },
  }],
  ["ping", {
    arity: -1,
    run: (_s, a) => a.length > 2 ? arityError("ping") : a.length === 2 ? bulk(a[1]) : simple("PONG"),
  }],
  ["auth", { arity: -2, run: auth }],
  ["select", {
    arity: 2,
    run: (s, a) => {
      const n = integerArg(a[1]);
      if (n > INT_MAX || n < -INT_MAX - 1n) return NOT_INTEGER;
      if (n < 0n || n >= DATABASES) return error("ERR DB index is out of range");
      s.db = s.dbs[Number(n)];
      return OK;
    },
  }],
  ["command", {
    arity: -1,
    run: (_s, a) =>
      a.length === 1 ? array([]) : error(`ERR unknown subcommand '${cstr(a[1], 128)}'. Try COMMAND HELP.`),
  }],
  ["flushall", {
    arity: -1,
    run: (s, a) => {
      const mode = a.length === 2 ? latin1(a[1]).toLowerCase() : "";
      if (a.length > 2 || (a.length === 2 && mode !== "sync" && mode !== "async")) return SYNTAX;
      for (const db of s.dbs) db.clear();
      return OK;
    },
  }],
  ["hset", {
    arity: -4,
    run: (s, a) => {
      if (a.length % 2 === 1) return arityError("hset");
      const hash = s.obtain(a[1], "hash", () => ({ type: "hash", data: new Map() })).data;
      let added = 0;
      for (let i = 2; i < a.length; i += 2) {
        const field = latin1(a[i]);
        if (!hash.has(field)) added++;
        hash.set(field, a[i + 1]);
      }
      return integer(added);
    },
  }],
  ["hget", { arity: 3, run: (s, a) => bulk(s.find(a[1], "hash")?.data.get(latin1(a[2]))) }],
  ["hgetall", {
    arity: 2,
    run: (s, a) => array([...(s.find(a[1], "hash")?.data ?? [])].flatMap(([f, v]) => [fromLatin1(f), v])),
  }],
  ["lpush", {
    arity: -3,
    run: (s, a) => {
      const list = s.obtain(a[1], "list", () => ({ type: "list", data: [] })).data;
      list.unshift(...a.slice(2).reverse());
      return integer(list.length);
    },
  }],
  ["rpush", {
    arity: -3,
    run: (s, a) => {
      const list = s.obtain(a[1], "list", () => ({ type: "list", data: [] })).data;
      list.push(...a.slice(2));
      return integer(list.length);
    },
  }],
  ["lrange", { arity: 4, run: lrange }],
  ["sadd", {
    arity: -3,
    run: (s, a) => {
      const set = s.obtain(a[1], "set", () => ({ type: "set", data: new Set() })).data;
      const before = set.size;
      for (const m of a.slice(2)) set.add(latin1(m));
      return integer(set.size - before);
    },
  }],
  ["smembers", { arity: 2, run: smembers }],
]);

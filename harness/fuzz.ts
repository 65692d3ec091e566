/**
 * Seeded fuzz messages for the abuse checks: valid memcache ASCII and redis RESP requests on the
 * fuzzers' own keys, and mutations of them (bit flips, inserted CR/LF/NUL/control bytes or runs of
 * spaces, truncation, huge, negative, overlong or zero-padded numbers, duplicated or cut lengths,
 * splices, random bytes). The same seed gives the same messages, so a run can be replayed.
 *
 * The valid requests never touch a key outside `fz:*` and never flush, so the checking clients' keys
 * can only change through a proxy that hands a request's bytes or reply to another client.
 */
import { concat, fromLatin1 } from "./bytes.ts";

/** The two protocols the proxies speak. */
export type Proto = "memcache" | "redis";

/** A small, fast, seeded PRNG (mulberry32): the fuzzers' only source of randomness. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** One element of a list. */
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** `n` random printable ASCII characters without spaces (a-z, A-Z, 0-9 and a few marks). */
  word(n: number): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:";
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

/** A seed for a run: `ABUSE_SEED` when set (a replay), else a random 32-bit number. */
export function runSeed(env = Deno.env.get("ABUSE_SEED")): number {
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
      throw new Error(`ABUSE_SEED must be an integer 0..4294967295, not "${env}"`);
    }
    return n;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** How a fuzz message was made from a valid request. */
export const MUTATIONS = [
  "valid",
  "bitflip",
  "insert",
  "truncate",
  "number",
  "length",
  "splice",
  "random",
] as const;
export type Mutation = typeof MUTATIONS[number];

/** One fuzz message and how it was made. */
export interface FuzzMessage {
  bytes: Uint8Array;
  mutation: Mutation;
}

const enc = new TextEncoder();
const join = (...parts: Uint8Array[]): Uint8Array => concat(parts);

/** Numbers that sit on a limit of memcached, redis or a proxy, or beyond any. */
const ODD_NUMBERS = [
  "-1",
  "-0",
  "0",
  "+1",
  "00000000000000000000000000001",
  "2147483647",
  "2147483648",
  "-2147483648",
  "-2147483649",
  "4294967295",
  "4294967296",
  "4294967297",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775808",
  "-9223372036854775809",
  "18446744073709551615",
  "18446744073709551616",
  "-18446744073709551615",
  "99999999999999999999999999999999999999",
  "1073741824",
  "1073741825",
  "536870912",
  "536870913",
  "1000000000",
  "1e3",
  "0x10",
  "1.5",
  "",
];

/** Bytes inserted by the `insert` mutation. */
const INSERTS = [
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x00,
  0x01,
  0x07,
  0x08,
  0x09,
  0x0b,
  0x0c,
  0x1b,
  0x1f,
  0x7f,
  0xff,
  0x20,
];

/** Makes fuzz messages of one protocol from one seed. */
export class Fuzzer {
  readonly rng: Rng;
  /** Messages made so far, by mutation. */
  readonly counts: Record<Mutation, number> = Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<
    Mutation,
    number
  >;

  /**
   * `validShare`: the share of valid requests among the messages. Valid requests between the
   * mutated ones keep a connection going (a proxy closes a client at its first malformed request, and
   * what it sent after that is never read), so more of the mutated ones reach the proxy's parser.
   */
  constructor(readonly proto: Proto, seed: number, readonly validShare = 0.5) {
    this.rng = new Rng(seed);
  }

  /** The next message: a valid request (`validShare` of them, half by default) or a mutated or random one. */
  next(): FuzzMessage {
    const r = this.rng;
    const mutation: Mutation = r.chance(this.validShare) ? "valid" : r.pick(MUTATIONS.slice(1));
    const valid = this.valid();
    let bytes: Uint8Array;
    switch (mutation) {
      case "valid":
        bytes = valid;
        break;
      case "bitflip":
        bytes = valid.slice();
        for (let n = r.range(1, 4); n > 0; n--) bytes[r.int(bytes.length)] ^= 1 << r.int(8);
        break;
      case "insert":
        bytes = valid;
        for (let n = r.range(1, 3); n > 0; n--) {
          const at = r.int(bytes.length + 1);
          // Now and then a run of spaces (a line memcached or redis may hold to a limit of its own).
          const insert = r.chance(0.1)
            ? fromLatin1(" ".repeat(r.range(50, 3000)))
            : Uint8Array.of(r.pick(INSERTS));
          bytes = join(bytes.subarray(0, at), insert, bytes.subarray(at));
        }
        break;
      case "truncate":
        bytes = valid.subarray(0, r.int(valid.length));
        break;
      case "number":
        bytes = replaceNumber(r, valid);
        break;
      case "length":
        bytes = mangleLength(r, valid);
        break;
      case "splice": {
        const other = this.valid();
        bytes = join(valid.subarray(0, r.int(valid.length + 1)), other.subarray(r.int(other.length + 1)));
        break;
      }
      case "random":
        bytes = r.chance(0.5)
          ? r.bytes(r.range(1, 64))
          : r.chance(0.5)
          ? join(fromLatin1(r.word(r.range(1, 40))), r.chance(0.5) ? fromLatin1("\r\n") : fromLatin1("\n"))
          : fromLatin1(
            `${r.pick(["GET", "PING", "get", "SET", "set", "stats", "*1", "$3"])} ${fuzzKey(r)}\r\n`,
          );
        break;
    }
    this.counts[mutation]++;
    return { bytes, mutation };
  }

  /** A valid request of the protocol on the fuzzers' keys. */
  valid(): Uint8Array {
    return this.proto === "memcache" ? memcacheRequest(this.rng) : redisRequest(this.rng);
  }
}

/** A fuzzer's key: mostly one of a few short ones, sometimes one near or past 250 bytes. */
function fuzzKey(r: Rng): string {
  if (r.chance(0.03)) return "fz:" + "k".repeat(r.range(240, 260));
  return `fz:${r.int(32)}`;
}

/** A value: mostly short and printable, sometimes binary, sometimes a few KB. */
function fuzzValue(r: Rng): Uint8Array {
  if (r.chance(0.05)) return r.bytes(r.range(1000, 8000));
  if (r.chance(0.2)) return r.bytes(r.range(0, 40));
  return enc.encode(r.word(r.range(0, 40)));
}

/** A valid memcache ASCII request (never flush_all, never a key outside fz:*). */
function memcacheRequest(r: Rng): Uint8Array {
  const k = fuzzKey(r);
  const noreply = r.chance(0.1) ? " noreply" : "";
  switch (r.int(12)) {
    case 0:
    case 1:
      return fromLatin1(`get ${k}\r\n`);
    case 2:
      return fromLatin1(
        `${r.pick(["get", "gets"])} ${Array.from({ length: r.range(1, 6) }, () => fuzzKey(r)).join(" ")}\r\n`,
      );
    case 3:
    case 4:
    case 5: {
      const cmd = r.pick(["set", "set", "add", "replace", "append", "prepend"]);
      const v = fuzzValue(r);
      return join(
        fromLatin1(`${cmd} ${k} ${r.int(65536)} ${r.pick([0, 0, 100, 3600])} ${v.length}${noreply}\r\n`),
        v,
        fromLatin1("\r\n"),
      );
    }
    case 6: {
      const v = fuzzValue(r);
      return join(
        fromLatin1(`cas ${k} 0 0 ${v.length} ${r.range(1, 100000)}${noreply}\r\n`),
        v,
        fromLatin1("\r\n"),
      );
    }
    case 7:
      return fromLatin1(`${r.pick(["incr", "decr"])} ${k} ${r.range(0, 1000)}${noreply}\r\n`);
    case 8:
      return fromLatin1(`delete ${k}${noreply}\r\n`);
    case 9:
      return fromLatin1(`touch ${k} ${r.pick([0, 100, 3600])}${noreply}\r\n`);
    case 10:
      return fromLatin1(r.chance(0.9) ? "version\r\n" : "quit\r\n");
    default:
      return fromLatin1(`gets ${k}\r\n`);
  }
}

/** A RESP request as an array of bulk strings. */
function resp(args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [fromLatin1(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === "string" ? fromLatin1(a) : a;
    parts.push(fromLatin1(`$${b.length}\r\n`), b, fromLatin1("\r\n"));
  }
  return join(...parts);
}

/** A valid redis request (never a flush, a blocking command or a key outside fz:*). */
function redisRequest(r: Rng): Uint8Array {
  const k = fuzzKey(r);
  const n = () => String(r.range(-100, 1000));
  switch (r.int(16)) {
    case 0:
    case 1:
      return resp(["GET", k]);
    case 2:
    case 3:
      return resp(r.chance(0.2) ? ["SET", k, fuzzValue(r), "EX", "100"] : ["SET", k, fuzzValue(r)]);
    case 4:
      return resp(["MGET", ...Array.from({ length: r.range(1, 6) }, () => fuzzKey(r))]);
    case 5:
      return resp([
        "MSET",
        ...Array.from({ length: r.range(1, 4) }, () => [fuzzKey(r), fuzzValue(r)]).flat(),
      ]);
    case 6:
      return resp([
        r.pick(["DEL", "EXISTS", "UNLINK", "TOUCH"]),
        ...Array.from({ length: r.range(1, 4) }, () => fuzzKey(r)),
      ]);
    case 7:
      return resp(r.chance(0.5) ? [r.pick(["INCR", "DECR"]), k] : [r.pick(["INCRBY", "DECRBY"]), k, n()]);
    case 8:
      return resp([r.pick(["APPEND", "SETNX", "GETSET"]), k, fuzzValue(r)]);
    case 9:
      return resp([r.pick(["STRLEN", "TTL", "PTTL", "TYPE", "PERSIST"]), k]);
    case 10:
      return resp([r.pick(["EXPIRE", "PEXPIRE"]), k, n()]);
    case 11:
      return resp(r.chance(0.5) ? ["HSET", k, r.word(3), fuzzValue(r)] : ["HGET", k, r.word(3)]);
    case 12:
      return resp(r.chance(0.5) ? ["LPUSH", k, fuzzValue(r)] : ["LRANGE", k, "0", n()]);
    case 13:
      return resp(r.chance(0.5) ? ["SADD", k, r.word(4)] : ["SMEMBERS", k]);
    case 14:
      return resp(["PING"]);
    default:
      return resp(["GET", k]);
  }
}

/**
 * Replaces one run of digits (with its sign) by a number on or past a limit, or writes the same
 * number another way (leading zeros, a plus sign: `$03` for `$3`), which one side may read as the
 * number and the other refuse.
 */
function replaceNumber(r: Rng, bytes: Uint8Array): Uint8Array {
  const runs: [number, number][] = [];
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x30 && bytes[i] <= 0x39) {
      let j = i;
      while (j < bytes.length && bytes[j] >= 0x30 && bytes[j] <= 0x39) j++;
      runs.push([i > 0 && bytes[i - 1] === 0x2d ? i - 1 : i, j]);
      i = j;
    }
  }
  if (runs.length === 0) return join(bytes, fromLatin1(` ${r.pick(ODD_NUMBERS)}\r\n`));
  const [from, to] = r.pick(runs);
  const same = String.fromCharCode(...bytes.subarray(from, to));
  const number = r.chance(0.25)
    ? (r.chance(0.8) ? "0".repeat(r.range(1, 3)) + same : `+${same}`)
    : r.chance(0.2)
    ? String(r.int(10)).repeat(r.range(20, 60))
    : r.pick(ODD_NUMBERS);
  return join(bytes.subarray(0, from), fromLatin1(number), bytes.subarray(to));
}

/**
 * Breaks the agreement between a length and its data: a length off by a few, a header line
 * duplicated, or data cut short or doubled.
 */
function mangleLength(r: Rng, bytes: Uint8Array): Uint8Array {
  const lines: [number, number][] = [];
  let start = 0;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
      lines.push([start, i + 2]);
      start = i + 2;
      i++;
    }
  }
  if (lines.length === 0) return bytes;
  const [from, to] = r.pick(lines);
  switch (r.int(4)) {
    case 0: { // a length off by -3..+3
      const line = String.fromCharCode(...bytes.subarray(from, to));
      const m = /\d+/g;
      const found = [...line.matchAll(m)];
      if (found.length === 0) {
        return join(bytes.subarray(0, to), bytes.subarray(from, to), bytes.subarray(to));
      }
      const hit = r.pick(found);
      const changed = String(Math.max(0, Number(hit[0]) + r.pick([-3, -2, -1, 1, 2, 3])));
      const at = from + hit.index!;
      return join(bytes.subarray(0, at), fromLatin1(changed), bytes.subarray(at + hit[0].length));
    }
    case 1: // a header line duplicated
      return join(bytes.subarray(0, to), bytes.subarray(from, to), bytes.subarray(to));
    case 2: // data cut short: the bytes after the first line lose a few
      if (lines.length < 2) return bytes.subarray(0, Math.max(0, bytes.length - r.range(1, 4)));
      return join(bytes.subarray(0, lines[0][1]), bytes.subarray(lines[0][1] + r.range(1, 3)));
    default: // the data doubled
      return join(bytes.subarray(0, lines[0][1]), bytes.subarray(lines[0][1]), bytes.subarray(lines[0][1]));
  }
}

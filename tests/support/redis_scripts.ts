/**
 * Test support: request scripts for redis pools with the exact replies redis 7 gives through
 * nutcracker 0.5.0's routing, used by the tsproxy tests (expected replies) and the differential
 * tests against nutcracker (same replies from both).
 *
 * The family scripts keep each family's keys under one hash tag (pool `hash_tag: "{}"`), so
 * commands naming several keys find them on one server. Together they send every command of
 * nutcracker's table at least once (QUIT aside, which ends a connection: see the tests).
 */
import { createHash } from "node:crypto";
import { cmd, R } from "../../harness/redis_lab.ts";
import { FOUR, type Placement } from "../../harness/placement.ts";

/** One request and the reply it must get: exact bytes, or a pattern for replies that vary. */
export interface Step {
  args: string[];
  request: string;
  expect: string | RegExp;
}

/** A step: the request made of `args`, and its expected reply. */
export function step(args: string[], expect: string | RegExp): Step {
  return { args, request: cmd(...args), expect };
}

/** Whether a reply is the one a step expects. */
export function matches(s: Step, reply: string | undefined): boolean {
  return reply !== undefined && (typeof s.expect === "string" ? reply === s.expect : s.expect.test(reply));
}

const { ok, nil, int, bulk, arr, bulks } = R;
const WRONGTYPE = R.err("WRONGTYPE Operation against a key holding the wrong kind of value");

/** sha1 hex of a script, as EVALSHA wants it. */
export function sha1(script: string): string {
  return createHash("sha1").update(script).digest("hex");
}

const SET_SCRIPT = "return redis.call('set', KEYS[1], ARGV[1])";
const GET_SCRIPT = "return redis.call('get', KEYS[1])";

/** DUMP of the string "v" by redis 7.0 (RDB 10): RESTORE accepts it on 7.0 and later. */
export const DUMP_OF_V = "\x00\x01v\x0a\x00\x91\x08\xce\xb2\x19\x38\x8a\xce";

/**
 * A hash tag whose keys live on the server of the key `2`: ZINTER, ZUNION and ZDIFF are routed by
 * their numkeys argument (nutcracker's quirk), so their keys must sit where `2` goes.
 */
export function tagBeside(placement: Placement, key: string, prefix: string): string {
  const want = placement.owner(key);
  for (let i = 0;; i++) if (placement.owner(`{${prefix}${i}}`) === want) return `{${prefix}${i}}`;
}

/** The family scripts, by family name; `Z` is the sorted-set tag (see `tagBeside`). */
export function familyScripts(placement: Placement = FOUR): Record<string, Step[]> {
  const Z = tagBeside(placement, "2", "z");
  return {
    strings: [
      step(["SET", "{strings}a", "hello"], ok),
      step(["gEt", "{strings}a"], bulk("hello")),
      step(["APPEND", "{strings}a", " world"], int(11)),
      step(["STRLEN", "{strings}a"], int(11)),
      step(["GETRANGE", "{strings}a", "0", "4"], bulk("hello")),
      step(["SETRANGE", "{strings}a", "6", "WORLD"], int(11)),
      step(["GETSET", "{strings}a", "v2"], bulk("hello WORLD")),
      step(["GETDEL", "{strings}a"], bulk("v2")),
      step(["GET", "{strings}a"], nil),
      step(["SETNX", "{strings}n", "10"], int(1)),
      step(["SETNX", "{strings}n", "11"], int(0)),
      step(["INCR", "{strings}n"], int(11)),
      step(["INCRBY", "{strings}n", "5"], int(16)),
      step(["DECR", "{strings}n"], int(15)),
      step(["DECRBY", "{strings}n", "5"], int(10)),
      step(["INCRBYFLOAT", "{strings}n", "1.5"], bulk("11.5")),
      step(["INCR", "{strings}n"], R.err("ERR value is not an integer or out of range")),
      step(["SET", "{strings}x", "1", "NX"], ok),
      step(["SET", "{strings}x", "2", "XX", "GET"], bulk("1")),
      step(["GETEX", "{strings}x", "PERSIST"], bulk("2")),
      step(["SET", "{strings}empty", ""], ok),
      step(["GET", "{strings}empty"], bulk("")),
      step(["SET", "{strings}bin\x00\r\nkey", "v\r\n\x00\xff$-1\r\n"], ok),
      step(["GET", "{strings}bin\x00\r\nkey"], bulk("v\r\n\x00\xff$-1\r\n")),
      step(["SET", "", "empty key"], ok),
      step(["GET", ""], bulk("empty key")),
    ],
    hashes: [
      step(["HSET", "{hashes}h", "f1", "v1", "f2", "v2"], int(2)),
      step(["HGET", "{hashes}h", "f1"], bulk("v1")),
      step(["HMSET", "{hashes}h", "f3", "v3"], ok),
      step(["HMGET", "{hashes}h", "f1", "nof", "f3"], arr(bulk("v1"), nil, bulk("v3"))),
      step(["HGETALL", "{hashes}h"], bulks("f1", "v1", "f2", "v2", "f3", "v3")),
      step(["HKEYS", "{hashes}h"], bulks("f1", "f2", "f3")),
      step(["HVALS", "{hashes}h"], bulks("v1", "v2", "v3")),
      step(["HLEN", "{hashes}h"], int(3)),
      step(["HEXISTS", "{hashes}h", "f1"], int(1)),
      step(["HSTRLEN", "{hashes}h", "f1"], int(2)),
      step(["HSETNX", "{hashes}h", "f1", "x"], int(0)),
      step(["HINCRBY", "{hashes}h", "n", "5"], int(5)),
      step(["HINCRBYFLOAT", "{hashes}h", "n", "0.5"], bulk("5.5")),
      step(["HDEL", "{hashes}h", "f2", "nof"], int(1)),
      step(["HSCAN", "{hashes}h", "0"], arr(bulk("0"), bulks("f1", "v1", "f3", "v3", "n", "5.5"))),
      step(["HSET", "{hashes}one", "f", "v"], int(1)),
      step(["HRANDFIELD", "{hashes}one"], bulk("f")),
      step(["HRANDFIELD", "{hashes}one", "1", "WITHVALUES"], bulks("f", "v")),
      step(["HGET", "{strings}n", "f"], WRONGTYPE),
    ],
    lists: [
      step(["RPUSH", "{lists}a", "a", "b", "c"], int(3)),
      step(["LPUSH", "{lists}a", "z"], int(4)),
      step(["LPUSHX", "{lists}a", "y"], int(5)),
      step(["RPUSHX", "{lists}none", "x"], int(0)),
      step(["LRANGE", "{lists}a", "0", "-1"], bulks("y", "z", "a", "b", "c")),
      step(["LLEN", "{lists}a"], int(5)),
      step(["LINDEX", "{lists}a", "1"], bulk("z")),
      step(["LSET", "{lists}a", "0", "Y"], ok),
      step(["LINSERT", "{lists}a", "BEFORE", "a", "A"], int(6)),
      step(["LREM", "{lists}a", "1", "A"], int(1)),
      step(["LPOS", "{lists}a", "b"], int(3)),
      step(["LTRIM", "{lists}a", "0", "3"], ok),
      step(["RPOP", "{lists}a"], bulk("b")),
      step(["LPOP", "{lists}a"], bulk("Y")),
      step(["LPOP", "{lists}a", "1"], bulks("z")),
      step(["RPOPLPUSH", "{lists}a", "{lists}b"], bulk("a")),
      step(["LMOVE", "{lists}b", "{lists}a", "LEFT", "RIGHT"], bulk("a")),
      step(["LRANGE", "{lists}a", "0", "-1"], bulks("a")),
      step(["LPUSH", "{strings}n", "x"], WRONGTYPE),
    ],
    sets: [
      step(["SADD", "{sets}a", "1", "2", "3"], int(3)),
      step(["SADD", "{sets}b", "2", "3", "4"], int(3)),
      step(["SMEMBERS", "{sets}a"], bulks("1", "2", "3")),
      step(["SCARD", "{sets}a"], int(3)),
      step(["SISMEMBER", "{sets}a", "1"], int(1)),
      step(["SMISMEMBER", "{sets}a", "1", "9"], arr(int(1), int(0))),
      step(["SINTER", "{sets}a", "{sets}b"], bulks("2", "3")),
      step(["SUNION", "{sets}a", "{sets}b"], bulks("1", "2", "3", "4")),
      step(["SDIFF", "{sets}a", "{sets}b"], bulks("1")),
      step(["SINTERSTORE", "{sets}i", "{sets}a", "{sets}b"], int(2)),
      step(["SUNIONSTORE", "{sets}u", "{sets}a", "{sets}b"], int(4)),
      step(["SDIFFSTORE", "{sets}d", "{sets}a", "{sets}b"], int(1)),
      step(["SMOVE", "{sets}a", "{sets}b", "1"], int(1)),
      step(["SREM", "{sets}b", "4"], int(1)),
      step(["SSCAN", "{sets}b", "0"], arr(bulk("0"), bulks("1", "2", "3"))),
      step(["SORT", "{sets}b", "DESC", "LIMIT", "0", "2"], bulks("3", "2")),
      step(["SADD", "{sets}one", "x"], int(1)),
      step(["SRANDMEMBER", "{sets}one"], bulk("x")),
      step(["SPOP", "{sets}one"], bulk("x")),
      step(["SPOP", "{sets}one"], nil),
    ],
    "sorted sets": [
      step(["ZADD", `${Z}a`, "1", "a", "2", "b", "3", "c"], int(3)),
      step(["ZADD", `${Z}b`, "1", "b", "5", "d"], int(2)),
      step(["ZCARD", `${Z}a`], int(3)),
      step(["ZSCORE", `${Z}a`, "b"], bulk("2")),
      step(["ZMSCORE", `${Z}a`, "a", "x"], arr(bulk("1"), nil)),
      step(["ZRANK", `${Z}a`, "c"], int(2)),
      step(["ZREVRANK", `${Z}a`, "c"], int(0)),
      step(["ZINCRBY", `${Z}a`, "10", "a"], bulk("11")),
      step(["ZCOUNT", `${Z}a`, "0", "5"], int(2)),
      step(["ZRANGE", `${Z}a`, "0", "-1", "WITHSCORES"], bulks("b", "2", "c", "3", "a", "11")),
      step(["ZRANGEBYSCORE", `${Z}a`, "2", "3"], bulks("b", "c")),
      step(["ZREVRANGE", `${Z}a`, "0", "0"], bulks("a")),
      step(["ZREVRANGEBYSCORE", `${Z}a`, "+inf", "3"], bulks("a", "c")),
      step(["ZADD", `${Z}lex`, "0", "a", "0", "b", "0", "c", "0", "d"], int(4)),
      step(["ZLEXCOUNT", `${Z}lex`, "[b", "[c"], int(2)),
      step(["ZRANGEBYLEX", `${Z}lex`, "[b", "(d"], bulks("b", "c")),
      step(["ZREVRANGEBYLEX", `${Z}lex`, "+", "-", "LIMIT", "0", "2"], bulks("d", "c")),
      step(["ZREMRANGEBYLEX", `${Z}lex`, "[a", "[a"], int(1)),
      step(["ZRANGESTORE", `${Z}st`, `${Z}a`, "0", "1"], int(2)),
      step(["ZREMRANGEBYRANK", `${Z}st`, "0", "0"], int(1)),
      step(["ZREMRANGEBYSCORE", `${Z}st`, "0", "100"], int(1)),
      step(["ZREM", `${Z}a`, "c"], int(1)),
      step(["ZPOPMIN", `${Z}a`], bulks("b", "2")),
      step(["ZPOPMAX", `${Z}a`], bulks("a", "11")),
      step(["ZADD", `${Z}a`, "1", "a", "2", "b"], int(2)),
      step(["ZUNION", "2", `${Z}a`, `${Z}b`, "WITHSCORES"], bulks("a", "1", "b", "3", "d", "5")),
      step(["ZINTER", "2", `${Z}a`, `${Z}b`], bulks("b")),
      step(["ZDIFF", "2", `${Z}a`, `${Z}b`], bulks("a")),
      step(["ZUNIONSTORE", `${Z}u`, "2", `${Z}a`, `${Z}b`], int(3)),
      step(["ZINTERSTORE", `${Z}i`, "2", `${Z}a`, `${Z}b`], int(1)),
      step(["ZDIFFSTORE", `${Z}d`, "2", `${Z}a`, `${Z}b`], int(1)),
      step(["ZSCAN", `${Z}b`, "0"], arr(bulk("0"), bulks("b", "1", "d", "5"))),
      step(["ZADD", `${Z}one`, "1", "m"], int(1)),
      step(["ZRANDMEMBER", `${Z}one`], bulk("m")),
    ],
    geo: [
      step(
        ["GEOADD", "{geo}sic", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
        int(2),
      ),
      step(["GEODIST", "{geo}sic", "Palermo", "Catania", "km"], bulk("166.2742")),
      step(["GEOHASH", "{geo}sic", "Palermo"], bulks("sqc8b49rny0")),
      step(["GEOPOS", "{geo}sic", "Palermo"], arr(bulks("13.36138933897018433", "38.11555639549629859"))),
      step(["GEORADIUS", "{geo}sic", "15", "37", "200", "km", "ASC"], bulks("Catania", "Palermo")),
      step(["GEORADIUSBYMEMBER", "{geo}sic", "Palermo", "200", "km", "ASC"], bulks("Palermo", "Catania")),
      step(
        ["GEOSEARCH", "{geo}sic", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"],
        bulks("Catania", "Palermo"),
      ),
      step(
        ["GEOSEARCHSTORE", "{geo}dst", "{geo}sic", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
        int(2),
      ),
    ],
    hyperloglog: [
      step(["PFADD", "{hll}a", "x", "y", "z"], int(1)),
      step(["PFADD", "{hll}b", "z", "w"], int(1)),
      step(["PFCOUNT", "{hll}a"], int(3)),
      step(["PFMERGE", "{hll}m", "{hll}a", "{hll}b"], ok),
      step(["PFCOUNT", "{hll}m"], int(4)),
    ],
    bitmaps: [
      step(["SETBIT", "{bits}k", "7", "1"], int(0)),
      step(["GETBIT", "{bits}k", "7"], int(1)),
      step(["BITCOUNT", "{bits}k"], int(1)),
      step(["BITPOS", "{bits}k", "1"], int(7)),
      step(["BITFIELD", "{bits}k", "GET", "u8", "0"], arr(int(1))),
      step(["BITFIELD", "{bits}k", "INCRBY", "u8", "0", "2"], arr(int(3))),
    ],
    scripting: [
      step(["EVAL", SET_SCRIPT, "1", "{eval}k", "v"], ok),
      step(["EVAL", GET_SCRIPT, "1", "{eval}k"], bulk("v")),
      step(["EVALSHA", sha1(GET_SCRIPT), "1", "{eval}k"], bulk("v")),
      step(
        ["evalsha", sha1("return 0"), "1", "{eval}k"],
        R.err("NOSCRIPT No matching script. Please use EVAL."),
      ),
    ],
    expiry: [
      step(["SET", "{expiry}k", "v"], ok),
      step(["EXPIRE", "{expiry}k", "100"], int(1)),
      step(["TTL", "{expiry}k"], int(100)),
      step(["PEXPIRE", "{expiry}k", "200000"], int(1)),
      step(["PTTL", "{expiry}k"], /^:(199\d{3}|200000)\r\n$/),
      step(["EXPIREAT", "{expiry}k", "4102444800"], int(1)),
      step(["PEXPIREAT", "{expiry}k", "4102444800000"], int(1)),
      step(["TTL", "{expiry}k"], /^:\d{9,10}\r\n$/),
      step(["PERSIST", "{expiry}k"], int(1)),
      step(["TTL", "{expiry}k"], int(-1)),
      step(["TTL", "{expiry}none"], int(-2)),
      step(["SETEX", "{expiry}e", "100", "v"], ok),
      step(["TTL", "{expiry}e"], int(100)),
      step(["PSETEX", "{expiry}p", "100000", "v"], ok),
      step(["PTTL", "{expiry}p"], /^:(99\d{3}|100000)\r\n$/),
      step(["GETEX", "{expiry}p", "EX", "50"], bulk("v")),
      step(["TTL", "{expiry}p"], int(50)),
    ],
    keyspace: [
      step(["SET", "{keyspace}a", "v"], ok),
      step(["TYPE", "{keyspace}a"], R.status("string")),
      step(["COPY", "{keyspace}a", "{keyspace}b"], int(1)),
      step(["DUMP", "{keyspace}a"], bulk(DUMP_OF_V)),
      step(["RESTORE", "{keyspace}c", "0", DUMP_OF_V], ok),
      step(["RESTORE", "{keyspace}c", "0", DUMP_OF_V], R.err("BUSYKEY Target key name already exists.")),
      step(["EXISTS", "{keyspace}a", "{keyspace}b", "{keyspace}none"], int(2)),
      step(["TOUCH", "{keyspace}a", "{keyspace}b", "{keyspace}c"], int(3)),
      step(["MGET", "{keyspace}a", "{keyspace}none", "{keyspace}c"], arr(bulk("v"), nil, bulk("v"))),
      step(["MSET", "{keyspace}d", "1", "{keyspace}e", "2"], ok),
      step(["UNLINK", "{keyspace}b", "{keyspace}none"], int(1)),
      step(["DEL", "{keyspace}a", "{keyspace}c", "{keyspace}d", "{keyspace}e"], int(4)),
      step(["DEL", "{keyspace}a"], int(0)),
    ],
    "proxy and placeholder": [
      step(["PING"], R.status("PONG")),
      step(["ping"], R.status("PONG")),
      step(["AUTH", "pw"], R.err("ERR Client sent AUTH, but no password is set")),
      step(["COMMAND"], /^\*2\d\d\r\n\*/),
      step(["LOLWUT"], /^\$\d+\r\n[^]*Redis ver\. [^]*\r\n$/),
      step(["LOLWUT", "VERSION", "5"], /^\$\d+\r\n[^]*Redis ver\. [^]*\r\n$/),
    ],
  };
}

/** The command names (lowercase) a list of steps sends. */
export function commandNames(steps: readonly Step[]): Set<string> {
  return new Set(steps.map((s) => s.args[0].toLowerCase()));
}

/** A small deterministic PRNG (mulberry32), so scripts are the same on every run and proxy. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** redis string semantics for the keys a script touches, to state the replies it must get. */
class Strings {
  readonly #data = new Map<string, string>();

  set(key: string, value: string): string {
    this.#data.set(key, value);
    return ok;
  }
  get(key: string): string {
    const v = this.#data.get(key);
    return v === undefined ? nil : bulk(v);
  }
  mget(keys: readonly string[]): string {
    return arr(...keys.map((k) => this.get(k)));
  }
  /** DEL/UNLINK: each existing key counts once, however often it is named. */
  del(keys: readonly string[]): string {
    let n = 0;
    for (const k of keys) if (this.#data.delete(k)) n++;
    return int(n);
  }
  /** EXISTS/TOUCH: every naming of an existing key counts. */
  count(keys: readonly string[]): string {
    return int(keys.filter((k) => this.#data.has(k)).length);
  }
  append(key: string, s: string): string {
    const v = (this.#data.get(key) ?? "") + s;
    this.#data.set(key, v);
    return int(v.length);
  }
  incr(key: string): string {
    const v = Number(this.#data.get(key) ?? "0") + 1;
    this.#data.set(key, String(v));
    return int(v);
  }
}

/**
 * A pipeline of `n` requests on 32 keys and 8 counters spread over every server: SET, GET, INCR,
 * APPEND, DEL and multi-key MGET/MSET/DEL, with the replies redis gives.
 */
export function pipelineSteps(n: number, prefix: string, seed = 1, placement: Placement = FOUR): Step[] {
  const rnd = prng(seed);
  const model = new Strings();
  const keys = spreadKeys(prefix, 8, placement);
  const counters = spreadKeys(`${prefix}c`, 2, placement);
  const key = () => keys[Math.floor(rnd() * keys.length)];
  const counter = () => counters[Math.floor(rnd() * counters.length)];
  const steps: Step[] = [];
  for (let i = 0; i < n; i++) {
    const k = key();
    const value = `v${i}-${"x".repeat(Math.floor(rnd() * 40))}`;
    switch (Math.floor(rnd() * 8)) {
      case 0:
      case 1:
        steps.push(step(["SET", k, value], model.set(k, value)));
        break;
      case 2:
      case 3:
        steps.push(step(["GET", k], model.get(k)));
        break;
      case 4: {
        const c = counter();
        steps.push(step(["INCR", c], model.incr(c)));
        break;
      }
      case 5:
        steps.push(step(["APPEND", k, "+"], model.append(k, "+")));
        break;
      case 6: {
        const keys = [key(), key(), key(), key()];
        steps.push(step(["MGET", ...keys], model.mget(keys)));
        break;
      }
      default: {
        const [a, b] = [key(), key()];
        if (rnd() < 0.5) steps.push(step(["DEL", a, b], model.del([a, b])));
        else steps.push(step(["MSET", a, value, b, value], (model.set(a, value), model.set(b, value))));
      }
    }
  }
  return steps;
}

/** Keys for multi-key requests: `perServer` keys on each server of the placement, interleaved. */
export function spreadKeys(prefix: string, perServer: number, placement: Placement = FOUR): string[] {
  const byServer = placement.names.map((_, s) => placement.keysOn(s, prefix, perServer));
  const out: string[] = [];
  for (let i = 0; i < perServer; i++) for (const keys of byServer) out.push(keys[i]);
  return out;
}

/**
 * MSET, MGET, EXISTS, TOUCH, UNLINK and DEL over keys on all four servers, with duplicates and
 * missing keys. EXISTS over several servers is tsproxy's documented difference: `nutcracker`
 * holds what 0.5.0 answers (only the first key's server is asked).
 */
export function multiKeySteps(
  prefix: string,
  placement: Placement = FOUR,
): (Step & { nutcracker?: string })[] {
  const k = spreadKeys(prefix, 2, placement); // k[i] is on server i % 4
  const missing = placement.keysOn(2, `${prefix}missing`)[0];
  const model = new Strings();
  const pairs = k.flatMap((key) => [key, `value of ${key}`]);
  k.forEach((key) => model.set(key, `value of ${key}`));
  const exists = [k[0], k[1], k[2], k[3], missing, k[4]];
  return [
    step(["MSET", ...pairs], ok),
    step(["MGET", ...k, missing, k[0], k[5], k[5]], model.mget([...k, missing, k[0], k[5], k[5]])),
    step(["MGET", k[3]], model.mget([k[3]])),
    step(["MGET", missing], model.mget([missing])),
    step(["mget", k[1], k[5]], model.mget([k[1], k[5]])),
    {
      ...step(["EXISTS", ...exists], model.count(exists)),
      nutcracker: model.count(exists.filter((key) => placement.owner(key) === placement.owner(k[0]))),
    },
    step(["EXISTS", k[2], k[6], missing], model.count([k[2], k[6], missing])),
    step(
      ["TOUCH", k[0], k[1], k[2], k[3], missing, k[0]],
      model.count([k[0], k[1], k[2], k[3], missing, k[0]]),
    ),
    step(["UNLINK", k[0], k[1]], model.del([k[0], k[1]])),
    step(["DEL", k[0], k[2], k[3], k[4], missing], model.del([k[0], k[2], k[3], k[4], missing])),
    step(["DEL", k[5], k[5]], model.del([k[5], k[5]])),
    step(
      ["MSET", k[0], "x", k[1], "y", k[0], "z"],
      (model.set(k[0], "x"), model.set(k[1], "y"), model.set(k[0], "z")),
    ),
    step(["MGET", ...k, missing], model.mget([...k, missing])),
    step(["DEL", ...k], model.del(k)),
  ];
}

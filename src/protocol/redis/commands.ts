/**
 * nutcracker 0.5.0's redis command table: which commands pass, their arity and where their routing
 * keys sit, looked up from the name's bytes without decoding them.
 */

/** Where a command's keys sit among its arguments. */
export const Shape = {
  /** No key: routed by `placeholder` (COMMAND, LOLWUT) or answered locally (PING, QUIT). */
  NoKey: 0,
  /** The element after the name is the routing key; later ones are forwarded with it. */
  FirstKey: 1,
  /** Every argument is a key: split across servers when there is more than one. */
  AllKeys: 2,
  /** key value pairs (MSET): split by key, each value travelling with its key. */
  Pairs: 3,
  /** `script numkeys key ...` (EVAL, EVALSHA): routed by the key after numkeys. */
  Script: 4,
} as const;
export type Shape = typeof Shape[keyof typeof Shape];

/** One supported command. `minArgs`/`maxArgs` count the array elements including the name. */
export interface CommandSpec {
  /** Lowercase name, as written into split fragments. */
  readonly name: string;
  readonly shape: Shape;
  readonly minArgs: number;
  readonly maxArgs: number;
}

const ANY = Number.POSITIVE_INFINITY;

// [shape, minArgs, maxArgs, names]; MOVE is left out on purpose: nutcracker lists it but has no
// handler and closes the client, so tsproxy refuses it as unsupported.
const GROUPS: [Shape, number, number, string][] = [
  [Shape.NoKey, 1, 1, "ping quit command"],
  [Shape.NoKey, 1, ANY, "lolwut"],
  [
    Shape.FirstKey,
    2,
    2,
    "auth decr dump get getdel hgetall hkeys hlen hvals incr llen persist pttl scard smembers strlen ttl type zcard",
  ],
  [
    Shape.FirstKey,
    3,
    3,
    "append decrby expire expireat getbit getset hexists hget hstrlen incrby incrbyfloat lindex pexpire " +
    "pexpireat rpoplpush setnx sismember zrank zrevrank zscore",
  ],
  [
    Shape.FirstKey,
    4,
    4,
    "getrange hincrby hincrbyfloat hsetnx lrange lrem lset ltrim psetex setbit setex setrange smove zcount " +
    "zincrby zlexcount zremrangebylex zremrangebyrank zremrangebyscore",
  ],
  [Shape.FirstKey, 5, 5, "linsert lmove"],
  [
    Shape.FirstKey,
    2,
    ANY,
    "bitcount bitfield bitpos copy geoadd geodist geohash geopos georadius georadiusbymember geosearch " +
    "geosearchstore getex hdel hmget hmset hrandfield hscan hset lpop lpos lpush lpushx pfadd pfcount pfmerge " +
    "restore rpop rpush rpushx sadd sdiff sdiffstore set sinter sinterstore smismember sort spop srandmember " +
    "srem sscan sunion sunionstore zadd zdiff zdiffstore zinter zinterstore zmscore zpopmax zpopmin " +
    "zrandmember zrange zrangebylex zrangebyscore zrangestore zrem zrevrange zrevrangebylex zrevrangebyscore " +
    "zscan zunion zunionstore",
  ],
  // EXISTS is split and summed here (a tsproxy difference: nutcracker asks the first key's server only).
  [Shape.AllKeys, 2, ANY, "del mget touch unlink exists"],
  [Shape.Pairs, 3, ANY, "mset"],
  [Shape.Script, 4, ANY, "eval evalsha"],
];

/** Every supported command; a command's id is its index here. */
export const COMMANDS: readonly CommandSpec[] = GROUPS.flatMap(([shape, minArgs, maxArgs, names]) =>
  names.split(" ").map((name) => ({ name, shape, minArgs, maxArgs }))
);

const NAME_BYTES = COMMANDS.map((c) => new TextEncoder().encode(c.name));
const LONGEST = Math.max(...NAME_BYTES.map((b) => b.length));

/** FNV-1a over the ASCII-lowercased bytes, seeded with the length (cheap, and collision-free on the table). */
function nameHash(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) {
    const c = buf[i];
    h = Math.imul(h ^ (c >= 65 && c <= 90 ? c | 0x20 : c), 0x01000193);
  }
  return h >>> 0;
}

const BY_HASH = new Map<number, number>();
NAME_BYTES.forEach((bytes, id) => {
  const h = nameHash(bytes, 0, bytes.length);
  // Guards the table itself: a collision would make a command unreachable.
  if (BY_HASH.has(h)) throw new Error(`redis command hash collision: ${COMMANDS[id].name}`);
  BY_HASH.set(h, id);
});

/** The id of the command named by buf[start, end) (any letter case), or -1 when unsupported. */
export function lookupCommand(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > LONGEST) return -1;
  const id = BY_HASH.get(nameHash(buf, start, end));
  if (id === undefined) return -1;
  // The hash only narrows the search: unknown names may collide with a known one.
  const name = NAME_BYTES[id];
  if (name.length !== len) return -1;
  for (let i = 0; i < len; i++) {
    const c = buf[start + i];
    if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== name[i]) return -1;
  }
  return id;
}

/** The id of a command by its lowercase name; throws for names outside the table. */
export function commandId(name: string): number {
  const id = COMMANDS.findIndex((c) => c.name === name);
  if (id < 0) throw new Error(`not a supported redis command: ${name}`);
  return id;
}

/** Ids of the commands other modules treat specially. */
export const CMD = {
  ping: commandId("ping"),
  quit: commandId("quit"),
  auth: commandId("auth"),
  mget: commandId("mget"),
  mset: commandId("mset"),
} as const;

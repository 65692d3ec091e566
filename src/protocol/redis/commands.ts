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
  // The shapes below report every argument's range as a key: the session or split reads them.
  /** Answered by the proxy (CLIENT, HELLO, SELECT, ECHO, COMMAND with a subcommand). */
  Local: 5,
  /** Sent to every server and merged (INFO, DBSIZE), or to the server a cursor names (SCAN). */
  Fanout: 6,
  /** Carried on a pinned server connection: transactions, pub/sub, blocking commands. */
  Pinned: 7,
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
const NUTCRACKER_GROUPS: [Shape, number, number, string][] = [
  [Shape.NoKey, 1, 1, "ping quit"],
  [Shape.NoKey, 1, ANY, "lolwut"],
  // Bare COMMAND is forwarded, as nutcracker does; its subcommands (DOCS, COUNT, INFO), which
  // nutcracker refuses, are answered by the proxy (redis-cli asks COMMAND DOCS when it starts).
  [Shape.Local, 1, ANY, "command"],
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

/** What tsproxy serves that nutcracker 0.5.0 refuses (it closes the client on them). */
const ADDED_GROUPS: [Shape, number, number, string][] = [
  [Shape.NoKey, 1, 1, "time"],
  [Shape.FirstKey, 3, 3, "publish"],
  [Shape.Local, 2, ANY, "client select echo"],
  [Shape.Local, 1, ANY, "hello"],
  [Shape.Fanout, 1, ANY, "info"],
  [Shape.Fanout, 1, 1, "dbsize"],
  [Shape.Fanout, 2, ANY, "scan"],
  [Shape.Pinned, 1, 1, "multi exec discard unwatch"],
  [Shape.Pinned, 2, ANY, "watch subscribe psubscribe"],
  [Shape.Pinned, 1, ANY, "unsubscribe punsubscribe"],
  [Shape.Pinned, 3, ANY, "blpop brpop bzpopmin bzpopmax"],
  [Shape.Pinned, 4, 4, "brpoplpush"],
  [Shape.Pinned, 6, 6, "blmove"],
  [Shape.Pinned, 5, ANY, "blmpop bzmpop"],
  [Shape.Pinned, 4, ANY, "xread xreadgroup"],
  [Shape.Pinned, 3, 3, "wait"],
];

/** Whether a shape reports every argument as a key range (the proxy reads the arguments itself). */
export function reportsAllArgs(shape: Shape): boolean {
  return shape >= Shape.Local;
}

const GROUPS = [...NUTCRACKER_GROUPS, ...ADDED_GROUPS];

/** Every supported command; a command's id is its index here. */
export const COMMANDS: readonly CommandSpec[] = GROUPS.flatMap(([shape, minArgs, maxArgs, names]) =>
  names.split(" ").map((name) => ({ name, shape, minArgs, maxArgs }))
);

/** Commands with an id below this one are nutcracker 0.5.0's; the others are tsproxy's additions. */
export const NUTCRACKER_COMMANDS = NUTCRACKER_GROUPS.reduce(
  (n, [, , , names]) => n + names.split(" ").length,
  0,
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

/**
 * nutcracker 0.5.0's message type of each command with keys, as its log lines print it (read from
 * the binary's own log lines); keyless commands never reach such a line.
 */
const NC_TYPES = new Map(
  (
    "auth:162 decr:47 dump:49 get:50 getdel:52 hgetall:72 hkeys:75 hlen:76 hvals:84 incr:56 llen:87 " +
    "persist:36 pttl:37 scard:105 smembers:112 strlen:68 ttl:40 type:41 zcard:121 append:43 decrby:48 " +
    "expire:31 expireat:32 getbit:51 getset:55 hexists:70 hget:71 hstrlen:83 incrby:57 incrbyfloat:58 " +
    "lindex:85 pexpire:34 pexpireat:35 rpoplpush:101 setnx:66 sismember:110 zrank:137 zrevrank:145 " +
    "zscore:148 getrange:54 hincrby:73 hincrbyfloat:74 hsetnx:81 lrange:93 lrem:94 lset:95 ltrim:96 " +
    "psetex:61 setbit:64 setex:65 setrange:67 smove:113 zcount:122 zincrby:125 zlexcount:128 " +
    "zremrangebylex:140 zremrangebyrank:139 zremrangebyscore:141 linsert:86 lmove:88 bitcount:44 " +
    "bitfield:45 bitpos:46 copy:28 geoadd:150 geodist:151 geohash:152 geopos:155 georadius:153 " +
    "georadiusbymember:154 geosearch:156 geosearchstore:157 getex:53 hdel:69 hmget:77 hmset:78 " +
    "hrandfield:79 hscan:82 hset:80 lpop:89 lpos:90 lpush:91 lpushx:92 pfadd:97 pfcount:98 pfmerge:99 " +
    "restore:62 rpop:100 rpush:102 rpushx:103 sadd:104 sdiff:106 sdiffstore:107 set:63 sinter:108 " +
    "sinterstore:109 smismember:111 sort:38 spop:114 srandmember:115 srem:116 sscan:119 sunion:117 " +
    "sunionstore:118 zadd:120 zdiff:123 zdiffstore:124 zinter:126 zinterstore:127 zmscore:129 " +
    "zpopmax:131 zpopmin:130 zrandmember:132 zrange:133 zrangebylex:134 zrangebyscore:135 " +
    "zrangestore:136 zrem:138 zrevrange:142 zrevrangebylex:143 zrevrangebyscore:144 zscan:147 " +
    "zunion:146 zunionstore:149 del:29 mget:59 touch:39 unlink:42 exists:30 mset:60 eval:158 " +
    "evalsha:159"
  ).split(" ").map((pair) => pair.split(":")).map(([name, type]) => [commandId(name), Number(type)]),
);

/** A command's message type number in nutcracker's log lines. */
export function ncType(cmd: number): number {
  return NC_TYPES.get(cmd) ?? 0;
}

/**
 * The key-routed commands a replica may serve (pool directive read_from): those redis-server 7.0
 * flags `readonly` in COMMAND INFO, but TOUCH (it exists to refresh the keys' access time where
 * eviction happens: on the master) and HSCAN, SSCAN and ZSCAN (a cursor is one instance's: read
 * from replicas in turn, an iteration would miss or repeat elements). Left out by shape: LOLWUT (no
 * key), DBSIZE and SCAN (fan-out), XREAD (pinned). SORT, GEORADIUS and GEORADIUSBYMEMBER may STORE:
 * they are writes.
 */
const READ_ONLY_NAMES = (
  "bitcount bitpos dump exists geodist geohash geopos geosearch get getbit getrange hexists hget " +
  "hgetall hkeys hlen hmget hrandfield hstrlen hvals lindex llen lpos lrange mget pfcount pttl " +
  "scard sdiff sinter sismember smembers smismember srandmember strlen sunion ttl type zcard " +
  "zcount zdiff zinter zlexcount zmscore zrandmember zrange zrangebylex zrangebyscore zrank zrevrange " +
  "zrevrangebylex zrevrangebyscore zrevrank zscore zunion"
).split(" ");

/** 1 at the id of each command a replica may serve (READ_ONLY_NAMES), else 0. */
export const READ_ONLY: Uint8Array = new Uint8Array(COMMANDS.length);
for (const name of READ_ONLY_NAMES) READ_ONLY[commandId(name)] = 1;

/** Whether command `cmd` only reads, so a replica may serve it. */
export function isReadOnlyCommand(cmd: number): boolean {
  return READ_ONLY[cmd] === 1;
}

/** Ids of the commands other modules treat specially. */
export const CMD = {
  ping: commandId("ping"),
  command: commandId("command"),
  hello: commandId("hello"),
  quit: commandId("quit"),
  auth: commandId("auth"),
  mget: commandId("mget"),
  mset: commandId("mset"),
  multi: commandId("multi"),
  exec: commandId("exec"),
  discard: commandId("discard"),
  watch: commandId("watch"),
  unwatch: commandId("unwatch"),
  subscribe: commandId("subscribe"),
  unsubscribe: commandId("unsubscribe"),
  psubscribe: commandId("psubscribe"),
  punsubscribe: commandId("punsubscribe"),
  wait: commandId("wait"),
  xread: commandId("xread"),
  xreadgroup: commandId("xreadgroup"),
  blmpop: commandId("blmpop"),
  bzmpop: commandId("bzmpop"),
  brpoplpush: commandId("brpoplpush"),
  blmove: commandId("blmove"),
} as const;

/**
 * Routing checks, for memcache and redis pools of four servers s1..s4 (fnv1a_64, ketama):
 *
 * - hash_tag: keys sharing a `{tag}` are stored on the one server the tag hashes to, found by asking
 *   every backend directly (fakes or real memcached/redis-server);
 * - fragment counts: a multi-key request over four servers reaches each server as exactly one request
 *   (counted by the fake backends), its reply keeps the client's key order, and tsproxy's `fragments`
 *   stat counts one fragment per server (nutcracker 0.5.0 never counts them).
 */
import { show } from "../bytes.ts";
import { keyHolders, Lab, type Scenario, type ServerSpec } from "../memcache_lab.ts";
import { Placement } from "../placement.ts";
import type { ProxyKind } from "../procs.ts";
import { ask, askDirect as askRedis, type Backend, cmd, R, RedisLab } from "../redis_lab.ts";
import type { Check } from "../runner.ts";

const NAMES = ["s1", "s2", "s3", "s4"];
/** The pool directives of every routing check: nutcracker's defaults made explicit, and the `{}` tag. */
export const TAGGED_POOL = ["hash: fnv1a_64", "distribution: ketama", 'hash_tag: "{}"'];
const PLACEMENT = new Placement(NAMES, "{}");

/** Which backends a check runs in front of. */
export type Backends = "fake" | "real";

/** 24 keys, three fields for each of eight `{user:N}` tags. */
function taggedKeys(): string[] {
  const keys: string[] = [];
  for (let user = 0; user < 8; user++) {
    for (const field of ["name", "mail", "seen"]) keys.push(`{user:${user}}:${field}`);
  }
  return keys;
}

/** Three untagged keys per server, interleaved s1, s2, s3, s4, s1, ... so every server gets a share. */
function spreadKeys(): string[] {
  const perServer = NAMES.map((_, s) => PLACEMENT.keysOn(s, "frag:", 3));
  return [0, 1, 2].flatMap((i) => perServer.map((keys) => keys[i]));
}

/** Throws unless each key is held by exactly the server its placement names. */
function assertPlaced(keys: string[], holders: number[][]): void {
  keys.forEach((key, i) => {
    const owner = PLACEMENT.owner(key);
    const held = holders[i].map((b) => NAMES[b]);
    if (held.length !== 1 || holders[i][0] !== owner) {
      throw new Error(`${key} is on [${held.join(", ")}], its tag hashes to ${NAMES[owner]}`);
    }
  });
}

/** Throws unless `got` is `want`, naming what was asked. */
function expectReply(what: string, got: string | undefined, want: string): void {
  if (got !== want) {
    throw new Error(`${what}: got ${got === undefined ? "nothing" : show(got)}, want ${show(want)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// memcache

function memcachePool(backends: Backends, directives: string[]): Pick<Scenario, "directives" | "servers"> {
  const kind = backends === "real" ? "memcached" : "fake";
  return { directives, servers: NAMES.map((name) => ({ name, kind }) as ServerSpec) };
}

const mcValue = (key: string) => `VALUE ${key} 0 ${key.length}\r\n${key}\r\n`;

/** Stores each key (its own name as the value) through the proxy, in one pipelined write. */
async function mcStore(lab: Lab, keys: string[]): Promise<void> {
  const c = await lab.client();
  const [reply] = await lab.ask(
    "store",
    c,
    keys.map((k) => `set ${k} 0 0 ${k.length}\r\n${k}\r\n`).join(""),
    keys.length,
  );
  expectReply(`storing ${keys.length} keys`, reply, "STORED\r\n".repeat(keys.length));
}

/** Memcache keys sharing a hash tag land on the tag's server; a multi-get of them reads them back. */
export async function memcacheHashTag(
  kind: ProxyKind,
  backends: Backends,
  directives = TAGGED_POOL,
): Promise<void> {
  const lab = await Lab.start(kind, memcachePool(backends, directives));
  try {
    const keys = taggedKeys();
    await mcStore(lab, keys);
    assertPlaced(keys, await keyHolders(NAMES.map((n) => lab.backendPort(n)), keys));
    const [reply] = await lab.ask("read back", await lab.client(), `get ${keys.join(" ")}\r\n`);
    expectReply("the multi-get of every tagged key", reply, keys.map(mcValue).join("") + "END\r\n");
  } finally {
    await lab.close();
  }
}

/** A 12-key get over four servers reaches each once; a get of one server's keys reaches only it. */
export async function memcacheFragments(kind: ProxyKind): Promise<void> {
  const lab = await Lab.start(kind, memcachePool("fake", TAGGED_POOL));
  try {
    const keys = spreadKeys();
    await mcStore(lab, keys);
    const requests = () => NAMES.map((n) => lab.fake(n).stats.requests);
    const fragments = async () => kind === "tsproxy" ? (await lab.stats()).pool.fragments : 0;

    const [before, fragmentsBefore] = [requests(), await fragments()];
    const c = await lab.client();
    const [reply] = await lab.ask("spread get", c, `get ${keys.join(" ")}\r\n`);
    expectReply("the 12-key get", reply, keys.map(mcValue).join("") + "END\r\n");
    assertCounts("the 12-key get", before, requests(), [1, 1, 1, 1]);
    if (kind === "tsproxy") assertFragments("the 12-key get", fragmentsBefore, await fragments(), 4);

    const own = keys.filter((k) => PLACEMENT.owner(k) === 2);
    const beforeOwn = requests();
    const [ownReply] = await lab.ask("one server's get", c, `get ${own.join(" ")}\r\n`);
    expectReply("the get of s3's keys", ownReply, own.map(mcValue).join("") + "END\r\n");
    assertCounts("the get of s3's keys", beforeOwn, requests(), [0, 0, 1, 0]);
  } finally {
    await lab.close();
  }
}

// ---------------------------------------------------------------------------------------------
// redis

async function redisLab(kind: ProxyKind, backends: Backends, directives: string[]): Promise<RedisLab> {
  const list: Backend[] = NAMES.map((name) =>
    backends === "real" ? { name, kind: "redis" } : { name, kind: "fake" }
  );
  return await RedisLab.start(kind, [{ name: "r", directives, backends: list }]);
}

/** Redis keys sharing a hash tag land on the tag's server; an MGET of them reads them back. */
export async function redisHashTag(
  kind: ProxyKind,
  backends: Backends,
  directives = TAGGED_POOL,
): Promise<void> {
  const lab = await redisLab(kind, backends, directives);
  try {
    const keys = taggedKeys();
    const c = await lab.client();
    const stored = await ask(c, keys.map((k) => cmd("SET", k, k)));
    expectReply(`storing ${keys.length} keys`, stored.replies.join(""), R.ok.repeat(keys.length));
    const holders: number[][] = keys.map(() => []);
    for (let b = 0; b < NAMES.length; b++) {
      const exists = await askRedis(lab.backendPort(NAMES[b]), keys.map((k) => cmd("EXISTS", k)));
      exists.forEach((r, i) => r === R.int(1) && holders[i].push(b));
    }
    assertPlaced(keys, holders);
    const read = await ask(c, [cmd("MGET", ...keys)]);
    expectReply("the MGET of every tagged key", read.replies[0], R.bulks(...keys));
  } finally {
    await lab.stop();
  }
}

/** MSET, MGET and DEL of 12 keys over four servers reach each server once per command. */
export async function redisFragments(kind: ProxyKind): Promise<void> {
  const lab = await redisLab(kind, "fake", TAGGED_POOL);
  try {
    const keys = spreadKeys();
    const c = await lab.client();
    const requests = () => NAMES.map((n) => lab.fake(n).stats.requests);
    const fragments = async () => kind === "tsproxy" ? (await lab.stats()).pool.fragments : 0;
    const steps: [string, string, string][] = [
      ["MSET", cmd("MSET", ...keys.flatMap((k) => [k, k])), R.ok],
      ["MGET", cmd("MGET", ...keys), R.bulks(...keys)],
      ["DEL", cmd("DEL", ...keys), R.int(keys.length)],
    ];
    for (const [name, request, want] of steps) {
      const [before, fragmentsBefore] = [requests(), await fragments()];
      const got = await ask(c, [request]);
      expectReply(`the 12-key ${name}`, got.replies[0], want);
      assertCounts(`the 12-key ${name}`, before, requests(), [1, 1, 1, 1]);
      if (kind === "tsproxy") assertFragments(`the 12-key ${name}`, fragmentsBefore, await fragments(), 4);
    }
  } finally {
    await lab.stop();
  }
}

// ---------------------------------------------------------------------------------------------

/** Throws unless each server's request count grew by `want`. */
function assertCounts(what: string, before: number[], after: number[], want: number[]): void {
  const grew = after.map((n, i) => n - before[i]);
  if (grew.some((n, i) => n !== want[i])) {
    const perServer = (list: number[]) => list.map((n, i) => `${NAMES[i]} ${n}`).join(", ");
    throw new Error(`${what}: requests seen by the servers: ${perServer(grew)}; want ${perServer(want)}`);
  }
}

/** Throws unless the pool's `fragments` stat grew by `want`. */
function assertFragments(what: string, before: number, after: number, want: number): void {
  if (after - before !== want) {
    throw new Error(`${what}: the fragments stat grew by ${after - before}, want ${want}`);
  }
}

const GROUP = "routing: hash tags and fragments";

/** The routing checks, in front of fakes and in front of real backends. */
export const ROUTING_CHECKS: Check[] = [
  {
    group: GROUP,
    name: "memcache: keys sharing a {tag} are stored on the server the tag hashes to (fakes)",
    needs: [],
    run: (kind) => memcacheHashTag(kind, "fake"),
  },
  {
    group: GROUP,
    name: "memcache: keys sharing a {tag} are stored on the server the tag hashes to (real memcached)",
    needs: ["memcached"],
    run: (kind) => memcacheHashTag(kind, "real"),
  },
  {
    group: GROUP,
    name: "memcache: a 12-key get over 4 servers sends one get to each, replies in key order",
    needs: [],
    run: memcacheFragments,
  },
  {
    group: GROUP,
    name: "redis: keys sharing a {tag} are stored on the server the tag hashes to (fakes)",
    needs: [],
    run: (kind) => redisHashTag(kind, "fake"),
  },
  {
    group: GROUP,
    name: "redis: keys sharing a {tag} are stored on the server the tag hashes to (real redis-server)",
    needs: ["redis-server"],
    run: (kind) => redisHashTag(kind, "real"),
  },
  {
    group: GROUP,
    name: "redis: MSET, MGET and DEL of 12 keys over 4 servers send one command to each",
    needs: [],
    run: redisFragments,
  },
];

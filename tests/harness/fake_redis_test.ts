import assert from "assert";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { startRedis } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { RawClient, type Target } from "./raw_client.ts";

/** One RESP request (arguments as latin1 strings). */
function cmd(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`;
}

/** Several requests, each written as "NAME arg arg" (no spaces inside arguments). */
function cmds(...lines: string[]): string {
  return lines.map((l) => cmd(...l.split(" "))).join("");
}

/** Marks where a batch's replies end; an unknown command is answered even before AUTH. */
const SENTINEL = cmd("__end__");
const SENTINEL_REPLY = "-ERR unknown command '__end__', with args beginning with: \r\n";

/** Runs each batch on one connection, SENTINEL marking where its replies end. */
async function run(target: Target, batches: string[]): Promise<string[]> {
  const wire = await RawClient.open(target);
  try {
    const out: string[] = [];
    for (const batch of batches) {
      await wire.send(batch + SENTINEL);
      out.push((await wire.until((s) => s.endsWith(SENTINEL_REPLY))).slice(0, -SENTINEL_REPLY.length));
    }
    return out;
  } finally {
    await wire.close();
  }
}

/** Runs `batches` against a real redis-server and a fresh fake and asserts identical replies. */
async function compare(batches: string[], requirepass?: string): Promise<void> {
  const real = await startRedis(undefined, requirepass === undefined ? [] : ["--requirepass", requirepass]);
  const fake = await FakeRedis.start({ requirepass });
  try {
    const expected = await run({ port: real.port }, batches);
    assert.deepStrictEqual(await run({ port: fake.port }, batches), expected);
  } finally {
    await fake.close();
    await real.stop();
  }
}

Deno.test("fake redis answers string commands like redis", needs("redis-server"), async () => {
  await compare([
    cmds("SET a 1", "SET a 2 NX", "SET a 3 XX", "SET b 1 XX", "GET a", "GET b", "set c 5 nx", "gEt c"),
    cmds(
      "SET k v NX XX",
      "SET k v FOO",
      "SET k v EX",
      "SET k v EX 10 PX 5",
      "SET k v EX abc",
      "SET k v EX 0",
    ),
    cmds(
      "SET k v PX -1",
      "SET k v EX 9223372036854775",
      "SET k v EX 9223372036854776",
      "SET k v EX 5 EX 100",
    ),
    cmds(
      "MSET m1 x m2 y m1 z",
      "MGET m1 m2 nope a",
      "MSET a",
      "MSET a b c",
      "EXISTS a a nope",
      "TOUCH a nope a",
    ),
    cmds(
      "DEL a a nope",
      "UNLINK m1 m2 nope",
      "EXISTS a m1 m2",
      "APPEND new v",
      "APPEND new xyz",
      "STRLEN new",
    ),
    cmds("STRLEN nope", "GET nope", "GET", "GET a b", "MGET"),
    cmd("SET", "bin", "\x00\xff\r\n") + cmd("GET", "bin") + cmd("SET", "", "") + cmd("GET", "") +
    cmd("STRLEN", ""),
  ]);
});

Deno.test("fake redis counts with INCR/DECR like redis", needs("redis-server"), async () => {
  await compare([
    cmds("INCR i", "INCRBY i -5", "DECR i", "DECRBY i 3", "INCRBY i abc", "DECRBY i -9223372036854775808"),
    cmds(
      "SET n 9223372036854775807",
      "INCR n",
      "SET n -9223372036854775808",
      "DECR n",
      "INCRBY n 9223372036854775807",
    ),
    cmds(
      "SET f 1.5",
      "INCR f",
      "SET z 007",
      "INCR z",
      "SET s -0",
      "INCR s",
      "SET w 12345678901234567890",
      "INCR w",
    ),
    cmds("SET t 10 EX 100", "INCR t", "TTL t", "INCRBY t 01", "INCRBY t +1", "INCRBY t 1"),
  ]);
});

Deno.test("fake redis applies EXPIRE and TTL like redis", needs("redis-server"), async () => {
  await compare([
    cmds(
      "SET c x PX 100000",
      "TTL c",
      "SET c y",
      "TTL c",
      "EXPIRE c 100",
      "TTL c",
      "EXPIRE c -1",
      "EXISTS c",
    ),
    cmds(
      "SET a 1",
      "EXPIRE nope 10",
      "EXPIRE a 50 GT",
      "EXPIRE a 50 NX",
      "EXPIRE a 40 GT",
      "TTL a",
      "EXPIRE a 60 XX",
    ),
    cmds(
      "EXPIRE a 70 LT",
      "EXPIRE a 55 lt",
      "TTL a",
      "EXPIRE a 10 NX XX",
      "EXPIRE a 10 GT LT",
      "EXPIRE a 10 FOO",
    ),
    cmds(
      "EXPIRE a abc",
      "EXPIRE a 9223372036854775807",
      "EXPIRE a 9223372036854775",
      "EXPIRE a 0",
      "TTL a",
      "TTL nope",
    ),
    cmds("SET p 1 EX 1000", "SET p 2 XX", "TTL p", "SET p 3 EX 2000 NX", "TTL p", "EXPIRE", "TTL"),
  ]);
});

Deno.test("fake redis answers hash, list and set commands like redis", needs("redis-server"), async () => {
  await compare([
    cmds(
      "HSET h f1 v1 f2 v2",
      "HSET h f1 x f3 y",
      "HGETALL h",
      "HGET h f1",
      "HGET h nope",
      "HGET nope f",
      "HGETALL nope",
    ),
    cmds(
      "HSET h a",
      "HSET h",
      "RPUSH l a b c",
      "LPUSH l z y",
      "LRANGE l 0 -1",
      "LRANGE l -2 100",
      "LRANGE l 5 1",
    ),
    cmds(
      "LRANGE l -100 1",
      "LRANGE l 1 -100",
      "LRANGE l 3 3",
      "LRANGE nope 0 -1",
      "LRANGE l a b",
      "LRANGE l 0",
    ),
    cmds("SADD s 3 1 2 1", "SMEMBERS s", "SADD s -5 10", "SMEMBERS s", "SMEMBERS nope", "SADD s"),
    cmds(
      "SET str v",
      "LPUSH str x",
      "RPUSH str x",
      "SADD str x",
      "HSET str f v",
      "HGET str f",
      "HGETALL str",
    ),
    cmds("LRANGE str 0 1", "SMEMBERS str", "GET h", "INCR l", "APPEND s x", "STRLEN h", "MGET str h l s"),
    cmds("DEL h l s str", "EXISTS h l s str"),
  ]);
});

Deno.test(
  "fake redis answers errors, PING, SELECT, AUTH and FLUSHALL like redis",
  needs("redis-server"),
  async () => {
    const long = "a".repeat(100);
    await compare([
      cmds(
        "FOO a b",
        "FOO",
        `FOO ${long} ${long}`,
        `FOO x ${long}`,
        `${long}${long}`,
        "PING a b",
        "PING hi",
        "PING",
      ),
      cmd("FOO", "a\r\nb", "c\x00d") + cmd("") + cmd("FOO", "") + cmds("COMMAND x"),
      cmds("AUTH x", "AUTH default x", "AUTH bob x", "AUTH a b c"),
      cmds(
        "SET k db0",
        "SELECT 16",
        "SELECT -1",
        "SELECT x",
        "SELECT 3",
        "GET k",
        "SET k db3",
        "SELECT 0",
        "GET k",
      ),
      cmds(
        "SELECT 3",
        "GET k",
        "FLUSHALL x",
        "FLUSHALL SYNC x",
        "FLUSHALL ASYNC",
        "GET k",
        "SELECT 0",
        "GET k",
      ),
    ]);
  },
);

Deno.test("fake redis frames RESP like redis", needs("redis-server"), async () => {
  await compare([
    "*0\r\n*-1\r\n" + cmd("PING"),
    "*1\r\n$4\r\nPINGxx*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
  ]);
  const real = await startRedis();
  const fake = await FakeRedis.start();
  try {
    const fatal = [
      ["*1\r\n+4\r\nPING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"],
      ["*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
      ["*01\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
      ["*2147483648\r\n", "-ERR Protocol error: invalid multibulk length\r\n"],
      ["*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
      ["*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
      ["*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"],
    ];
    for (const target of [{ port: real.port }, { port: fake.port }]) {
      for (const [request, reply] of fatal) {
        const wire = await RawClient.open(target);
        await wire.send(cmd("PING") + request + cmd("PING"));
        assert.strictEqual(await wire.closed(), `+PONG\r\n${reply}`, JSON.stringify(request));
        await wire.close();
      }
      const partial = await RawClient.open(target);
      await partial.send("*2000000000\r\n$536870912\r\n");
      assert.strictEqual(await partial.quiet(150), "");
      assert.strictEqual(partial.eof, false);
      await partial.close();
    }
  } finally {
    await fake.close();
    await real.stop();
  }
});

Deno.test("fake redis enforces requirepass like redis", needs("redis-server"), async () => {
  await compare([
    cmds("GET a", "PING", "FOO", "GET", "COMMAND", "SELECT 1", "AUTH x", "AUTH default x", "AUTH bob sekrit"),
    cmds("AUTH sekrit", "GET a", "AUTH x", "GET a", "AUTH default sekrit", "SET a 1", "GET a"),
  ], "sekrit");
  const real = await startRedis(undefined, ["--requirepass", "sekrit"]);
  const fake = await FakeRedis.start({ requirepass: "sekrit" });
  try {
    for (const target of [{ port: real.port }, { port: fake.port }]) {
      const many = await RawClient.open(target);
      await many.send("*11\r\n");
      assert.strictEqual(await many.closed(), "-ERR Protocol error: unauthenticated multibulk length\r\n");
      await many.close();
      const big = await RawClient.open(target);
      await big.send("*1\r\n$16385\r\n");
      assert.strictEqual(await big.closed(), "-ERR Protocol error: unauthenticated bulk length\r\n");
      await big.close();
    }
  } finally {
    await fake.close();
    await real.stop();
  }
});

Deno.test("fake redis lists an empty command table", async () => {
  const fake = await FakeRedis.start();
  const wire = await RawClient.open({ port: fake.port });
  await wire.send(cmd("COMMAND"));
  assert.strictEqual(await wire.until((s) => s.endsWith("\r\n")), "*0\r\n");
  await wire.close();
  await fake.close();
});

Deno.test("fake redis refuses inline commands with a protocol error", async () => {
  const fake = await FakeRedis.start();
  const wire = await RawClient.open({ port: fake.port });
  await wire.send("PING\r\n");
  assert.match(await wire.closed(), /^-ERR Protocol error: [^\r\n]*\r\n$/);
  await wire.close();
  await fake.close();
});

Deno.test("fake redis parses requests split at every byte", async () => {
  const script = cmds("FLUSHALL", "SET a hello", "GET a", "MGET a b", "HSET h f v", "HGETALL h") + SENTINEL;
  const fake = await FakeRedis.start();
  const whole = await RawClient.open({ port: fake.port });
  await whole.send(script);
  const expected = await whole.until((s) => s.endsWith(SENTINEL_REPLY));
  await whole.close();
  const split = await RawClient.open({ port: fake.port });
  for (const ch of script) await split.send(ch);
  assert.strictEqual(await split.until((s) => s.endsWith(SENTINEL_REPLY)), expected);
  await split.close();
  await fake.close();
});

Deno.test("fake redis round-trips a 5 MiB value", async () => {
  const value = "v".repeat(5 * 1024 * 1024);
  const fake = await FakeRedis.start();
  const wire = await RawClient.open({ port: fake.port });
  await wire.send(cmd("SET", "big", value) + cmd("GET", "big"));
  const expected = `+OK\r\n$${value.length}\r\n${value}\r\n`;
  assert.strictEqual(await wire.until((s) => s.length >= expected.length), expected);
  await wire.close();
  await fake.close();
});

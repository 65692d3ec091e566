import assert from "assert";
import {
  CMD,
  commandId,
  COMMANDS,
  isReadOnlyCommand,
  lookupCommand,
  NUTCRACKER_COMMANDS,
  READ_ONLY,
  Shape,
} from "../../../src/protocol/redis/commands.ts";
import { redis } from "../../../src/protocol/redis/index.ts";
import { memcache } from "../../../src/protocol/memcache/index.ts";
import { Action, type RequestInfo } from "../../../src/protocol/types.ts";
import { RedisReplyParser } from "../../../src/protocol/redis/reply_parser.ts";
import { freePort, startNutcracker, startRedis } from "../../../harness/procs.ts";
import { needs } from "../../support/needs.ts";
import { bytes, command, concat, text } from "./resp.ts";

const find = (name: string) => {
  const b = bytes(`..${name}..`); // offset and trailing bytes: the lookup must stay inside its range
  return lookupCommand(b, 2, b.length - 2);
};

Deno.test("the table holds nutcracker's 137 names but MOVE, which nutcracker cannot answer, then tsproxy's", () => {
  assert.equal(NUTCRACKER_COMMANDS, 136);
  assert.equal(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
  assert.equal(find("move"), -1);
  assert.deepEqual(COMMANDS.slice(NUTCRACKER_COMMANDS).map((c) => c.name).sort(), [
    ..."blmove blmpop blpop brpop brpoplpush bzmpop bzpopmax bzpopmin client dbsize discard echo exec hello"
      .split(" "),
    ..."info multi psubscribe publish punsubscribe scan select subscribe time unsubscribe unwatch wait watch"
      .split(" "),
    "xread",
    "xreadgroup",
  ]);
});

Deno.test("every command is found by its name in any letter case", () => {
  for (const [id, spec] of COMMANDS.entries()) {
    const mixed = [...spec.name].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join("");
    for (const name of [spec.name, spec.name.toUpperCase(), mixed]) assert.equal(find(name), id, name);
  }
});

Deno.test("names that are not commands are not found", () => {
  for (
    const name of ["", "ge", "gett", "gets", "get ", " get", "g\u00e9t", "keys", "config", "x".repeat(10_000)]
  ) {
    assert.equal(find(name), -1, JSON.stringify(name.slice(0, 20)));
  }
  for (const [id, spec] of COMMANDS.entries()) {
    assert.notEqual(find(spec.name.slice(0, -1)), id, spec.name);
    assert.equal(find(`${spec.name}_`), -1, `${spec.name}_`);
  }
});

Deno.test("shapes follow nutcracker 0.5.0's command classes, EXISTS being split like DEL", () => {
  const shapeOf = (name: string) => COMMANDS[commandId(name)].shape;
  assert.equal(shapeOf("exists"), Shape.AllKeys);
  assert.equal(shapeOf("mset"), Shape.Pairs);
  assert.equal(shapeOf("evalsha"), Shape.Script);
  assert.equal(shapeOf("zinter"), Shape.FirstKey);
  assert.equal(shapeOf("lolwut"), Shape.NoKey);
  assert.deepEqual([CMD.ping, CMD.quit, CMD.auth, CMD.mget, CMD.mset].map((id) => COMMANDS[id].name), [
    "ping",
    "quit",
    "auth",
    "mget",
    "mset",
  ]);
});

/** A request with `nargs` elements that nutcracker's table accepts (the backend may still refuse it). */
function request(name: string, shape: number, nargs: number): Uint8Array {
  const args = [name.toUpperCase()];
  if (shape === Shape.Script) args.push("return 1", "1", "key");
  else if (shape !== Shape.NoKey) args.push("key");
  while (args.length < nargs) args.push(String(args.length));
  return command(...args.slice(0, nargs));
}

/** Sends bytes to a proxy and reads complete replies until `want` arrived or the proxy closed. */
async function exchange(
  port: number,
  msg: Uint8Array,
  want: number,
): Promise<{ replies: string[]; closed: boolean }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(msg);
    const parser = new RedisReplyParser();
    const replies: string[] = [];
    let data: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(1 << 16);
    const timer = setTimeout(() => conn.close(), 3000);
    try {
      while (replies.length < want) {
        // A close with our bytes still unread arrives as a reset.
        const n = await conn.read(chunk).catch((e) => {
          if (e instanceof Deno.errors.ConnectionReset) return null;
          throw e;
        });
        if (n === null) return { replies, closed: true };
        data = concat(data, chunk.subarray(0, n));
        for (let len; (len = parser.parse(data, 0, data.length)) > 0;) {
          replies.push(text(data.subarray(0, len)));
          data = data.subarray(len);
        }
      }
      return { replies, closed: false };
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** Runs `check` against a real nutcracker (with `args`) in front of a real redis-server. */
async function withNutcracker(args: string[], check: (port: number) => Promise<void>): Promise<void> {
  const server = await startRedis();
  const port = freePort();
  try {
    const proxy = await startNutcracker(
      `p:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n   - 127.0.0.1:${server.port}:1\n`,
      [port],
      args,
    );
    try {
      await check(port);
    } finally {
      await proxy.stop();
    }
  } finally {
    await server.stop();
  }
}

const PING = command("PING");

/** Asserts that nutcracker closes the client on `msg` without a reply, even to the PING after it. */
async function assertClosed(port: number, msg: Uint8Array): Promise<void> {
  assert.deepEqual(await exchange(port, concat(msg, PING), 2), { replies: [], closed: true }, text(msg));
}

Deno.test({
  name: "nutcracker 0.5.0 accepts every command of the table and closes on arity violations and the rest",
  ...needs("nutcracker", "redis-server"),
  fn: () =>
    withNutcracker([], async (port) => {
      for (const [id, spec] of COMMANDS.slice(0, NUTCRACKER_COMMANDS).entries()) {
        // COMMAND takes no argument in nutcracker (tsproxy forwards its subcommands): checked below.
        const more = spec.maxArgs === Infinity && spec.name !== "command";
        const counts = more ? [spec.minArgs, spec.minArgs + 2] : [spec.minArgs];
        for (const nargs of counts) {
          const msg = request(spec.name, spec.shape, nargs);
          const { replies, closed } = await exchange(port, concat(msg, PING), 2);
          if (id === CMD.quit) assert.deepEqual({ replies, closed }, { replies: [], closed: true });
          else assert.equal(replies[1], "+PONG\r\n", `${text(msg)} was refused`);
        }
        const wrong = [spec.minArgs - 1, spec.maxArgs + 1].filter((n) => n >= 1 && n !== Infinity);
        if (spec.shape === Shape.Pairs) wrong.push(4);
        for (const nargs of wrong) await assertClosed(port, request(spec.name, spec.shape, nargs));
      }
      for (
        const msg of [
          command("MOVE", "k", "1"),
          command("COMMAND", "DOCS"),
          command("KEYS", "*"),
          command("SELECT", "1"),
          command("MULTI"),
          command("CONFIG", "GET", "x"),
          command("EVAL", "return 1", "0", "k"),
          command("EVAL", "return 1", "x", "k"),
          command(""),
        ]
      ) await assertClosed(port, msg);
    }),
});

Deno.test({
  name: "nutcracker 0.5.0 closes on the framing errors tsproxy refuses",
  ...needs("nutcracker", "redis-server"),
  fn: () =>
    withNutcracker([], async (port) => {
      for (
        const raw of [
          "PING\r\n",
          "*0\r\n",
          "*-1\r\n",
          "*1x\r\n",
          "*1\r\n+PING\r\n",
          "*2\r\n$3\r\nGET\r\n$-1\r\n",
          "*1\r\n$\r\nPING\r\n",
          "*1\r\n$4\r\nPINGx\r\n",
          "*1\r\n$3\r\nPING\r\n",
        ]
      ) await assertClosed(port, bytes(raw));
    }),
});

Deno.test({
  name: "nutcracker 0.5.0 with -m 512 takes keys of 463 bytes, not 464, and only at key positions",
  ...needs("nutcracker", "redis-server"),
  fn: () =>
    withNutcracker(["-m", "512"], async (port) => {
      const ok = "k".repeat(463);
      const long = "k".repeat(464);
      for (
        const msg of [
          command("GET", ok),
          command("MGET", "a", ok),
          command("MSET", "a", long, ok, long),
          command("HSET", "h", long, long),
          command("EVAL", "return 1", "1", ok),
        ]
      ) assert.equal((await exchange(port, concat(msg, PING), 2)).replies[1], "+PONG\r\n");
      for (
        const msg of [
          command("GET", long),
          command("MGET", "a", long),
          command("DEL", long, "a"),
          command("MSET", "a", "1", long, "2"),
          command("EVAL", "return 1", "1", long),
        ]
      ) await assertClosed(port, msg);
    }),
});

// ---- read-only commands (pool directive read_from) ----

const readOnlyNames = () => COMMANDS.filter((_, id) => isReadOnlyCommand(id)).map((c) => c.name);

/** Commands that write (or may: SORT, GEORADIUS... STORE) or are not routed by key: never read-only. */
const NOT_READ_ONLY = (
  "set incr decr del unlink mset append getset getdel getex setnx expire persist eval evalsha sort " +
  "georadius georadiusbymember geosearchstore zrangestore sdiffstore sinterstore sunionstore zdiffstore " +
  "zinterstore zunionstore pfadd pfmerge bitfield copy restore lpop rpop spop zpopmin zpopmax hset hdel " +
  "touch hscan sscan zscan publish time lolwut command ping quit auth dbsize scan info xread xreadgroup multi exec watch " +
  "subscribe blpop client select echo hello"
).split(" ");

Deno.test("read-only commands are key-routed reads; writes, stores and the rest are not", () => {
  assert.equal(READ_ONLY.length, COMMANDS.length);
  assert.equal(readOnlyNames().length, 55);
  for (
    const name of ["get", "mget", "exists", "hgetall", "zrange", "zrevrangebyscore", "pfcount", "geosearch"]
  ) {
    assert.ok(isReadOnlyCommand(commandId(name)), name);
  }
  for (const name of NOT_READ_ONLY) assert.ok(!isReadOnlyCommand(commandId(name)), name);
  for (const name of readOnlyNames()) {
    const shape = COMMANDS[commandId(name)].shape;
    assert.ok(shape === Shape.FirstKey || shape === Shape.AllKeys, name);
  }
  assert.equal(isReadOnlyCommand(-1), false);
  assert.equal(isReadOnlyCommand(COMMANDS.length), false);
});

const requestOf = (cmd: number): RequestInfo => ({
  length: 0,
  action: Action.Forward,
  keys: [],
  noreply: false,
  cmd,
});

Deno.test("the redis protocol's isReadOnly reads the command table; memcache's is always false", () => {
  const protocol = redis({ mbufSize: 16384, redisAuth: null, redisDb: 0 });
  for (const [id, spec] of COMMANDS.entries()) {
    assert.equal(protocol.isReadOnly(requestOf(id)), READ_ONLY[id] === 1, spec.name);
  }
  const mc = memcache();
  for (let cmd = 0; cmd < mc.commandNames.length; cmd++) assert.equal(mc.isReadOnly(requestOf(cmd)), false);
});

/** A RESP2 reply as nested values: arrays, strings (status, error and bulk alike), numbers, null. */
function parseResp(reply: string): unknown {
  let at = 0;
  const line = () => {
    const end = reply.indexOf("\r\n", at);
    const text = reply.slice(at, end);
    at = end + 2;
    return text;
  };
  const value = (): unknown => {
    const head = line();
    const rest = head.slice(1);
    switch (head[0]) {
      case "+":
      case "-":
        return rest;
      case ":":
        return Number(rest);
      case "$": {
        if (rest === "-1") return null;
        const text = reply.slice(at, at + Number(rest));
        at += Number(rest) + 2;
        return text;
      }
      case "*":
        return rest === "-1" ? null : Array.from({ length: Number(rest) }, value);
    }
    throw new Error(`not RESP: ${head}`);
  };
  return value();
}

Deno.test({
  name: "read-only commands are exactly those redis-server 7 flags readonly, but TOUCH and the unkeyed ones",
  ...needs("redis-server"),
  async fn() {
    const server = await startRedis();
    try {
      const info = await exchange(server.port, command("INFO", "server"), 1);
      const major = Number(/redis_version:(\d+)/.exec(info.replies[0])?.[1]);
      assert.ok(major >= 7, `redis-server 7 or later needed, found ${info.replies[0].slice(0, 80)}`);
      const names = COMMANDS.map((c) => c.name);
      const { replies } = await exchange(server.port, command("COMMAND", "INFO", ...names), 1);
      const infos = parseResp(replies[0]) as ([string, number, string[]] | null)[];
      assert.equal(infos.length, names.length);
      const flagged = new Set<string>();
      infos.forEach((entry, i) => {
        assert.ok(entry !== null, `redis-server does not know ${names[i]}`);
        assert.equal(entry[0], names[i]);
        if (entry[2].includes("readonly")) flagged.add(names[i]);
      });
      for (const name of readOnlyNames()) {
        assert.ok(flagged.has(name), `${name} is not readonly in redis-server`);
      }
      // What redis flags readonly but a replica must not serve here: TOUCH refreshes the access time
      // on the master, a *SCAN cursor belongs to one instance; the rest is not routed by key
      // (keyless, fan-out, pinned).
      const kept = ["dbsize", "hscan", "lolwut", "scan", "sscan", "touch", "xread", "zscan"];
      const left = [...flagged].filter((name) => !isReadOnlyCommand(commandId(name))).sort();
      assert.deepEqual(left, kept);
      for (const name of NOT_READ_ONLY) {
        if (!kept.includes(name)) {
          assert.ok(!flagged.has(name), `${name} is readonly in redis-server`);
        }
      }
    } finally {
      await server.stop();
    }
  },
});

import assert from "assert";
import {
  CMD,
  commandId,
  COMMANDS,
  lookupCommand,
  NUTCRACKER_COMMANDS,
  Shape,
} from "../../../src/protocol/redis/commands.ts";
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

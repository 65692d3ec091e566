import assert from "assert";
import { Action, ProtocolError } from "../../../src/protocol/types.ts";
import { CMD, commandId, COMMANDS, Shape } from "../../../src/protocol/redis/commands.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import {
  chunkings,
  feed,
  feedDropping,
  type Frame,
  requestCore,
  type Routed,
  streamRequests,
} from "../split_feed.ts";
import { bytes, command, concat, text } from "./resp.ts";

/** A framed request as tests compare it: keys decoded, or the refusal that kept the client. */
type Framed = { action: number; cmd: number; keys: string[]; length: number } | {
  error: string;
  skip: number;
};

function framer(parser: RedisRequestParser): Frame<Framed> {
  return (buf, start, end, message) => {
    try {
      const info = parser.parse(buf, start, end);
      if (info === null) return null;
      assert.equal(info.noreply, false);
      const keys: string[] = [];
      for (let i = 0; i < info.keys.length; i += 2) {
        keys.push(text(message(info.keys[i], info.keys[i + 1])));
      }
      return {
        length: info.length,
        value: { action: info.action, cmd: info.cmd, keys, length: info.length },
      };
    } catch (e) {
      if (e instanceof ProtocolError && e.skip >= 0) {
        return { length: e.skip, value: { error: e.message, skip: e.skip } };
      }
      throw e;
    }
  };
}

/** Frames the stream read whole. */
function frameAll(stream: Uint8Array, mbufSize = 16384): Framed[] {
  const { values, rest } = feed(stream, [stream.length], framer(new RedisRequestParser(mbufSize)));
  assert.equal(rest, 0);
  return values;
}

/** Asserts that every chunking of the stream frames `expected`. */
function assertEveryChunking(stream: Uint8Array, expected: Framed[], copy = true): void {
  for (const cuts of chunkings(stream.length)) {
    const { values, rest } = feed(stream, cuts, framer(new RedisRequestParser(16384)), copy);
    if (rest !== 0 || values.length !== expected.length) {
      assert.fail(`cuts ${cuts.slice(0, 3)}: ${rest} left`);
    }
    assert.deepEqual(values, expected);
  }
}

/**
 * Asserts that every chunking of the stream frames `expected` when the core drops bytes: all the
 * settled bytes after each read, or (as the core does) only once pending() routes the request, in
 * which case that routing must be the request's (its length 0 or the request's). Returns the
 * indexes of the requests routed early when read a byte at a time.
 */
function assertDropsEveryChunking(stream: Uint8Array, expected: Framed[]): number[] {
  let streamed: number[] = [];
  for (const cuts of chunkings(stream.length)) {
    const eager = new RedisRequestParser(16384);
    const all = feedDropping(stream, cuts, framer(eager), () => eager.settled);
    assert.equal(all.rest, 0);
    assert.deepEqual(all.values, expected, `cuts ${cuts.slice(0, 3)}`);
    const parser = new RedisRequestParser(16384);
    const core = requestCore(parser);
    const some = feedDropping(stream, cuts, framer(parser), core.settle);
    assert.equal(some.rest, 0);
    assert.deepEqual(some.values, expected, `cuts ${cuts.slice(0, 3)}`);
    for (const [i, routed] of core.routed) {
      const whole = expected[i];
      assert.ok("keys" in whole && [0, whole.length].includes(routed.info.length));
      assert.deepEqual({ ...routing(routed), length: whole.length }, whole);
    }
    streamed = [...core.routed.keys()];
  }
  return streamed;
}

/** A request as pending() routed it before it was complete, compared like a framed one. */
function routing({ info, keys }: Routed): Framed {
  assert.equal(info.noreply, false);
  return { action: info.action, cmd: info.cmd, keys: keys.map(text), length: info.length };
}

/**
 * Asserts that the stream, read whole or in any chunks (with the settled bytes dropped after each
 * read or not), is refused and the client closed.
 */
function assertFatal(stream: Uint8Array, reason: RegExp, mbufSize = 16384): void {
  const fatal = (e: unknown) => e instanceof ProtocolError && e.skip === -1 && reason.test(e.message);
  for (const cuts of chunkings(stream.length)) {
    assert.throws(() => feed(stream, cuts, framer(new RedisRequestParser(mbufSize))), fatal, `cuts ${cuts}`);
    const parser = new RedisRequestParser(mbufSize);
    assert.throws(
      () => feedDropping(stream, cuts, framer(parser), () => parser.settled),
      fatal,
      `cuts ${cuts}`,
    );
  }
}

/** A valid request for a command with `nargs` elements; its routing key is "key" where it has one. */
function validRequest(name: string, shape: number, nargs: number): Uint8Array {
  const args = [name.toUpperCase()];
  if (shape === Shape.Script) args.push("return 1", "1", "key");
  else if (shape !== Shape.NoKey) args.push("key");
  while (args.length < nargs) args.push(`a${args.length}`);
  return command(...args.slice(0, nargs));
}

Deno.test("every supported command frames with its routing key and action", () => {
  for (const [id, spec] of COMMANDS.entries()) {
    const counts = [spec.minArgs];
    if (spec.maxArgs === Infinity) counts.push(spec.minArgs + (spec.shape === Shape.Pairs ? 2 : 3));
    for (const nargs of counts) {
      const msg = validRequest(spec.name, spec.shape, nargs);
      const everyArg = spec.shape >= Shape.Local;
      const action = id === CMD.quit
        ? Action.Quit
        : spec.shape === Shape.Pinned
        ? Action.Pin
        : spec.shape === Shape.Fanout
        ? Action.Fanout
        : Action.Forward;
      const keys = spec.shape === Shape.NoKey || nargs === 1
        ? []
        : spec.shape === Shape.AllKeys || everyArg
        ? ["key", ...Array.from({ length: nargs - 2 }, (_, i) => `a${i + 2}`)]
        : spec.shape === Shape.Pairs
        ? ["key", ...Array.from({ length: (nargs - 3) / 2 }, (_, i) => `a${2 * i + 3}`)]
        : ["key"];
      const split = keys.length > 1 && !everyArg;
      const expected = { action: split ? Action.Split : action, cmd: id, keys, length: msg.length };
      assert.deepEqual(frameAll(msg), [expected], `${spec.name} with ${nargs} elements`);
    }
  }
});

Deno.test("command names match in any letter case", () => {
  for (const name of ["get", "GET", "gEt", "Get"]) {
    const msg = command(name, "k");
    assert.deepEqual(frameAll(msg), [{
      action: Action.Forward,
      cmd: commandId("get"),
      keys: ["k"],
      length: msg.length,
    }]);
  }
});

Deno.test("zero-length keys and values are fine", () => {
  const msg = command("SET", "", "");
  assert.deepEqual(frameAll(msg), [{
    action: Action.Forward,
    cmd: commandId("set"),
    keys: [""],
    length: msg.length,
  }]);
});

Deno.test("multi-key commands split only with more than one key; MSET keys exclude values", () => {
  const cases: [string[], string[], number][] = [
    [["MGET", "a", "b", "a"], ["a", "b", "a"], Action.Split],
    [["DEL", "a", "b"], ["a", "b"], Action.Split],
    [["UNLINK", "a", "b"], ["a", "b"], Action.Split],
    [["TOUCH", "a", "b"], ["a", "b"], Action.Split],
    [["EXISTS", "a", "b"], ["a", "b"], Action.Split],
    [["MSET", "a", "1", "b", "2"], ["a", "b"], Action.Split],
    [["MGET", "a"], ["a"], Action.Forward],
    [["MSET", "a", "1"], ["a"], Action.Forward],
    [["EVAL", "s", "2", "k1", "k2"], ["k1"], Action.Forward],
    [["ZINTER", "2", "z1", "z2"], ["2"], Action.Forward],
    [["ZUNIONSTORE", "dst", "2", "z1", "z2"], ["dst"], Action.Forward],
    [["LOLWUT", "VERSION", "5"], [], Action.Forward],
  ];
  for (const [args, keys, action] of cases) {
    const msg = command(...args);
    const [framed] = frameAll(msg);
    assert.deepEqual(
      framed,
      { action, cmd: commandId(args[0].toLowerCase()), keys, length: msg.length },
      args.join(" "),
    );
  }
});

Deno.test("arity violations are refused with the request's length so the client stays open", () => {
  for (const spec of COMMANDS) {
    const counts = [spec.minArgs - 1];
    if (spec.maxArgs !== Infinity) counts.push(spec.maxArgs + 1);
    if (spec.shape === Shape.Pairs) counts.push(4, 6);
    for (const nargs of counts.filter((n) => n >= 1)) {
      const msg = validRequest(spec.name, spec.shape, nargs);
      assert.deepEqual(
        frameAll(msg),
        [{ error: `wrong number of arguments for '${spec.name}' command`, skip: msg.length }],
        `${spec.name} with ${nargs} elements`,
      );
    }
  }
});

Deno.test("nutcracker's own arity wins over redis's: EXPIRE k 10 NX, PING hello, AUTH user pass", () => {
  for (
    const args of [["EXPIRE", "k", "10", "NX"], ["PING", "hello"], ["AUTH", "user", "pass"]]
  ) {
    const msg = command(...args);
    const [framed] = frameAll(msg);
    assert.deepEqual(framed, {
      error: `wrong number of arguments for '${args[0].toLowerCase()}' command`,
      skip: msg.length,
    });
  }
});

Deno.test("EVAL and EVALSHA need numkeys made of digits and above zero", () => {
  for (const name of ["EVAL", "evalsha"]) {
    for (const numkeys of ["0", "00", "abc", "-1", "1x", ""]) {
      const msg = command(name, "s", numkeys, "k");
      assert.deepEqual(frameAll(msg), [{
        error: `numkeys must be a positive integer for '${name.toLowerCase()}' command`,
        skip: msg.length,
      }]);
    }
    const ok = command(name, "s", "007", "k", "x");
    assert.deepEqual(frameAll(ok)[0], {
      action: Action.Forward,
      cmd: commandId(name.toLowerCase()),
      keys: ["k"],
      length: ok.length,
    });
  }
});

Deno.test("unsupported commands are refused by name as sent, keeping the client", () => {
  for (
    const args of [
      ["CONFIG", "GET", "x"],
      ["KEYS", "*"],
      ["MOVE", "k", "1"],
      ["FlushAll"],
      ["GETS", "k"],
      ["GE", "k"],
      [""],
    ]
  ) {
    const msg = command(...args);
    assert.deepEqual(frameAll(msg), [{ error: `unsupported command '${args[0]}'`, skip: msg.length }]);
  }
});

Deno.test("transactions, pub/sub and blocking commands are framed for the pinned mode, every argument reported", () => {
  for (
    const args of [
      ["MULTI"],
      ["exec"],
      ["WATCH", "a", "b"],
      ["SUBSCRIBE", "ch"],
      ["PUNSUBSCRIBE"],
      ["BLPOP", "q", "0"],
      ["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
    ]
  ) {
    const msg = command(...args);
    const [f] = frameAll(msg);
    assert.ok(!("error" in f), args[0]);
    assert.equal(f.action, Action.Pin, args[0]);
    assert.deepEqual(f.keys, args.slice(1), args[0]);
  }
});

Deno.test("INFO, DBSIZE and SCAN fan out; CLIENT, HELLO, SELECT and ECHO are the proxy's", () => {
  for (const args of [["INFO"], ["INFO", "keyspace"], ["DBSIZE"], ["SCAN", "0", "COUNT", "5"]]) {
    const [f] = frameAll(command(...args));
    assert.ok(!("error" in f) && f.action === Action.Fanout, args[0]);
  }
  for (const args of [["CLIENT", "SETNAME", "x"], ["HELLO"], ["SELECT", "0"], ["ECHO", "hi"]]) {
    const [f] = frameAll(command(...args));
    assert.ok(!("error" in f) && f.action === Action.Forward, args[0]);
    assert.equal(COMMANDS[f.cmd].shape, Shape.Local, args[0]);
  }
});

Deno.test("a large value inside a transaction is never streamed: the pinned mode gets it whole", () => {
  const parser = new RedisRequestParser(16384);
  const head = bytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n${"x".repeat(1000)}`);
  assert.equal(parser.parse(head, 0, head.length), null);
  assert.notEqual(
    parser.pending(),
    null,
    "the parser offers it; the client connection declines while pinned",
  );
});

Deno.test("an unsupported name is quoted on one line and cut at 128 bytes", () => {
  const crlf = command("BAD\r\nNAME");
  assert.deepEqual(frameAll(crlf), [{ error: "unsupported command 'BAD  NAME'", skip: crlf.length }]);
  const long = command("X".repeat(1000), "k");
  assert.deepEqual(frameAll(long), [{
    error: `unsupported command '${"X".repeat(128)}'`,
    skip: long.length,
  }]);
});

Deno.test("malformed framing closes the client", () => {
  const cases: [string, RegExp][] = [
    ["PING\r\n", /expected '\*'/],
    ["*0\r\n", /multibulk length/],
    ["*-1\r\n", /multibulk length/],
    ["*\r\n", /multibulk length/],
    ["*1x\r\n", /multibulk length/],
    ["*1\rx", /multibulk length/],
    ["*12345678901\r\n", /multibulk length/],
    ["*02\r\n$3\r\nGET\r\n$1\r\nk\r\n", /multibulk length/],
    ["*2\r\n$3\r\nGET\r\n$01\r\nk\r\n", /bulk length/],
    ["*2\r\n$003\r\nGET\r\n$1\r\nk\r\n", /bulk length/],
    ["*1\r\n$00\r\n\r\n", /bulk length/],
    ["*1\r\n+PING\r\n", /expected '\$'/],
    ["*2\r\n$3\r\nGET\r\n$-1\r\n", /bulk length/],
    ["*1\r\n$\r\nPING\r\n", /bulk length/],
    ["*1\r\n$4x\r\nPING\r\n", /bulk length/],
    ["*1\r\n$4\r\nPINGx\r\n", /CRLF after bulk/],
    ["*1\r\n$4\r\nPING\rx", /CRLF after bulk/],
    ["*1\r\n$3\r\nPING\r\n", /CRLF after bulk/],
  ];
  for (const [raw, reason] of cases) assertFatal(bytes(raw), reason);
});

Deno.test("a bulk over redis's 512 MB proto-max-bulk-len is refused as soon as its length is read", () => {
  assertFatal(bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870913\r\n"), /^Protocol error: invalid bulk length$/);
  const parser = new RedisRequestParser(16384);
  const atLimit = bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n");
  assert.equal(parser.parse(atLimit, 0, atLimit.length), null, "512 MB itself is redis's limit, not over it");
  assert.equal(parser.need, atLimit.length + 536870912 + 2);
});

Deno.test("a request's earlier pipelined neighbours are framed before a malformed one throws", () => {
  const parser = new RedisRequestParser(16384);
  const stream = concat(command("GET", "a"), bytes("*1\r\n$4\r\nPINGxx"));
  const first = parser.parse(stream, 0, stream.length);
  assert.equal(first?.length, command("GET", "a").length);
  assert.throws(() => parser.parse(stream, first!.length, stream.length), ProtocolError);
});

Deno.test("keys must be shorter than mbuf size - 48, values are unlimited", () => {
  const limit = 512 - 48;
  const okKey = "k".repeat(limit - 1);
  const longKey = "k".repeat(limit);
  const bigValue = "v".repeat(100_000);
  const fine = [
    command("GET", okKey),
    command("SET", okKey, bigValue),
    command("MGET", "a", okKey),
    command("MSET", "a", bigValue, okKey, bigValue),
    command("EVAL", bigValue, "1", okKey),
    command("HSET", "h", longKey, longKey),
    command("LOLWUT", longKey),
  ];
  for (const msg of fine) assert.equal("error" in frameAll(msg, 512)[0], false);
  const tooLong = [
    command("GET", longKey),
    command("MGET", "a", longKey),
    command("DEL", longKey, "a"),
    command("MSET", "a", "1", longKey, "2"),
    command("EVAL", "s", "1", longKey),
    command("AUTH", longKey),
  ];
  for (const msg of tooLong) {
    assert.throws(
      () => frameAll(msg, 512),
      (e: unknown) =>
        e instanceof ProtocolError && e.skip === -1 &&
        e.message === `key too long: ${limit} bytes (limit ${limit - 1})`,
    );
  }
  assert.equal("error" in frameAll(command("GET", "k".repeat(16335)))[0], false);
  assert.throws(() => frameAll(command("GET", "k".repeat(16336))), ProtocolError);
});

Deno.test("a too long key is refused as soon as its length is read, before its bytes arrive", () => {
  const parser = new RedisRequestParser(16384);
  const head = bytes("*2\r\n$3\r\nGET\r\n$1000000\r\n");
  assert.throws(() => parser.parse(head, 0, head.length), ProtocolError);
});

Deno.test("need tells the whole length of a request once its pending argument's length is known", () => {
  const parser = new RedisRequestParser(16384);
  const msg = command("SET", "k", "v".repeat(1000));
  assert.equal(parser.parse(msg, 0, 10), null);
  assert.equal(parser.need, 13); // "*3\r\n$3\r\nSET\r\n"
  assert.equal(parser.parse(msg, 0, 21), null);
  assert.equal(parser.need, 0); // inside "$1000\r\n": length not known yet
  assert.equal(parser.parse(msg, 0, 30), null);
  assert.equal(parser.need, msg.length);
  assert.equal(parser.parse(msg, 0, msg.length - 1), null);
  assert.equal(parser.need, msg.length);
  assert.equal(parser.parse(msg, 0, msg.length)?.length, msg.length);
  assert.equal(parser.need, 0);
});

Deno.test("parsing resumes where it stopped when the request moves to another buffer", () => {
  const parser = new RedisRequestParser(16384);
  const msg = command("MSET", "a", "1", "b", "2");
  assert.equal(parser.parse(msg, 0, 25), null);
  const moved = concat(bytes("xxxxx"), msg, bytes("junk"));
  const info = parser.parse(moved, 5, 5 + msg.length);
  assert.deepEqual(info?.keys, [18, 19, 32, 33]);
});

/** Sample requests, and whether each streams (is routed before it is complete when read byte by byte). */
const SAMPLES: [string, Uint8Array, boolean][] = [
  ["GET", command("GET", "key"), false],
  ["SET with CRLF inside the value", command("SET", "k", "a\r\nb\r\n*1\r\n$1\r\nx\r\n"), true],
  ["MGET with a duplicate", command("mget", "a", "bb", "a"), false],
  ["MSET", command("MSET", "k1", "v1", "k2", ""), false],
  ["EVAL", command("EVAL", "return 1", "2", "k1", "k2"), true],
  ["QUIT", command("QUIT"), false],
  ["PING", command("PING"), false],
  ["unsupported", command("CONFIG", "GET", "*"), false],
  ["arity error", command("GET", "a", "b"), false],
  ["HSET", command("HSET", "h", "f", "v".repeat(20)), true],
  [
    "EVALSHA with the value after its key",
    command("EVALSHA", "x".repeat(20), "1", "k", "v".repeat(20)),
    true,
  ],
  ["AUTH", command("AUTH", "secret"), false],
  ["EVAL with numkeys 0", command("EVAL", "return 1", "0", "k", "v"), false],
  ["unsupported with a long argument", command("CONFIG", "SET", "x".repeat(30)), false],
  ["too many arguments", command("SETNX", "k", "v", "x".repeat(20)), false],
];

Deno.test("every request frames the same whole, split at every byte, and one byte at a time", () => {
  for (const [what, msg] of SAMPLES) {
    const expected = frameAll(msg);
    assert.equal(expected.length, 1, what);
    assertEveryChunking(msg, expected);
  }
});

Deno.test("a pipeline in one buffer frames every request, refusals in their place", () => {
  const stream = concat(...SAMPLES.map(([, msg]) => msg));
  const framed = frameAll(stream);
  assert.deepEqual(framed, SAMPLES.flatMap(([, msg]) => frameAll(msg)));
  assertEveryChunking(stream, framed);
});

Deno.test("every request frames the same when settled bytes are dropped after each read, never read again", () => {
  for (const [what, msg, streams] of SAMPLES) {
    assert.equal(assertDropsEveryChunking(msg, frameAll(msg)).length, streams ? 1 : 0, what);
  }
  const stream = concat(...SAMPLES.map(([, msg]) => msg));
  const streamed = assertDropsEveryChunking(stream, frameAll(stream));
  assert.deepEqual(streamed, SAMPLES.flatMap(([, , streams], i) => streams ? [i] : []));
});

Deno.test("settled: 0 in the array header, then each line and the data received; the name is kept whole", () => {
  // *3\r\n 0..3, $3\r\n 4..7, SET 8..10, \r\n; $1\r\n 13..16, k 17, \r\n; $3\r\n 20..23, abc 24..26, \r\n 27..28.
  const msg = command("SET", "k", "abc");
  const parser = new RedisRequestParser(16384);
  const settled = [];
  for (let end = 0; end < msg.length; end++) {
    assert.equal(parser.parse(msg, 0, end), null);
    settled.push(parser.settled);
  }
  assert.deepEqual(settled, [
    ...[0, 0, 0, 0],
    ...[4, 4, 4, 4],
    ...[8, 8, 8, 8, 8], // the name, read whole once complete
    ...[13, 13, 13, 13],
    ...[17, 18, 18], // the key's data (its offsets are kept), not the \r
    ...[20, 20, 20, 20],
    ...[24, 25, 26, 27, 27],
  ]);
  assert.equal(parser.parse(msg, 0, msg.length)?.length, msg.length);
  assert.equal(parser.settled, 0);
});

/** Offset after each argument's CRLF in `command(...args)`. */
function argEnds(args: string[]): number[] {
  let at = `*${args.length}\r\n`.length;
  return args.map((arg) => (at += `$${bytes(arg).length}\r\n`.length + bytes(arg).length + 2));
}

Deno.test("pending() routes a single-key command once its key is complete, its length once the last length is known", () => {
  const streams: [string[], number][] = [
    [["SET", "k", "value"], 1],
    [["set", "k", "value", "EX", "10"], 1],
    [["APPEND", "key", "value"], 1],
    [["GETSET", "k", "v"], 1],
    [["HSET", "h", "f", "v", "f2", "v2"], 1],
    [["SETEX", "k", "10", "v"], 1],
    [["SETRANGE", "k", "0", "v"], 1],
    [["LPUSH", "l", "a", "b", "c"], 1],
    [["ZADD", "z", "1", "m"], 1],
    [["RESTORE", "k", "0", "payload"], 1],
    [["PFADD", "p", "a"], 1],
    [["EVAL", "return 1", "1", "k", "arg"], 3],
    [["EVALSHA", "abc", "2", "k1", "k2", "arg"], 3],
  ];
  for (const [args, keyAt] of streams) {
    const msg = command(...args);
    const ends = argEnds(args);
    const lastLengthKnown = ends[ends.length - 2] + `$${args[args.length - 1].length}\r\n`.length;
    for (let end = 0; end < msg.length; end++) {
      const parser = new RedisRequestParser(16384);
      assert.equal(parser.parse(msg, 0, end), null);
      const info = parser.pending();
      if (end < ends[keyAt]) {
        assert.equal(info, null, `${args.join(" ")} cut at ${end}`);
        continue;
      }
      assert.ok(info, `${args.join(" ")} cut at ${end}`);
      assert.deepEqual({ ...info, keys: [text(msg.subarray(info.keys[0], info.keys[1]))] }, {
        length: end >= lastLengthKnown ? msg.length : 0,
        action: Action.Forward,
        keys: [args[keyAt]],
        noreply: false,
        cmd: commandId(args[0].toLowerCase()),
      });
    }
  }
});

Deno.test("pending() is null for split, local, refused and keyless commands, and those complete once routable", () => {
  const buffered = [
    ["MGET", "a", "b"],
    ["MGET", "a"],
    ["DEL", "a", "b"],
    ["EXISTS", "a"],
    ["MSET", "a", "1"],
    ["MSET", "a", "1", "b", "2"],
    ["PING"],
    ["QUIT"],
    ["AUTH", "password"],
    ["COMMAND"],
    ["LOLWUT", "VERSION", "5"],
    ["GET", "k"],
    ["SET", "k"],
    ["GET", "k", "extra"],
    ["EXPIRE", "k", "10", "NX"],
    ["EVAL", "return 1", "0", "k", "arg"],
    ["EVAL", "return 1", "x", "k", "arg"],
    ["CONFIG", "SET", "a", "b"],
  ];
  for (const args of buffered) {
    const msg = command(...args);
    for (let end = 0; end < msg.length; end++) {
      const parser = new RedisRequestParser(16384);
      assert.equal(parser.parse(msg, 0, end), null);
      assert.equal(parser.pending(), null, `${args.join(" ")} cut at ${end}`);
    }
  }
});

Deno.test("a 64 MB SET read 64 KiB at a time streams through, the buffer never holding more than two reads", () => {
  const value = new Uint8Array(64 << 20).fill(13);
  for (let i = 1; i < value.length; i += 2) value[i] = 10;
  const set = command("SET", "big", value);
  const stream = concat(set, command("GET", "big"));
  const parser = new RedisRequestParser(16384);
  const { values, first } = streamRequests(stream, parser, framer(parser), 1 << 16, value.length);
  const expected = { action: Action.Forward, cmd: commandId("set"), keys: ["big"], length: set.length };
  assert.deepEqual(values, [expected, {
    ...expected,
    cmd: commandId("get"),
    length: stream.length - set.length,
  }]);
  assert.deepEqual(routing(first), expected);
});

Deno.test("a 1 MB value frames the same in any two reads and one byte at a time", () => {
  const value = new Uint8Array(1 << 20).fill(13);
  for (let i = 1; i < value.length; i += 2) value[i] = 10;
  const msg = command("SET", "big", value);
  assertEveryChunking(msg, frameAll(msg), false);
});

Deno.test("bytes already parsed are not read again: zeroing them does not change the result", () => {
  const msg = command("SET", "key", "v".repeat(1000));
  const whole = new RedisRequestParser(16384).parse(msg, 0, msg.length);
  for (const cut of [20, 30, 500, msg.length - 2]) {
    const parser = new RedisRequestParser(16384);
    assert.equal(parser.parse(msg, 0, cut), null);
    const again = msg.slice();
    again.fill(0, 0, cut);
    assert.deepEqual(parser.parse(again, 0, again.length), whole, `cut ${cut}`);
  }
});

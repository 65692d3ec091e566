import assert from "assert";
import { RedisReplyParser } from "../../../src/protocol/redis/reply_parser.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { freePort, startNutcracker } from "../../../harness/procs.ts";
import { needs } from "../../support/needs.ts";
import { chunkings, feed, feedDropping, type Frame, replyLengths, streamReplies } from "../split_feed.ts";
import { bytes, command, concat, text } from "./resp.ts";

/** A framed reply as tests compare it. */
type Framed = { reply: string; failure: boolean };

function framer(parser: RedisReplyParser): Frame<Framed> {
  return (buf, start, end, message) => {
    const n = parser.parse(buf, start, end);
    if (n < 0) throw new Error("invalid reply");
    if (n === 0) return null;
    return { length: n, value: { reply: text(message(0, n)), failure: parser.failure } };
  };
}

/** Reads ending at `cuts` through a parser, as the core does with or without dropping settled bytes. */
function feedings(): ((stream: Uint8Array, cuts: number[]) => { values: Framed[]; rest: number })[] {
  return [
    (stream, cuts) => feed(stream, cuts, framer(new RedisReplyParser())),
    (stream, cuts) => {
      const parser = new RedisReplyParser();
      return feedDropping(stream, cuts, framer(parser), () => parser.settled);
    },
  ];
}

/** Asserts that every chunking of the stream frames `expected`, settled bytes dropped after each read or not. */
function assertEveryChunking(stream: Uint8Array, expected: Framed[]): void {
  for (const cuts of chunkings(stream.length)) {
    for (const feeding of feedings()) {
      const { values, rest } = feeding(stream, cuts);
      if (rest !== 0 || values.length !== expected.length) {
        assert.fail(`cuts ${cuts.slice(0, 3)}: ${rest} left`);
      }
      assert.deepEqual(values, expected);
    }
  }
}

/** Asserts that the stream is rejected (-1) however it arrives, settled bytes dropped or not. */
function assertInvalid(stream: Uint8Array): void {
  for (const cuts of chunkings(stream.length)) {
    for (const feeding of feedings()) {
      assert.throws(() => feeding(stream, cuts), /invalid reply/, `${text(stream)} ${cuts}`);
    }
  }
}

const REPLIES = [
  "+OK\r\n",
  "+\r\n",
  "-ERR unknown command 'x'\r\n",
  "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
  "-BUSYKEY Target key name already exists.\r\n",
  ":0\r\n",
  ":-42\r\n",
  ":9223372036854775807\r\n",
  "$-1\r\n",
  "$0\r\n\r\n",
  "$3\r\nbar\r\n",
  "$13\r\n\r\n*1\r\n:1\r\n+\r\n\r\n",
  "*0\r\n",
  "*-1\r\n",
  "*3\r\n$1\r\na\r\n$-1\r\n:7\r\n",
  "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
  "*3\r\n*2\r\n*0\r\n*-1\r\n*1\r\n*1\r\n+deep\r\n-ERR inside\r\n",
  "*2\r\n-LOADING nested errors are not failures\r\n-OOM neither\r\n",
];

Deno.test("every reply type frames whole, split at every byte, one byte at a time, with settled bytes dropped or not", () => {
  for (const reply of REPLIES) assertEveryChunking(bytes(reply), [{ reply, failure: false }]);
});

Deno.test("a pipeline of replies in one buffer frames each reply in order", () => {
  const stream = bytes(REPLIES.join(""));
  assertEveryChunking(stream, REPLIES.map((reply) => ({ reply, failure: false })));
});

Deno.test("-OOM, -BUSY and -LOADING at top level mark a server failure, -BUSYKEY and others do not", () => {
  const cases: [string, boolean][] = [
    ["-OOM command not allowed when used memory > 'maxmemory'.\r\n", true],
    ["-BUSY Redis is busy running a script.\r\n", true],
    ["-BUSY\r\n", true],
    ["-LOADING Redis is loading the dataset in memory\r\n", true],
    ["-BUSYKEY Target key name already exists.\r\n", false],
    ["-OOMX no\r\n", false],
    ["-oom lowercase\r\n", false],
    ["-ERR OOM\r\n", false],
    ["+LOADING\r\n", false],
    ["-\r\n", false],
  ];
  for (const [reply, failure] of cases) assertEveryChunking(bytes(reply), [{ reply, failure }]);
  // The flag describes the latest reply only.
  const stream = bytes("-LOADING x\r\n+OK\r\n");
  assertEveryChunking(stream, [{ reply: "-LOADING x\r\n", failure: true }, {
    reply: "+OK\r\n",
    failure: false,
  }]);
});

Deno.test("bytes that are not a RESP2 reply are invalid", () => {
  for (
    const raw of [
      "x\r\n",
      "_\r\n",
      "+OK\rX",
      "$-2\r\n",
      "$\r\n",
      "$abc\r\n",
      "$12345678901\r\n",
      "$3\r\nbarX\r\n",
      "$3\r\nbar\rX",
      "*x\r\n",
      "*-2\r\n",
      "*1\r\n?\r\n",
      ":abc\r\n",
      ":\r\n",
      ":-\r\n",
    ]
  ) assertInvalid(bytes(raw));
});

Deno.test("need tells the reply's whole length once a pending bulk's length is known", () => {
  const parser = new RedisReplyParser();
  const reply = bytes(`*2\r\n:1\r\n$100\r\n${"x".repeat(100)}\r\n`);
  assert.equal(parser.parse(reply, 0, 9), 0);
  assert.equal(parser.need, 0);
  assert.equal(parser.parse(reply, 0, 20), 0);
  assert.equal(parser.need, reply.length);
  assert.equal(parser.parse(reply, 0, reply.length - 1), 0);
  assert.equal(parser.need, reply.length);
  assert.equal(parser.parse(reply, 0, reply.length), reply.length);
  assert.equal(parser.need, 0);
});

Deno.test("a 1 MB bulk frames the same in any two reads and one byte at a time", () => {
  const body = "\r\n".repeat(1 << 19);
  const reply = bytes(`$${body.length}\r\n${body}\r\n`);
  for (const cuts of chunkings(reply.length)) {
    const { values, rest } = feed(reply, cuts, replyLengths(new RedisReplyParser()), false);
    if (rest !== 0 || values.length !== 1 || values[0] !== reply.length) {
      assert.fail(`cuts ${cuts.slice(0, 3)}`);
    }
  }
});

Deno.test("settled: each element's line from its start, a bulk's data as received, not its CR", () => {
  // *2\r\n 0..3, :1\r\n 4..7, $3\r\n 8..11, abc 12..14, \r\n 15..16.
  const reply = bytes("*2\r\n:1\r\n$3\r\nabc\r\n");
  const parser = new RedisReplyParser();
  const settled = [];
  for (let end = 0; end < reply.length; end++) {
    assert.equal(parser.parse(reply, 0, end), 0);
    settled.push(parser.settled);
  }
  assert.deepEqual(settled, [0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 13, 14, 15, 15]);
  assert.equal(parser.parse(reply, 0, reply.length), reply.length);
  assert.equal(parser.settled, 0);
});

Deno.test("a 64 MB bulk and a 1M-element array read 64 KiB at a time stream through, holding at most two reads", () => {
  const body = new Uint8Array(64 << 20).fill(13);
  for (let i = 1; i < body.length; i += 2) body[i] = 10;
  const bulk = concat(bytes(`$${body.length}\r\n`), body, bytes("\r\n"));
  const array = bytes(`*1000000\r\n${"$1\r\nx\r\n".repeat(1_000_000)}`);
  const stream = concat(bulk, array, bytes("+OK\r\n"));
  assert.deepEqual(streamReplies(stream, new RedisReplyParser(), 1 << 16), [bulk.length, array.length, 5]);
});

Deno.test("arrays nested 10000 deep frame when fed in 7-byte reads", () => {
  const depth = 10_000;
  const reply = "*1\r\n".repeat(depth) + ":1\r\n";
  const stream = bytes(reply);
  const cuts = Array.from(
    { length: Math.ceil(stream.length / 7) },
    (_, i) => Math.min(stream.length, (i + 1) * 7),
  );
  const { values, rest } = feed(stream, cuts, framer(new RedisReplyParser()), false);
  assert.equal(rest, 0);
  assert.deepEqual(values, [{ reply, failure: false }]);
});

Deno.test("parsing resumes where it stopped when the reply moves to another buffer", () => {
  const parser = new RedisReplyParser();
  const reply = bytes("*2\r\n$5\r\nhello\r\n+OK\r\n");
  assert.equal(parser.parse(reply, 0, 12), 0);
  const moved = concat(bytes("---"), reply, bytes("+junk\r\n"));
  assert.equal(parser.parse(moved, 3, 3 + reply.length), reply.length);
});

Deno.test("bytes already parsed are not read again: zeroing them does not change the result", () => {
  const reply = bytes("*1\r\n".repeat(500) + `*2\r\n+${"s".repeat(300)}\r\n$1000\r\n${"x".repeat(1000)}\r\n`);
  for (const cut of [1, 700, 2500, 2900, reply.length - 1]) {
    const parser = new RedisReplyParser();
    assert.equal(parser.parse(reply, 0, cut), 0);
    const again = reply.slice();
    again.fill(0, 0, cut - 1); // the byte before the cut may be a CR whose LF is still due
    assert.equal(parser.parse(again, 0, again.length), reply.length, `cut ${cut}`);
  }
});

/** A fake redis on a free port that answers each request with its first key's bytes plus CRLF. */
function echoKeyServer(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const parser = new RedisRequestParser(16384);
        let data: Uint8Array = new Uint8Array(0);
        const chunk = new Uint8Array(1 << 16);
        for (let n; (n = await conn.read(chunk).catch(() => null)) !== null;) {
          data = concat(data, chunk.subarray(0, n));
          for (let req; data.length > 0 && (req = parser.parse(data, 0, data.length));) {
            await conn.write(concat(data.subarray(req.keys[0], req.keys[1]), bytes("\r\n"))).catch(() => {});
            data = data.subarray(req.length);
          }
        }
      })();
    }
  })().catch(() => {/* listener closed */});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

Deno.test({
  name: "nutcracker 0.5.0 fails the server on exactly the replies flagged as failures",
  ...needs("nutcracker"),
  async fn() {
    const server = echoKeyServer();
    const port = freePort();
    const proxy = await startNutcracker(
      `p:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n   - 127.0.0.1:${server.port}:1\n`,
      [port],
    );
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const replies = [
        "-BUSY x",
        "-BUSY",
        "-BUSYKEY x",
        "-BUSY\tx",
        "-busy x",
        "-OOM x",
        "-OOMX y",
        "-LOADING z",
        "-LOADINGX",
        "-ERR custom",
        "+BUSY x",
        "*1\r\n-LOADING x",
      ];
      const reader = new RedisReplyParser();
      for (const reply of replies) {
        await conn.write(command("GET", reply));
        let data: Uint8Array = new Uint8Array(0);
        const chunk = new Uint8Array(1 << 16);
        while (data.length === 0 || reader.parse(data, 0, data.length) === 0) {
          const n = await conn.read(chunk);
          assert.notEqual(n, null, reply);
          data = concat(data, chunk.subarray(0, n!));
        }
        const ours = new RedisReplyParser();
        const framed = bytes(`${reply}\r\n`);
        assert.equal(ours.parse(framed, 0, framed.length), framed.length);
        assert.equal(text(data), ours.failure ? "-ERR Invalid argument\r\n" : `${reply}\r\n`, reply);
      }
    } finally {
      conn.close();
      await proxy.stop();
      server.close();
    }
  },
});

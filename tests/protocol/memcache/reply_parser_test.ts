import assert from "assert";
import { MemcacheReplyParser } from "../../../src/protocol/memcache/reply_parser.ts";
import { chunkings, feed, feedDropping, type Frame, replyLengths, streamReplies } from "../split_feed.ts";
import { concat } from "../../../harness/bytes.ts";
import { freePort, startNutcracker } from "../../../harness/procs.ts";
import { needs } from "../../support/needs.ts";
import { bin, str } from "./latin1.ts";

/** Thrown by the framer when the parser answers -1. */
class NotAReply extends Error {}

/**
 * Adapts a parser for `feed` (the framed value is the reply's text), checking on the way that the
 * parser never signals a failure and that a `need` is never more than the reply's final length.
 */
function framer(parser = new MemcacheReplyParser()): Frame<string> {
  let promised = 0;
  return (buf, start, end, message) => {
    const n = parser.parse(buf, start, end);
    assert.equal(parser.failure, false);
    if (n < 0) throw new NotAReply();
    if (n === 0) {
      if (parser.need > 0) {
        assert.ok(parser.need > end - start, `need ${parser.need} with ${end - start} bytes offered`);
        promised = parser.need;
      }
      return null;
    }
    assert.ok(n >= promised, `need ${promised} promised, reply is ${n}`);
    promised = 0;
    return { length: n, value: str(message(0, n)) };
  };
}

/** Asserts that every chunking of the replies' concatenation frames each reply. */
function assertEveryChunking(replies: string[]): void {
  const stream = bin(replies.join(""));
  for (const cuts of chunkings(stream.length)) {
    const { values, rest } = feed(stream, cuts, framer());
    if (rest !== 0) assert.fail(`reads ending at ${cuts.slice(0, 3)}...: ${rest} bytes left unframed`);
    assert.deepEqual(values, replies, `reads ending at ${cuts.slice(0, 3)}...`);
  }
}

/** Asserts that every chunking frames each reply when the settled bytes are dropped after each read. */
function assertDropsEveryChunking(replies: string[]): void {
  const stream = bin(replies.join(""));
  for (const cuts of chunkings(stream.length)) {
    const parser = new MemcacheReplyParser();
    const { values, rest } = feedDropping(stream, cuts, framer(parser), () => parser.settled);
    if (rest !== 0) assert.fail(`reads ending at ${cuts.slice(0, 3)}...: ${rest} bytes left unframed`);
    assert.deepEqual(values, replies, `reads ending at ${cuts.slice(0, 3)}...`);
  }
}

/** Whether the parser refuses `text` read whole. */
function refused(text: string): boolean {
  try {
    feed(bin(text), [text.length], framer());
    return false;
  } catch (e) {
    if (e instanceof NotAReply) return true;
    throw e;
  }
}

/** Every reply memcached gives that nutcracker recognises, one per entry. */
const REPLIES = [
  "STORED\r\n",
  "NOT_STORED\r\n",
  "EXISTS\r\n",
  "NOT_FOUND\r\n",
  "DELETED\r\n",
  "TOUCHED\r\n",
  "END\r\n",
  "ERROR\r\n",
  "0\r\n",
  "42\r\n",
  "18446744073709551615\r\n",
  "STORED  \r\n",
  "VERSION 1.6.18\r\n",
  "VERSION\r\n",
  "CLIENT_ERROR bad data chunk\r\n",
  "SERVER_ERROR object too large for cache\r\n",
  "CLIENT_ERROR \x00\xff\n odd text\r\n",
  "VALUE a 0 1\r\nx\r\nEND\r\n",
  "VALUE a 0 1 6\r\nx\r\nEND\r\n",
  "VALUE a 4294967295 0\r\n\r\nEND\r\n",
  "VALUE a 0 1\r\nx\r\nVALUE b 3 2 7\r\nyz\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
  "VALUE k 0 11\r\nEND\r\nVALUE \r\nEND\r\n",
  "VALUE \x01\xff\n 0 1\r\nx\r\nEND\r\n",
  `VALUE ${"k".repeat(250)} 0 1\r\nx\r\nEND\r\n`,
  "VALUE  a  0  1  \r\nx\r\nEND\r\n",
  // nutcracker skips whatever follows the length up to the line end (the cas unique of gets).
  "VALUE a 0 1 abc\r\nx\r\nEND\r\n",
];

Deno.test("every recognised reply frames whole as one reply (a get reply through its END)", () => {
  for (const reply of REPLIES) {
    const { values, rest } = feed(bin(reply), [reply.length], framer());
    assert.deepEqual(values, [reply]);
    assert.equal(rest, 0);
  }
});

Deno.test("every reply frames the same split into two reads at every offset or a byte per read", () => {
  for (const reply of REPLIES) assertEveryChunking([reply]);
});

Deno.test("a pipeline of every reply frames reply by reply under every chunking", () => {
  assertEveryChunking(REPLIES);
});

Deno.test("every reply frames the same when settled bytes are dropped after each read, never read again", () => {
  for (const reply of REPLIES) assertDropsEveryChunking([reply]);
  assertDropsEveryChunking(REPLIES);
});

Deno.test("settled covers the completed VALUE blocks and the data received, never the line being read", () => {
  // Offsets: first VALUE line 0..12, x 13, \r\n 14..15; second line 16..28, yz 29..30, \r\n 31..32; END 33.
  const reply = bin("VALUE a 0 1\r\nx\r\nVALUE b 3 2\r\nyz\r\nEND\r\n");
  const parser = new MemcacheReplyParser();
  const settled = [];
  for (let end = 0; end < reply.length; end++) {
    assert.equal(parser.parse(reply, 0, end), 0);
    settled.push(parser.settled);
  }
  assert.deepEqual(settled, [
    ...Array(13).fill(0), // the first VALUE line
    13, // its data: none received,
    14, // x received,
    14, // and the \r (read again with its \n)
    ...Array(13).fill(16), // the second VALUE line, from its start
    29,
    30,
    31,
    31, // its data, likewise
    ...Array(5).fill(33), // END, from its start
  ]);
  assert.equal(parser.parse(reply, 0, reply.length), reply.length);
  assert.equal(parser.settled, 0);
});

Deno.test("a 2 MB get reply read 64 KiB at a time streams through, the buffer never holding more than two reads", () => {
  const size = 1 << 20;
  const data = new Uint8Array(size).fill(0x62);
  for (let i = 0; i < size - 7; i += 999) data.set(bin("\r\nEND\r\n"), i);
  const block = (key: string) => concat([bin(`VALUE ${key} 0 ${size}\r\n`), data, bin("\r\n")]);
  const reply = concat([block("a"), block("b"), bin("END\r\n")]);
  const stream = concat([reply, bin("STORED\r\n")]);
  assert.deepEqual(streamReplies(stream, new MemcacheReplyParser(), 1 << 16), [reply.length, 8]);
});

Deno.test("a get reply is incomplete until its END line", () => {
  const parser = new MemcacheReplyParser();
  const text = bin("VALUE a 0 1\r\nx\r\nEND\r\n");
  for (let end = 0; end < text.length; end++) assert.equal(parser.parse(text, 0, end), 0);
  assert.equal(parser.parse(text, 0, text.length), text.length);
});

Deno.test("inside a VALUE block need is the least the reply can be: through the block and an END", () => {
  const parser = new MemcacheReplyParser();
  const text = bin("VALUE a 0 10\r\n0123456789\r\nEND\r\n");
  assert.equal(parser.parse(text, 0, 5), 0);
  assert.equal(parser.need, 0);
  assert.equal(parser.parse(text, 0, 20), 0);
  assert.equal(parser.need, text.length);
  assert.equal(parser.parse(text, 0, text.length), text.length);
  assert.equal(parser.need, 0);
});

Deno.test("a 1 MB+ value with \\r\\n and END inside frames under every chunking", () => {
  const size = (1 << 20) + 5;
  const data = new Uint8Array(size).fill(0x62);
  for (let i = 0; i < size - 5; i += 999) data.set(bin("\r\nEND\r\n"), i);
  const stream = concat([bin(`VALUE big 0 ${size}\r\n`), data, bin("\r\nEND\r\n")]);
  for (const cuts of chunkings(stream.length)) {
    const { values } = feed(stream, cuts, replyLengths(new MemcacheReplyParser()), false);
    assert.deepEqual(values, [stream.length]);
  }
});

/** Replies nutcracker refuses at once (it answers its client `SERVER_ERROR Invalid argument`). */
const BAD_AT_ONCE = [
  "OK\r\n",
  "STAT pid 1\r\n",
  "stored\r\n",
  "garbage\r\n",
  "STOREDX\r\n",
  "STORED x\r\n",
  "END x\r\n",
  "END  \r\n",
  "12a\r\n",
  "-1\r\n",
  "VALUE a 0 1\r\nxy\r\nEND\r\n",
  "VALUE a 0 1\r\nx\r\nEND \r\n",
  "VALUE a x 1\r\n",
  "SERVER_ERRORS\r\n",
];

Deno.test("anything else is not a reply (-1)", () => {
  const bad = [
    ...BAD_AT_ONCE,
    "STORED\rx",
    " STORED\r\n",
    "\r\n",
    // nutcracker would take these as one reply; memcached never sends them.
    "VALUE a 0 1\r\nx\r\nSTORED\r\n",
    "VALUE a 0 1\r\nx\r\nVERSION 1\r\n",
    "VALUE a 0 1\r\nx\r\n42\r\n",
    "VALUE a\r\n",
    "VALUE a 0\r\n",
    "VALUE a 0 \r\n",
    "VALUE a x 1\r\n",
    "VALUE\r\n",
    "VALUE \r\n",
    `VALUE ${"k".repeat(251)} 0 1\r\nx\r\nEND\r\n`,
    "VALUE a 0 2000000000\r\n",
    `VERSION ${"x".repeat(3000)}\r\n`,
  ];
  for (const text of bad) assert.ok(refused(text), JSON.stringify(text.slice(0, 40)));
});

Deno.test("a refusal holds under every chunking", () => {
  for (const text of ["OK\r\n", "VALUE a 0 1\r\nxy\r\nEND\r\n", "VALUE a 0 1\r\nx\r\nSTORED\r\n"]) {
    for (const cuts of chunkings(text.length)) {
      assert.throws(() => feed(bin(text), cuts, framer()), NotAReply, JSON.stringify(text));
    }
  }
});

Deno.test("a refusal holds when settled bytes are dropped after each read", () => {
  for (
    const text of [
      "VALUE a 0 1\r\nxy\r\nEND\r\n",
      "VALUE a 0 1\r\nx\r\nSTORED\r\n",
      "VALUE a 0 1\r\nx\r\nEND \r\n",
    ]
  ) {
    for (const cuts of chunkings(text.length)) {
      const parser = new MemcacheReplyParser();
      assert.throws(
        () => feedDropping(bin(text), cuts, framer(parser), () => parser.settled),
        NotAReply,
        JSON.stringify(text),
      );
    }
  }
});

Deno.test("the parser never reads at or past end", () => {
  for (const reply of REPLIES) {
    const whole = bin(reply);
    for (let end = 0; end < whole.length; end++) {
      const trap = new Proxy(whole, {
        get(target, prop) {
          if (typeof prop === "string" && /^\d+$/.test(prop) && Number(prop) >= end) {
            throw new Error(`read at ${prop} with end ${end}`);
          }
          return Reflect.get(target, prop, target);
        },
      });
      assert.equal(new MemcacheReplyParser().parse(trap, 0, end), 0, JSON.stringify(reply));
    }
  }
});

Deno.test(
  "replies relayed or refused match nutcracker 0.5.0 (fake server behind the binary)",
  needs("nutcracker"),
  async () => {
    let reply: Uint8Array = new Uint8Array();
    const server = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    const conns: Deno.Conn[] = [];
    const serving = (async () => {
      for await (const conn of server) {
        conns.push(conn);
        (async () => {
          const buf = new Uint8Array(4096);
          try {
            while ((await conn.read(buf)) !== null) await conn.write(reply);
          } catch { /* closed by nutcracker or at the end of the test */ }
        })();
      }
    })();
    const port = freePort();
    const serverPort = (server.addr as Deno.NetAddr).port;
    const nc = await startNutcracker(
      `pool:\n  listen: 127.0.0.1:${port}\n  timeout: 2000\n  servers:\n   - 127.0.0.1:${serverPort}:1\n`,
      [port],
    );
    try {
      const invalid = "SERVER_ERROR Invalid argument\r\n";
      /** What a client of nutcracker gets for `get a` when the server answers `text`: it or `invalid`. */
      const relayed = async (text: string): Promise<string> => {
        reply = bin(text);
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await conn.write(bin("get a\r\n"));
          let got = "";
          const buf = new Uint8Array(4096);
          while (got !== text && got !== invalid && got.length < Math.max(text.length, invalid.length)) {
            const n = await conn.read(buf);
            if (n === null) break;
            got += str(buf, 0, n);
          }
          return got;
        } finally {
          conn.close();
        }
      };
      for (const text of REPLIES) assert.equal(await relayed(text), text);
      for (const text of BAD_AT_ONCE) {
        assert.equal(await relayed(text), invalid, JSON.stringify(text));
        assert.ok(refused(text));
      }
    } finally {
      await nc.stop();
      server.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving;
    }
  },
);

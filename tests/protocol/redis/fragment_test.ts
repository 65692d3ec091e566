import assert from "assert";
import type { Fragment, RequestInfo } from "../../../src/protocol/types.ts";
import { closesOnFragmentFailure, mergeReplies, splitRequest } from "../../../src/protocol/redis/fragment.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { bytes, command, text } from "./resp.ts";

function frame(...args: string[]): { req: RequestInfo; msg: Uint8Array } {
  const msg = command(...args);
  const req = new RedisRequestParser(16384).parse(msg, 0, msg.length);
  assert.ok(req);
  return { req, msg };
}

/** Fragments as text, for readable assertions. */
const shown = (fragments: Fragment[]) =>
  fragments.map((f) => ({ server: f.server, bytes: text(f.bytes), keyIndexes: f.keyIndexes }));

Deno.test("MGET splits per server in lowercase, servers in index order, keys in request order", () => {
  const { req, msg } = frame("MGET", "k1", "k2", "nokey", "k3");
  assert.deepEqual(shown(splitRequest(req, msg, [2, 0, 2, 1])), [
    { server: 0, bytes: "*2\r\n$4\r\nmget\r\n$2\r\nk2\r\n", keyIndexes: [1] },
    { server: 1, bytes: "*2\r\n$4\r\nmget\r\n$2\r\nk3\r\n", keyIndexes: [3] },
    { server: 2, bytes: "*3\r\n$4\r\nmget\r\n$2\r\nk1\r\n$5\r\nnokey\r\n", keyIndexes: [0, 2] },
  ]);
});

Deno.test("DEL, UNLINK, TOUCH and EXISTS fragments carry their lowercase names", () => {
  for (const name of ["DEL", "Unlink", "touch", "EXISTS"]) {
    const { req, msg } = frame(name, "a", "b");
    const lower = name.toLowerCase();
    assert.deepEqual(shown(splitRequest(req, msg, [1, 0])), [
      { server: 0, bytes: `*2\r\n$${lower.length}\r\n${lower}\r\n$1\r\nb\r\n`, keyIndexes: [1] },
      { server: 1, bytes: `*2\r\n$${lower.length}\r\n${lower}\r\n$1\r\na\r\n`, keyIndexes: [0] },
    ]);
  }
});

Deno.test("duplicate keys are sent as often as they were asked", () => {
  const { req, msg } = frame("MGET", "k1", "k2", "k1");
  assert.deepEqual(shown(splitRequest(req, msg, [1, 0, 1])), [
    { server: 0, bytes: "*2\r\n$4\r\nmget\r\n$2\r\nk2\r\n", keyIndexes: [1] },
    { server: 1, bytes: "*3\r\n$4\r\nmget\r\n$2\r\nk1\r\n$2\r\nk1\r\n", keyIndexes: [0, 2] },
  ]);
});

Deno.test("MSET fragments carry each key with its value, values kept byte for byte", () => {
  const { req, msg } = frame("MSET", "a", "1", "b", "x\r\ny", "c", "");
  assert.deepEqual(shown(splitRequest(req, msg, [0, 1, 0])), [
    {
      server: 0,
      bytes: "*5\r\n$4\r\nmset\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$0\r\n\r\n",
      keyIndexes: [0, 2],
    },
    { server: 1, bytes: "*3\r\n$4\r\nmset\r\n$1\r\nb\r\n$4\r\nx\r\ny\r\n", keyIndexes: [1] },
  ]);
});

Deno.test("when every key lives on one server the request goes there unchanged as one fragment", () => {
  const { req, msg } = frame("MGET", "a", "b", "a");
  const fragments = splitRequest(req, msg, [3, 3, 3]);
  assert.equal(fragments.length, 1);
  assert.equal(fragments[0].bytes, msg);
  assert.deepEqual([fragments[0].server, fragments[0].keyIndexes], [3, [0, 1, 2]]);
  const reply = bytes("-ERR whatever the server said\r\n");
  assert.equal(mergeReplies(req, fragments, [reply]), reply);
});

Deno.test("MGET merges each key's bulk in request order, nils and duplicates included", () => {
  const { req, msg } = frame("MGET", "k1", "k2", "nokey", "k3", "k4", "k1");
  const fragments = splitRequest(req, msg, [0, 1, 0, 1, 2, 0]);
  const replies = [
    bytes("*3\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv1\r\n"),
    bytes("*2\r\n$2\r\nv2\r\n$2\r\nv3\r\n"),
    bytes("*1\r\n$2\r\nv4\r\n"),
  ];
  assert.equal(
    text(mergeReplies(req, fragments, replies)!),
    "*6\r\n$2\r\nv1\r\n$2\r\nv2\r\n$-1\r\n$2\r\nv3\r\n$2\r\nv4\r\n$2\r\nv1\r\n",
  );
});

Deno.test("MGET bulks with CRLF inside and empty values merge byte for byte", () => {
  const { req, msg } = frame("MGET", "a", "b");
  const fragments = splitRequest(req, msg, [1, 0]);
  const merged = mergeReplies(req, fragments, [bytes("*1\r\n$0\r\n\r\n"), bytes("*1\r\n$4\r\n\r\n\r\n\r\n")]);
  assert.equal(text(merged!), "*2\r\n$4\r\n\r\n\r\n\r\n$0\r\n\r\n");
});

Deno.test("DEL, UNLINK, TOUCH and EXISTS merge into the sum of the integers", () => {
  for (const name of ["DEL", "UNLINK", "TOUCH", "EXISTS"]) {
    const { req, msg } = frame(name, "a", "b", "c");
    const fragments = splitRequest(req, msg, [0, 1, 2]);
    const merged = mergeReplies(req, fragments, [bytes(":1\r\n"), bytes(":0\r\n"), bytes(":12\r\n")]);
    assert.equal(text(merged!), ":13\r\n");
  }
});

Deno.test("MSET merges into +OK", () => {
  const { req, msg } = frame("MSET", "a", "1", "b", "2");
  const fragments = splitRequest(req, msg, [0, 1]);
  assert.equal(text(mergeReplies(req, fragments, [bytes("+OK\r\n"), bytes("+OK\r\n")])!), "+OK\r\n");
});

Deno.test("a fragment reply of the wrong type turns the whole reply into -ERR Invalid argument", () => {
  const cases: [string[], string[]][] = [
    [["MGET", "a", "b"], ["*1\r\n$1\r\nx\r\n", "-ERR boom\r\n"]],
    [["MGET", "a", "b"], ["*1\r\n$1\r\nx\r\n", "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"]],
    [["MGET", "a", "b"], ["*1\r\n:1\r\n", "*1\r\n$1\r\nx\r\n"]],
    [["MGET", "a", "b"], ["*-1\r\n", "*1\r\n$1\r\nx\r\n"]],
    [["MGET", "a", "b"], [":1\r\n", "*1\r\n$1\r\nx\r\n"]],
    [["DEL", "a", "b"], [":1\r\n", "-WRONGTYPE x\r\n"]],
    [["EXISTS", "a", "b"], [":1\r\n", "+OK\r\n"]],
    [["MSET", "a", "1", "b", "2"], ["+OK\r\n", "-ERR x\r\n"]],
    [["MSET", "a", "1", "b", "2"], ["+OK\r\n", ":1\r\n"]],
  ];
  for (const [args, replies] of cases) {
    const { req, msg } = frame(...args);
    const fragments = splitRequest(req, msg, [0, 1]);
    assert.equal(mergeReplies(req, fragments, replies.map(bytes)), null, args.join(" "));
  }
});

Deno.test("only MGET closes the client when a fragment gets no reply", () => {
  assert.equal(closesOnFragmentFailure(frame("MGET", "a", "b").req), true);
  for (
    const args of [["DEL", "a", "b"], ["UNLINK", "a", "b"], ["TOUCH", "a", "b"], ["EXISTS", "a", "b"], [
      "MSET",
      "a",
      "1",
      "b",
      "2",
    ]]
  ) {
    assert.equal(closesOnFragmentFailure(frame(...args).req), false);
  }
});

import assert from "assert";
import { memcache } from "../../../src/protocol/memcache/index.ts";
import { Action } from "../../../src/protocol/types.ts";
import { bin, str } from "./latin1.ts";

const protocol = memcache();

/** Frames `text` with a fresh request parser of the protocol. */
function frame(text: string) {
  const msg = bin(text);
  const req = protocol.newRequestParser().parse(msg, 0, msg.length);
  assert.ok(req);
  return { req, msg };
}

Deno.test("the protocol is named memcache and needs no handshake, session or interception", () => {
  assert.equal(protocol.name, "memcache");
  assert.deepEqual(protocol.handshake(), []);
  const { req, msg } = frame("version\r\n");
  assert.equal(protocol.newSession().intercept(req, msg), null);
});

Deno.test("error replies (ERROR, CLIENT_ERROR, SERVER_ERROR) are told from every other reply", () => {
  for (const r of ["ERROR\r\n", "CLIENT_ERROR bad data chunk\r\n", "SERVER_ERROR out of memory\r\n"]) {
    assert.equal(protocol.isError(bin(r)), true, r);
  }
  const others = [
    "END\r\n",
    "EXISTS\r\n",
    "STORED\r\n",
    "STAT x 1\r\n",
    "NOT_FOUND\r\n",
    "VALUE k 0 1\r\nx\r\nEND\r\n",
  ];
  for (const r of [...others, "DELETED\r\n", "TOUCHED\r\n", "VERSION 1.6\r\n", "12\r\n", "NOT_STORED\r\n"]) {
    assert.equal(protocol.isError(bin(r)), false, r);
  }
});

Deno.test("metrics name every command by its lower-case name, indexed by its id", () => {
  const { req } = frame("touch k 10\r\n");
  assert.equal(protocol.commandNames[req.cmd], "touch");
});

Deno.test("log lines name memcache commands by their names", () => {
  assert.equal(protocol.commandName(frame("get a b\r\n").req), "get");
  assert.equal(protocol.commandName(frame("set k 0 0 1\r\nx\r\n").req), "set");
});

Deno.test("error replies: SERVER_ERROR for failed requests, CLIENT_ERROR for refused ones", () => {
  assert.equal(str(protocol.errorReply("Connection refused")), "SERVER_ERROR Connection refused\r\n");
  assert.equal(str(protocol.clientErrorReply("key too long")), "CLIENT_ERROR key too long\r\n");
});

Deno.test("each connection gets its own parsers; memcache replies never signal a server failure", () => {
  assert.notEqual(protocol.newRequestParser(), protocol.newRequestParser());
  const replies = protocol.newReplyParser();
  assert.notEqual(replies, protocol.newReplyParser());
  assert.equal(replies.parse(bin("SERVER_ERROR out of memory\r\n"), 0, 28), 28);
  assert.equal(replies.failure, false);
});

Deno.test("a split get merges in key order; a bad fragment reply becomes SERVER_ERROR Invalid argument", () => {
  const { req, msg } = frame("get a b\r\n");
  assert.equal(req.action, Action.Split);
  const fragments = protocol.split(req, msg, [1, 0]);
  assert.deepEqual(fragments.map((f) => str(f.bytes)), ["get b \r\n", "get a \r\n"]);
  const good = protocol.merge(req, fragments, [
    bin("VALUE b 0 1\r\nB\r\nEND\r\n"),
    bin("VALUE a 0 1\r\nA\r\nEND\r\n"),
  ]);
  assert.equal(str(good!), "VALUE a 0 1\r\nA\r\nVALUE b 0 1\r\nB\r\nEND\r\n");
  const bad = protocol.merge(req, fragments, [bin("END\r\n"), bin("SERVER_ERROR out of memory\r\n")]);
  assert.equal(bad, null);
});

Deno.test("a get/gets whose fragment got no reply closes the client; nothing else is split", () => {
  assert.equal(protocol.closesOnFragmentFailure(frame("get a b\r\n").req), true);
  assert.equal(protocol.closesOnFragmentFailure(frame("gets a b\r\n").req), true);
  assert.equal(protocol.closesOnFragmentFailure(frame("delete a\r\n").req), false);
});

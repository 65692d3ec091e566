import assert from "assert";
import { getBatching } from "../../../src/protocol/memcache/batch.ts";
import { MemcacheRequestParser } from "../../../src/protocol/memcache/request_parser.ts";
import { bin as bytes, str } from "./latin1.ts";

/** The framed request and its bytes. */
function request(text: string) {
  const msg = bytes(text);
  const info = new MemcacheRequestParser().parse(msg, 0, msg.length)!;
  return { info, msg };
}

/** What each member of a batch of `keys` gets from `reply`, or null when the reply does not fit. */
function split(reply: string, keys: string[]): string[] | null {
  const got: string[] = [];
  const ok = getBatching.splitReply(bytes(reply), keys, (m, b) => {
    assert.equal(m, got.length, "members in order");
    got.push(str(b));
  });
  if (!ok) {
    assert.deepEqual(got, [], "nothing emitted for a reply that does not fit");
    return null;
  }
  return got;
}

Deno.test("only single-key get and gets can join a batch, each with its own command", () => {
  const kinds = (text: string) => {
    const { info, msg } = request(text);
    return getBatching.kind(info, msg);
  };
  assert.equal(kinds("get a\r\n"), kinds("get bb\r\n"));
  assert.ok(kinds("get a\r\n") >= 0);
  assert.ok(kinds("gets a\r\n") >= 0);
  assert.notEqual(kinds("get a\r\n"), kinds("gets a\r\n"));
  assert.equal(kinds("get a b\r\n"), -1);
  assert.equal(kinds("get  a \r\n"), kinds("get a\r\n"));
  assert.equal(kinds("set a 0 0 1\r\nx\r\n"), -1);
  assert.equal(kinds("delete a\r\n"), -1);
});

Deno.test("a member's tail extends the batch line and its key is a copy", () => {
  const { info, msg } = request("get key:1\r\n");
  assert.equal(str(getBatching.tail(info, msg)), " key:1\r\n");
  const key = getBatching.key(info, msg);
  msg.fill(0);
  assert.equal(key, "key:1");
  assert.equal(getBatching.retract, 2);
});

Deno.test("a batch reply is cut into each get's own reply: hits, misses and repeated keys", () => {
  const va = "VALUE a 0 1\r\n1\r\n";
  const vb = "VALUE b 5 2\r\n22\r\n";
  assert.deepEqual(split(`${va}${vb}END\r\n`, ["a", "b"]), [`${va}END\r\n`, `${vb}END\r\n`]);
  assert.deepEqual(split(`${vb}END\r\n`, ["a", "b", "c"]), ["END\r\n", `${vb}END\r\n`, "END\r\n"]);
  assert.deepEqual(split(`${va}${va}END\r\n`, ["a", "x", "a"]), [`${va}END\r\n`, "END\r\n", `${va}END\r\n`]);
  assert.deepEqual(split("END\r\n", ["a", "b"]), ["END\r\n", "END\r\n"]);
  const cas = "VALUE a 0 1 77\r\n1\r\n";
  assert.deepEqual(split(`${cas}END\r\n`, ["a"]), [`${cas}END\r\n`]);
});

Deno.test("a value holding what looks like protocol lines stays whole", () => {
  const tricky = "VALUE a 0 12\r\nEND\r\nVALUE b\r\n";
  assert.deepEqual(split(`${tricky}END\r\n`, ["a", "b"]), [`${tricky}END\r\n`, "END\r\n"]);
});

Deno.test("an error reply to a batch goes to every get in it", () => {
  const err = "SERVER_ERROR out of memory\r\n";
  assert.deepEqual(split(err, ["a", "b"]), [err, err]);
});

Deno.test("a reply with a block for a key not asked for, or out of order, is refused", () => {
  assert.equal(split("VALUE z 0 1\r\n1\r\nEND\r\n", ["a", "b"]), null);
  assert.equal(split("VALUE b 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n", ["a", "b"]), null);
  assert.equal(split("VALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n", ["a"]), null);
});

Deno.test("keys with bytes above 127 are matched byte for byte", () => {
  const v = "VALUE k\xe9\xff 0 1\r\n1\r\n";
  assert.deepEqual(split(`${v}END\r\n`, ["k\xe9", "k\xe9\xff"]), ["END\r\n", `${v}END\r\n`]);
  const { info, msg } = request("get k\xe9\xff\r\n");
  assert.equal(getBatching.key(info, msg), "k\xe9\xff");
});

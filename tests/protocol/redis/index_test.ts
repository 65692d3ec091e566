import assert from "assert";
import { Action } from "../../../src/protocol/types.ts";
import { redis } from "../../../src/protocol/redis/index.ts";
import { command, text } from "./resp.ts";

const plain = redis({ mbufSize: 16384, redisAuth: null, redisDb: 0 });
const guarded = redis({ mbufSize: 512, redisAuth: "pw", redisDb: 2 });

Deno.test("the protocol is named redis and its errors are -ERR lines", () => {
  assert.equal(plain.name, "redis");
  assert.equal(text(plain.errorReply("Connection timed out")), "-ERR Connection timed out\r\n");
  assert.equal(
    text(plain.clientErrorReply("unsupported command 'KEYS'")),
    "-ERR unsupported command 'KEYS'\r\n",
  );
});

Deno.test("sessions start authenticated only when the pool has no redis_auth", () => {
  const msg = command("GET", "k");
  const req = plain.newRequestParser().parse(msg, 0, msg.length)!;
  assert.equal(plain.newSession().intercept(req, msg), null);
  assert.equal(text(guarded.newSession().intercept(req, msg)!), "-NOAUTH Authentication required\r\n");
});

Deno.test("log lines name redis commands in capitals; error replies are those starting with '-'", () => {
  const msg = command("hget", "h", "f");
  assert.equal(plain.commandName(plain.newRequestParser().parse(msg, 0, msg.length)!), "HGET");
  assert.equal(plain.isError(new TextEncoder().encode("-NOAUTH Authentication required.\r\n")), true);
  assert.equal(plain.isError(new TextEncoder().encode("+OK\r\n")), false);
});

Deno.test("metrics name redis commands in lower case, indexed by their id", () => {
  const msg = command("HGETALL", "h");
  assert.equal(plain.commandNames[plain.newRequestParser().parse(msg, 0, msg.length)!.cmd], "hgetall");
});

Deno.test("the handshake follows redis_db and redis_auth", () => {
  assert.deepEqual(plain.handshake(), []);
  assert.deepEqual(guarded.handshake().map((h) => text(h.bytes)), [
    "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n",
    "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n",
  ]);
});

Deno.test("parsers are new per connection and use the pool's mbuf size for the key limit", () => {
  assert.notEqual(plain.newRequestParser(), plain.newRequestParser());
  assert.notEqual(plain.newReplyParser(), plain.newReplyParser());
  const msg = command("GET", "k".repeat(464));
  assert.equal(plain.newRequestParser().parse(msg, 0, msg.length)?.length, msg.length);
  assert.throws(() => guarded.newRequestParser().parse(msg, 0, msg.length));
});

Deno.test("a split request goes through the session, split and merge of the protocol", () => {
  const msg = command("MGET", "a", "b");
  const req = plain.newRequestParser().parse(msg, 0, msg.length)!;
  assert.equal(req.action, Action.Split);
  assert.equal(plain.newSession().intercept(req, msg), null);
  assert.equal(text(guarded.newSession().intercept(req, msg)!), "-NOAUTH Authentication required\r\n");
  const fragments = plain.split(req, msg, [0, 1]);
  const merged = plain.merge(req, fragments, [
    new TextEncoder().encode("*1\r\n$1\r\nA\r\n"),
    new TextEncoder().encode("*1\r\n$-1\r\n"),
  ]);
  assert.equal(text(merged!), "*2\r\n$1\r\nA\r\n$-1\r\n");
  assert.equal(plain.closesOnFragmentFailure(req), true);
});

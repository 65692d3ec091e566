import assert from "assert";
import type { Session } from "../../../src/protocol/types.ts";
import { interceptor } from "../../../src/protocol/redis/intercept.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { command, text } from "./resp.ts";

/** Runs one request through the interceptor; the proxy's own reply as text, or null. */
function ask(intercept: ReturnType<typeof interceptor>, session: Session, ...args: string[]): string | null {
  const msg = command(...args);
  const req = new RedisRequestParser(16384).parse(msg, 0, msg.length);
  assert.ok(req);
  const reply = intercept(req, msg, session);
  return reply === null ? null : text(reply);
}

Deno.test("PING is answered +PONG by the proxy, other commands pass", () => {
  const intercept = interceptor(null);
  const session = { authenticated: true };
  assert.equal(ask(intercept, session, "PING"), "+PONG\r\n");
  assert.equal(ask(intercept, session, "ping"), "+PONG\r\n");
  assert.equal(ask(intercept, session, "GET", "k"), null);
  assert.equal(ask(intercept, session, "MGET", "a", "b"), null);
  assert.equal(ask(intercept, session, "QUIT"), null);
  assert.equal(ask(intercept, session, "COMMAND"), null);
});

Deno.test("AUTH without redis_auth says no password is set", () => {
  const session = { authenticated: true };
  assert.equal(
    ask(interceptor(null), session, "AUTH", "pw"),
    "-ERR Client sent AUTH, but no password is set\r\n",
  );
  assert.equal(session.authenticated, true);
});

Deno.test("with redis_auth every command but AUTH and QUIT needs a login first", () => {
  const intercept = interceptor("s3cret");
  const session = { authenticated: false };
  for (
    const args of [["PING"], ["GET", "k"], ["MGET", "a", "b"], ["MSET", "a", "1", "b", "2"], ["COMMAND"]]
  ) {
    assert.equal(ask(intercept, session, ...args), "-NOAUTH Authentication required\r\n", args[0]);
  }
  assert.equal(ask(intercept, session, "QUIT"), null);
});

Deno.test("the right password logs in, a wrong one answers invalid password and logs out", () => {
  const intercept = interceptor("s3cret");
  const session = { authenticated: false };
  assert.equal(ask(intercept, session, "AUTH", "s3cre"), "-ERR invalid password\r\n");
  assert.equal(ask(intercept, session, "AUTH", "s3cret"), "+OK\r\n");
  assert.equal(session.authenticated, true);
  assert.equal(ask(intercept, session, "PING"), "+PONG\r\n");
  assert.equal(ask(intercept, session, "GET", "k"), null);
  assert.equal(ask(intercept, session, "AUTH", "s3cretX"), "-ERR invalid password\r\n");
  assert.equal(session.authenticated, false);
  assert.equal(ask(intercept, session, "GET", "k"), "-NOAUTH Authentication required\r\n");
  assert.equal(ask(intercept, session, "auth", "S3CRET"), "-ERR invalid password\r\n");
  assert.equal(ask(intercept, session, "auth", "s3cret"), "+OK\r\n");
});

Deno.test("passwords compare as exact UTF-8 bytes", () => {
  const intercept = interceptor("pässwörd");
  const session = { authenticated: false };
  assert.equal(ask(intercept, session, "AUTH", "passwort"), "-ERR invalid password\r\n");
  assert.equal(ask(intercept, session, "AUTH", "pässwörd"), "+OK\r\n");
});

import assert from "assert";
import { type RedisSession, sessionFactory } from "../../../src/protocol/redis/session.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { command, text } from "./resp.ts";

/** Runs one request through the session; the proxy's own reply as text, or null. */
function ask(session: RedisSession, ...args: string[]): string | null {
  const msg = command(...args);
  const req = new RedisRequestParser(16384).parse(msg, 0, msg.length);
  assert.ok(req);
  const reply = session.intercept(req, msg);
  return reply === null ? null : text(reply);
}

Deno.test("PING is answered +PONG by the proxy, other commands pass", () => {
  const session = sessionFactory(null)();
  assert.equal(ask(session, "PING"), "+PONG\r\n");
  assert.equal(ask(session, "ping"), "+PONG\r\n");
  assert.equal(ask(session, "GET", "k"), null);
  assert.equal(ask(session, "MGET", "a", "b"), null);
  assert.equal(ask(session, "QUIT"), null);
  assert.equal(ask(session, "COMMAND"), null);
});

Deno.test("AUTH without redis_auth says no password is set", () => {
  const session = sessionFactory(null)();
  assert.equal(
    ask(session, "AUTH", "pw"),
    "-ERR Client sent AUTH, but no password is set\r\n",
  );
  assert.equal(session.authenticated, true);
});

Deno.test("with redis_auth every command but AUTH and QUIT needs a login first", () => {
  const session = sessionFactory("s3cret")();
  for (
    const args of [["PING"], ["GET", "k"], ["MGET", "a", "b"], ["MSET", "a", "1", "b", "2"], ["COMMAND"]]
  ) {
    assert.equal(ask(session, ...args), "-NOAUTH Authentication required\r\n", args[0]);
  }
  assert.equal(ask(session, "QUIT"), null);
});

Deno.test("the right password logs in, a wrong one answers invalid password and logs out", () => {
  const session = sessionFactory("s3cret")();
  assert.equal(ask(session, "AUTH", "s3cre"), "-ERR invalid password\r\n");
  assert.equal(ask(session, "AUTH", "s3cret"), "+OK\r\n");
  assert.equal(session.authenticated, true);
  assert.equal(ask(session, "PING"), "+PONG\r\n");
  assert.equal(ask(session, "GET", "k"), null);
  assert.equal(ask(session, "AUTH", "s3cretX"), "-ERR invalid password\r\n");
  assert.equal(session.authenticated, false);
  assert.equal(ask(session, "GET", "k"), "-NOAUTH Authentication required\r\n");
  assert.equal(ask(session, "auth", "S3CRET"), "-ERR invalid password\r\n");
  assert.equal(ask(session, "auth", "s3cret"), "+OK\r\n");
});

Deno.test("passwords compare as exact UTF-8 bytes", () => {
  const session = sessionFactory("pässwörd")();
  assert.equal(ask(session, "AUTH", "passwort"), "-ERR invalid password\r\n");
  assert.equal(ask(session, "AUTH", "pässwörd"), "+OK\r\n");
});

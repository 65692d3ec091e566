/**
 * The redis pinned states against a recording PinHost: what each request answers, what it sends
 * where, and when the state lets its connections go.
 */
import assert from "assert";
import { RedisPinned } from "../../../src/protocol/redis/pinning.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { type ExpectedReply, type PinHost, PinReply } from "../../../src/protocol/types.ts";
import { command, text } from "./resp.ts";

const USE = ["client", "blocking", "drop"];

/**
 * A pool of three servers where a key's first letter picks its server (a, b, c; others and the
 * placeholder: 0). Records every answer, send, hold and release in order, as text.
 */
class Host implements PinHost {
  readonly servers = 3;
  readonly log: string[] = [];
  /** Servers whose connections cannot be had. */
  readonly down = new Set<number>();

  route(msg: Uint8Array, start: number, end: number): number {
    if (start < 0) return 0;
    const i = "abc".indexOf(String.fromCharCode(msg[start]));
    return end > start && i >= 0 ? i : 0;
  }

  answer(bytes: Uint8Array): void {
    this.log.push(`answer ${text(bytes)}`);
  }

  /** A reply slot: logged as `expect N`, and `filled N ...` / `failed N ...` when settled. */
  expect(): ExpectedReply {
    const n = this.#slots++;
    this.log.push(`expect ${n}`);
    return {
      reply: (b) => this.log.push(`filled ${n} ${text(b)}`),
      fail: (r) => this.log.push(`failed ${n} ${r}`),
    };
  }

  #slots = 0;

  send(server: number, bytes: Uint8Array, use: PinReply): string | null {
    if (this.down.has(server)) return "Connection refused";
    this.log.push(`send ${server} ${USE[use]} ${words(bytes)}`);
    return null;
  }

  sendRaw(server: number, bytes: Uint8Array): string | null {
    if (this.down.has(server)) return "Connection refused";
    this.log.push(`raw ${server} ${words(bytes)}`);
    return null;
  }

  hold(): void {
    this.log.push("hold");
  }

  close(reason: string): void {
    this.log.push(`close ${reason}`);
  }

  release(): void {
    this.log.push("release");
  }

  /** The log since the last call. */
  take(): string[] {
    return this.log.splice(0);
  }
}

/** A request's words, for the log (`SET ak 1`). */
function words(msg: Uint8Array): string {
  return text(msg).split("\r\n").filter((_, i) => i > 0 && i % 2 === 0).join(" ");
}

/** Runs requests through a pinned session, as the core does (refusals included). */
function run(pinned: RedisPinned, host: Host, ...requests: string[][]): void {
  for (const args of requests) {
    const msg = command(...args);
    const parser = new RedisRequestParser(16384);
    let req;
    try {
      req = parser.parse(msg, 0, msg.length)!;
    } catch (err) {
      host.answer(new TextEncoder().encode(`-ERR ${(err as Error).message}\r\n`));
      pinned.refused();
      continue;
    }
    pinned.request(req, msg, host);
  }
}

const none = () => null;

Deno.test("a transaction on one server: MULTI answered at once, sent with its first command, EXEC ends it", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SET", "bx", "1"], ["INCR", "by"]);
  assert.equal(pinned.active, true);
  run(pinned, host, ["EXEC"]);
  assert.deepEqual(host.take(), [
    "answer +OK\r\n",
    "send 1 drop multi",
    "send 1 client SET bx 1",
    "send 1 client INCR by",
    "send 1 client EXEC",
    "release",
    "hold",
  ]);
  assert.equal(pinned.active, false);
});

Deno.test("a key on another server is refused and EXEC discards the whole transaction", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SET", "bx", "1"], ["INCR", "cy"], ["SET", "bz", "2"], ["EXEC"]);
  const log = host.take();
  assert.deepEqual(log.slice(0, 3), ["answer +OK\r\n", "send 1 drop multi", "send 1 client SET bx 1"]);
  assert.match(log[3], /^answer -ERR every key of a transaction must be on one server/);
  assert.match(log[4], /^answer -ERR command not queued/);
  assert.deepEqual(log.slice(5), [
    "send 1 drop discard",
    "answer -EXECABORT Transaction discarded because of previous errors.\r\n",
    "release",
    "hold",
  ]);
});

Deno.test("one multi-key command across servers inside MULTI is refused as a whole", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["MSET", "a1", "1", "b1", "2"], ["EXEC"]);
  const log = host.take();
  assert.match(log[1], /^answer -ERR every key of a transaction/);
  assert.equal(log[2], "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
  assert.ok(!log.some((l) => l.startsWith("send")), "nothing reaches a server");
});

Deno.test("EXEC of an empty transaction is an empty array; DISCARD before any command is +OK", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["EXEC"], ["MULTI"], ["DISCARD"]);
  assert.deepEqual(host.take().filter((l) => l.startsWith("answer")), [
    "answer +OK\r\n",
    "answer *0\r\n",
    "answer +OK\r\n",
    "answer +OK\r\n",
  ]);
});

Deno.test("EXEC and DISCARD without MULTI, and MULTI inside MULTI, get redis's errors", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "ak"]);
  assert.deepEqual(host.take(), [
    "answer -ERR EXEC without MULTI\r\n",
    "answer -ERR DISCARD without MULTI\r\n",
    "answer +OK\r\n",
    "answer -ERR MULTI calls can not be nested\r\n",
    "answer -ERR WATCH inside MULTI is not allowed\r\n",
  ]);
});

Deno.test("a request the parser refused inside MULTI makes EXEC discard the transaction", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SET", "ax", "1"], ["KEYS", "*"], ["EXEC"]);
  const log = host.take();
  assert.equal(log.at(-3), "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
  assert.equal(log.at(-4), "send 0 drop discard");
});

Deno.test("the transaction's server lost: later commands are not queued and EXEC discards", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SET", "ax", "1"]);
  pinned.lost(0, host);
  run(pinned, host, ["INCR", "ay"], ["EXEC"]);
  const log = host.take();
  assert.match(log[3], /^answer -ERR command not queued/);
  assert.equal(log[4], "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
  assert.ok(!log.slice(3).some((l) => l.startsWith("send")), "nothing sent after the loss");
});

Deno.test("no connection to the transaction's server: the command is refused, EXEC discards", () => {
  const host = new Host();
  host.down.add(2);
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SET", "cx", "1"], ["EXEC"]);
  const log = host.take();
  assert.match(log[1], /^answer -ERR no connection to the transaction's server/);
  assert.equal(log[2], "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
});

Deno.test("WATCH pins its server; MULTI then opens there at once; keys elsewhere are refused", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["WATCH", "bk"], ["GET", "bk"], ["GET", "ck"], ["MULTI"], ["SET", "bk", "2"], ["EXEC"]);
  const log = host.take();
  assert.deepEqual(log.slice(0, 2), ["send 1 client WATCH bk", "send 1 client GET bk"]);
  assert.match(log[2], /^answer -ERR while WATCH holds a server/);
  assert.deepEqual(log.slice(3), [
    "answer +OK\r\n",
    "send 1 drop multi",
    "send 1 client SET bk 2",
    "send 1 client EXEC",
    "release",
    "hold",
  ]);
});

Deno.test("a lost WATCH makes the next transaction fail rather than run unguarded", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["WATCH", "bk"]);
  pinned.lost(1, host);
  assert.equal(pinned.active, false, "the client's next reads go the shared way");
  run(pinned, host, ["MULTI"], ["SET", "bk", "2"], ["EXEC"]);
  assert.equal(host.take().at(-3), "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
});

Deno.test("UNWATCH sends UNWATCH to the watched server and ends the state; without WATCH it is +OK", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["WATCH", "bk"], ["UNWATCH"], ["UNWATCH"]);
  assert.deepEqual(host.take(), [
    "send 1 client WATCH bk",
    "send 1 client UNWATCH",
    "release",
    "hold",
    "answer +OK\r\n",
    "release",
    "hold",
  ]);
  assert.equal(pinned.active, false);
});

Deno.test("blocking commands: keys on one server, no timeout, the client waits for the reply", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["BLPOP", "bq", "bz", "0"]);
  assert.deepEqual(host.take(), ["send 1 blocking BLPOP bq bz 0", "release", "hold"]);
  run(pinned, host, ["BLPOP", "aq", "bq", "0"]);
  assert.match(host.take()[0], /^answer -ERR every key of BLPOP must be on one server/);
  run(pinned, host, ["BLMOVE", "cs", "cd", "LEFT", "RIGHT", "1"], ["BZMPOP", "1", "2", "bx", "by", "MIN"]);
  assert.deepEqual(host.take(), [
    "send 2 blocking BLMOVE cs cd LEFT RIGHT 1",
    "release",
    "hold",
    "send 1 blocking BZMPOP 1 2 bx by MIN",
    "release",
    "hold",
  ]);
});

Deno.test("XREAD routes by its stream keys and blocks only with BLOCK", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["XREAD", "COUNT", "2", "STREAMS", "cs", "ct", "0", "0"]);
  run(pinned, host, ["XREAD", "BLOCK", "100", "STREAMS", "bs", "0"]);
  run(pinned, host, ["XREAD", "STREAMS", "as", "bs", "0", "0"]);
  const log = host.take();
  assert.equal(log[0], "send 2 client XREAD COUNT 2 STREAMS cs ct 0 0");
  assert.equal(log[3], "send 1 blocking XREAD BLOCK 100 STREAMS bs 0");
  assert.match(log[6], /^answer -ERR every key of XREAD must be on one server/);
});

/** A server's push frame. */
function push(...parts: (string | number)[]): Uint8Array {
  const body = parts.map((p) => typeof p === "number" ? `:${p}\r\n` : `$${p.length}\r\n${p}\r\n`).join("");
  return new TextEncoder().encode(`*${parts.length}\r\n${body}`);
}

Deno.test("SUBSCRIBE over two servers: one confirmation per channel, counted across servers, in order", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["SUBSCRIBE", "ach", "bch"]);
  assert.deepEqual(host.take(), ["raw 0 subscribe ach", "expect 0", "raw 1 subscribe bch", "expect 1"]);
  assert.equal(pinned.active, true);
  pinned.frame(1, push("subscribe", "bch", 1), host);
  pinned.frame(0, push("subscribe", "ach", 1), host);
  pinned.frame(1, push("message", "bch", "hello"), host);
  assert.deepEqual(host.log, [
    "filled 1 *3\r\n$9\r\nsubscribe\r\n$3\r\nbch\r\n:2\r\n",
    "filled 0 *3\r\n$9\r\nsubscribe\r\n$3\r\nach\r\n:1\r\n",
    "answer *3\r\n$7\r\nmessage\r\n$3\r\nbch\r\n$5\r\nhello\r\n",
  ]);
});

Deno.test("while subscribed only pub/sub commands and PING run; others get redis's error", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["SUBSCRIBE", "ach"]);
  host.take();
  run(pinned, host, ["GET", "k"], ["PING"], ["SUBSCRIBE", "ach"]);
  assert.deepEqual(host.take(), [
    "answer -ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are " +
    "allowed in this context\r\n",
    "answer *2\r\n$4\r\npong\r\n$0\r\n\r\n",
    "answer *3\r\n$9\r\nsubscribe\r\n$3\r\nach\r\n:1\r\n",
  ]);
});

Deno.test("PSUBSCRIBE goes to every server and is confirmed once all three confirmed", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["PSUBSCRIBE", "news.*"]);
  assert.deepEqual(host.take(), [
    "raw 0 psubscribe news.*",
    "raw 1 psubscribe news.*",
    "raw 2 psubscribe news.*",
    "expect 0",
  ]);
  pinned.frame(0, push("psubscribe", "news.*", 1), host);
  pinned.frame(2, push("psubscribe", "news.*", 1), host);
  assert.deepEqual(host.log, []);
  pinned.frame(1, push("psubscribe", "news.*", 1), host);
  assert.deepEqual(host.take(), ["filled 0 *3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n"]);
});

Deno.test("UNSUBSCRIBE of everything counts down to 0, then the client's next request waits for it", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["SUBSCRIBE", "ach", "bch"]);
  pinned.frame(0, push("subscribe", "ach", 1), host);
  pinned.frame(1, push("subscribe", "bch", 1), host);
  host.take();
  run(pinned, host, ["UNSUBSCRIBE"]);
  assert.deepEqual(host.take(), [
    "raw 0 unsubscribe ach",
    "expect 2",
    "raw 1 unsubscribe bch",
    "expect 3",
    "release",
    "hold",
  ]);
  assert.equal(pinned.active, true, "confirmations are still to come");
  pinned.frame(0, push("unsubscribe", "ach", 0), host);
  pinned.frame(1, push("unsubscribe", "bch", 0), host);
  assert.deepEqual(host.take(), [
    "filled 2 *3\r\n$11\r\nunsubscribe\r\n$3\r\nach\r\n:1\r\n",
    "filled 3 *3\r\n$11\r\nunsubscribe\r\n$3\r\nbch\r\n:0\r\n",
  ]);
  assert.equal(pinned.active, false);
});

Deno.test("UNSUBSCRIBE with nothing subscribed answers redis's nil confirmation", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["UNSUBSCRIBE"]);
  assert.equal(host.take()[0], "answer *3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
});

Deno.test("a subscribed server lost: pending confirmations fail and the client is closed to resubscribe", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["SUBSCRIBE", "ach"]);
  host.take();
  pinned.lost(0, host);
  assert.deepEqual(host.take(), [
    "failed 0 subscribed server connection lost",
    "close subscribed server connection lost",
  ]);
});

Deno.test("inside MULTI, pub/sub and proxy-answered commands are refused and the transaction fails", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["SUBSCRIBE", "x"], ["EXEC"]);
  const log = host.take();
  assert.match(log[1], /^answer -ERR SUBSCRIBE is not supported inside a transaction/);
  assert.equal(log[2], "answer -EXECABORT Transaction discarded because of previous errors.\r\n");
});

Deno.test("keyless commands before the first key wait, answered QUEUED, and go out with it", () => {
  const host = new Host();
  const pinned = new RedisPinned(none);
  run(pinned, host, ["MULTI"], ["PING"], ["SET", "bx", "1"], ["EXEC"]);
  assert.deepEqual(host.take(), [
    "answer +OK\r\n",
    "answer +QUEUED\r\n",
    "send 1 drop multi",
    "send 1 drop PING",
    "send 1 client SET bx 1",
    "send 1 client EXEC",
    "release",
    "hold",
  ]);
  run(pinned, host, ["MULTI"], ["PING"], ["EXEC"]);
  assert.deepEqual(host.take().slice(2, 5), ["send 0 drop multi", "send 0 drop PING", "send 0 client EXEC"]);
});

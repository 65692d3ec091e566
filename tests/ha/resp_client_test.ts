import assert from "assert";
import { freePort, startRedis } from "../../harness/procs.ts";
import {
  encodeCommand,
  RespConnection,
  RespDecoder,
  RespError,
  RespProtocolError,
  type RespValue,
} from "../../src/ha/resp_client.ts";
import { needs } from "../support/needs.ts";

const encoder = new TextEncoder();

/** Every reply type, nested arrays, nils, an empty bulk, a bulk holding CRLF and UTF-8. */
const STREAM = "+OK\r\n-ERR no such key\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n" +
  "*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n+x\r\n$8\r\nl1\r\nl2\r\n\r\n$3\r\n\u00e9!\r\n";
const EXPECTED: RespValue[] = [
  "OK",
  new RespError("ERR no such key"),
  42,
  -7,
  "hello",
  "",
  null,
  null,
  [],
  ["a", [1, null], "x"],
  "l1\r\nl2\r\n",
  "\u00e9!",
];

Deno.test("the decoder gives the same replies however the bytes are split", () => {
  const bytes = encoder.encode(STREAM);
  assert.deepEqual(new RespDecoder().push(bytes), EXPECTED);
  for (let cut = 0; cut <= bytes.length; cut++) {
    const d = new RespDecoder();
    const got = [...d.push(bytes.slice(0, cut)), ...d.push(bytes.slice(cut))];
    assert.deepEqual(got, EXPECTED, `split at ${cut}`);
  }
  const d = new RespDecoder();
  const oneByOne = [...bytes].flatMap((b) => d.push(new Uint8Array([b])));
  assert.deepEqual(oneByOne, EXPECTED, "one byte at a time");
});

Deno.test("the decoder rejects bytes that are not RESP2", () => {
  for (const bad of ["?x\r\n", ":12a\r\n", "$3\r\nabcd\r\n", "+a\rb\r\n"]) {
    assert.throws(() => new RespDecoder().push(encoder.encode(bad)), RespProtocolError, bad);
  }
});

Deno.test("commands are encoded as arrays of bulk strings, lengths in bytes", () => {
  assert.equal(
    new TextDecoder().decode(encodeCommand(["SET", "k", "\u00e9"])),
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\u00e9\r\n",
  );
});

Deno.test(
  "pipelined commands against redis-server get their own replies, in order",
  needs("redis-server"),
  async () => {
    const redis = await startRedis();
    const c = await RespConnection.open("127.0.0.1", redis.port, 2000);
    try {
      const sets = Array.from({ length: 200 }, (_, i) => c.command("SET", `k${i}`, `v${i}`.repeat(i)));
      const gets = Array.from({ length: 200 }, (_, i) => c.command("GET", `k${i}`));
      assert.deepEqual(await Promise.all(sets), Array(200).fill("OK"));
      assert.deepEqual(await Promise.all(gets), Array.from({ length: 200 }, (_, i) => `v${i}`.repeat(i)));
      const [err, missing, list] = await Promise.all([
        c.command("NOSUCHCOMMAND"),
        c.command("GET", "missing"),
        c.command("MGET", "k1", "missing"),
      ]);
      assert.ok(err instanceof RespError && err.message.startsWith("ERR unknown command"), String(err));
      assert.equal(missing, null);
      assert.deepEqual(list, ["v1", null]);
    } finally {
      c.close();
      await c.closed;
      await redis.stop();
    }
  },
);

Deno.test(
  "pub/sub: confirmations, then messages; the connection still answers PING",
  needs("redis-server"),
  async () => {
    const redis = await startRedis();
    const sub = await RespConnection.open("127.0.0.1", redis.port, 2000);
    const pub = await RespConnection.open("127.0.0.1", redis.port, 2000);
    try {
      const got: string[] = [];
      await sub.subscribe(["a", "b"], (channel, message) => got.push(`${channel}=${message}`));
      assert.equal(await pub.command("PUBLISH", "a", "one two"), 1);
      assert.equal(await pub.command("PUBLISH", "b", "three"), 1);
      assert.equal(await pub.command("PUBLISH", "c", "nobody"), 0);
      assert.deepEqual(await sub.command("PING"), ["pong", ""]);
      assert.deepEqual(got, ["a=one two", "b=three"]);
    } finally {
      sub.close();
      pub.close();
      await Promise.all([sub.closed, pub.closed]);
      await redis.stop();
    }
  },
);

Deno.test("a command with no reply in time closes the connection and rejects everything pending", async () => {
  // A server that accepts and never answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await RespConnection.open("127.0.0.1", (listener.addr as Deno.NetAddr).port, 200);
  const server = await accepted;
  try {
    const started = performance.now();
    const results = await Promise.allSettled([c.command("PING"), c.command("PING")]);
    const waited = performance.now() - started;
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.match(String((r as PromiseRejectedResult).reason), /timed out: no reply within 200 ms/);
    }
    assert.ok(waited >= 190 && waited < 1000, `waited ${waited} ms`);
    await c.closed;
    assert.match(c.closeReason ?? "", /timed out/);
    await assert.rejects(c.command("PING"), /connection timed out/);
  } finally {
    server.close();
    listener.close();
  }
});

Deno.test("the server closing the socket rejects pending commands and settles closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await RespConnection.open("127.0.0.1", (listener.addr as Deno.NetAddr).port, 5000);
  const server = await accepted;
  const pending = c.command("GET", "k");
  await server.read(new Uint8Array(64)); // the request arrived
  server.close();
  await assert.rejects(pending, /closed by peer/);
  await c.closed;
  assert.equal(c.closeReason, "closed by peer");
  listener.close();
});

Deno.test("a reply that is not RESP closes the connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await RespConnection.open("127.0.0.1", (listener.addr as Deno.NetAddr).port, 5000);
  const server = await accepted;
  const pending = c.command("PING");
  await server.write(encoder.encode("HTTP/1.1 400 Bad Request\r\n"));
  await assert.rejects(pending, /protocol error/);
  await c.closed;
  server.close();
  listener.close();
});

Deno.test("close() rejects pending commands; connecting to a closed port rejects", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const c = await RespConnection.open("127.0.0.1", (listener.addr as Deno.NetAddr).port, 5000);
  const server = await accepted;
  const pending = c.command("PING");
  c.close();
  await assert.rejects(pending, /connection closed/);
  await c.closed;
  server.close();
  listener.close();
  await assert.rejects(
    RespConnection.open("127.0.0.1", freePort(), 1000),
    /connect failed: .*refused/,
  );
});

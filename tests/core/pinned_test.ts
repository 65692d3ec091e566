/**
 * Pinned server connections end to end, tsproxy in front of four real redis servers: transactions
 * are applied whole or not at all, subscriptions and blocking commands work across the pool, and the
 * limits and failures of pinned connections (a client leaving, a server dying, pinned_connections).
 */
import assert from "assert";
import { FOUR } from "../../harness/placement.ts";
import { ask, backendKeys, cmd, fourRedis, R, sleep, TAGGED, withLab } from "../../harness/redis_lab.ts";
import { Wire } from "../../harness/wire.ts";
import { needs } from "../support/needs.ts";

const EXECABORT = R.err("EXECABORT Transaction discarded because of previous errors.");

/** Every key held by any backend of the lab's pool. */
async function allKeys(ports: number[]): Promise<string[]> {
  return (await Promise.all(ports.map((p) => backendKeys(p)))).flat().sort();
}

/** Two keys `${prefix}N` on different servers. */
function apart(prefix: string): [string, string] {
  const [a] = FOUR.keysOn(0, prefix);
  const [b] = FOUR.keysOn(1, prefix);
  return [a, b];
}

Deno.test("redis transactions through tsproxy", needs("redis-server"), async (t) => {
  const pools = [
    { name: "tx", directives: TAGGED, backends: fourRedis() },
    { name: "capped", directives: [...TAGGED, "pinned_connections: 1"], backends: fourRedis() },
  ];
  await withLab("tsproxy", pools, async (lab) => {
    const port = lab.port("tx");
    const backends = lab.backendPorts("tx");

    await t.step(
      "a pipelined transaction over two servers is refused whole: nothing is applied",
      async () => {
        const [a, b] = apart("defect");
        const seen = await lab.client("tx").then((w) =>
          ask(w, [cmd("MULTI"), cmd("SET", a, "a"), cmd("INCR", b), cmd("EXEC"), cmd("GET", a)])
        );
        assert.equal(seen.replies[0], R.ok);
        assert.equal(seen.replies[1], R.status("QUEUED"));
        assert.match(seen.replies[2], /^-ERR every key of a transaction must be on one server/);
        assert.equal(seen.replies[3], EXECABORT);
        assert.equal(seen.replies[4], R.nil, "the client goes on, and nothing of the transaction ran");
        assert.deepEqual((await allKeys(backends)).filter((k) => k === a || k === b), []);
      },
    );

    await t.step("a transaction on one server (hash tag) is applied whole", async () => {
      const w = await lab.client("tx");
      const seen = await ask(w, [cmd("MULTI"), cmd("SET", "{t}x", "1"), cmd("INCR", "{t}y"), cmd("EXEC")]);
      assert.deepEqual(seen.replies, [R.ok, R.status("QUEUED"), R.status("QUEUED"), R.arr(R.ok, R.int(1))]);
      const after = await ask(w, [cmd("MGET", "{t}x", "{t}y")]);
      assert.deepEqual(after.replies, [R.bulks("1", "1")]);
    });

    await t.step("requests read before MULTI are answered first, in order", async () => {
      const w = await lab.client("tx");
      const seen = await ask(w, [
        cmd("SET", "before", "1"),
        cmd("MULTI"),
        cmd("GET", "before"),
        cmd("EXEC"),
        cmd("GET", "before"),
      ]);
      assert.deepEqual(seen.replies, [R.ok, R.ok, R.status("QUEUED"), R.arr(R.bulk("1")), R.bulk("1")]);
    });

    await t.step(
      "WATCH: a key changed by another client makes EXEC return nil, nothing applied",
      async () => {
        const w = await lab.client("tx");
        assert.deepEqual((await ask(w, [cmd("WATCH", "{w}k"), cmd("GET", "{w}k")])).replies, [R.ok, R.nil]);
        const other = await lab.client("tx");
        assert.deepEqual((await ask(other, [cmd("SET", "{w}k", "theirs")])).replies, [R.ok]);
        const seen = await ask(w, [
          cmd("MULTI"),
          cmd("SET", "{w}k", "mine"),
          cmd("EXEC"),
          cmd("GET", "{w}k"),
        ]);
        assert.deepEqual(seen.replies, [R.ok, R.status("QUEUED"), "*-1\r\n", R.bulk("theirs")]);
      },
    );

    await t.step("a client that leaves in the middle of a transaction leaves nothing applied", async () => {
      const w = await Wire.connect(port);
      const seen = await ask(w, [cmd("MULTI"), cmd("SET", "{gone}k", "1"), cmd("INCR", "{gone}n")]);
      assert.deepEqual(seen.replies, [R.ok, R.status("QUEUED"), R.status("QUEUED")]);
      w.close();
      await sleep(200);
      assert.deepEqual((await allKeys(backends)).filter((k) => k.startsWith("{gone}")), []);
      const again = await lab.client("tx");
      assert.deepEqual((await ask(again, [cmd("GET", "{gone}k")])).replies, [R.nil]);
    });

    await t.step("a transaction's server dies before EXEC: EXEC discards, the client goes on", async () => {
      const [key] = FOUR.keysOn(3, "{die}");
      const w = await lab.client("tx");
      const seen = await ask(w, [cmd("MULTI"), cmd("SET", key, "1")]);
      assert.deepEqual(seen.replies, [R.ok, R.status("QUEUED")]);
      await lab.stopBackend("s4", "tx");
      await sleep(200);
      const rest = await ask(w, [cmd("INCR", key), cmd("EXEC"), cmd("PING")]);
      assert.match(rest.replies[0], /^-ERR /, "no command is queued after the loss");
      assert.equal(rest.replies[1], EXECABORT);
      assert.equal(rest.replies[2], R.status("PONG"));
    });

    await t.step("pinned_connections caps pinned connections with a clear error", async () => {
      const capped = lab.port("capped");
      const blocked = await Wire.connect(capped);
      await blocked.send(cmd("BLPOP", "{cap}q", "0"));
      await sleep(200);
      const second = await lab.client("capped");
      const refused = await ask(second, [cmd("BLPOP", "{cap}r", "1"), cmd("GET", "{cap}q")]);
      assert.match(refused.replies[0], /^-ERR pinned connection limit reached \(pinned_connections 1\)/);
      assert.equal(refused.replies[1], R.nil, "the refused client goes on with shared connections");
      const pusher = await lab.client("capped");
      assert.deepEqual((await ask(pusher, [cmd("RPUSH", "{cap}q", "v")])).replies, [R.int(1)]);
      const popped = await blocked.replies(
        new (await import("../../src/protocol/redis/reply_parser.ts"))
          .RedisReplyParser(),
        1,
        5000,
      );
      blocked.close();
      assert.equal(popped.replies.length, 1);
      assert.equal(new TextDecoder().decode(popped.replies[0]), R.bulks("{cap}q", "v"));
    });
  });
});

Deno.test("redis blocking commands and pub/sub through tsproxy", needs("redis-server"), async (t) => {
  await withLab(
    "tsproxy",
    [{ name: "p", directives: [...TAGGED, "timeout: 400"], backends: fourRedis() }],
    async (lab) => {
      await t.step("BLPOP waits past the pool timeout and never stalls other clients", async () => {
        const blocker = await lab.client();
        const popped = ask(blocker, [cmd("BLPOP", "{b}q", "5"), cmd("GET", "{b}after")]);
        await sleep(600); // longer than `timeout: 400`: a blocking pop is not timed out
        const other = await lab.client();
        for (let i = 0; i < 20; i++) {
          const seen = await ask(other, [cmd("SET", `{b}k${i}`, "v"), cmd("GET", `{b}k${i}`)]);
          assert.deepEqual(seen.replies, [R.ok, R.bulk("v")]);
        }
        assert.deepEqual((await ask(other, [cmd("RPUSH", "{b}q", "x")])).replies, [R.int(1)]);
        assert.deepEqual((await popped).replies, [R.bulks("{b}q", "x"), R.nil]);
      });

      await t.step("BLPOP over keys on two servers is refused", async () => {
        const [a, b] = apart("bl");
        const seen = await ask(await lab.client(), [cmd("BLPOP", a, b, "1")]);
        assert.match(seen.replies[0], /^-ERR every key of BLPOP must be on one server/);
      });

      await t.step(
        "SUBSCRIBE meets PUBLISH on the channel's server; confirmations count across servers",
        async () => {
          const [c1, c2] = apart("chan");
          const sub = await lab.client();
          const confirmed = await ask(sub, [cmd("SUBSCRIBE", c1, c2)], 2);
          assert.deepEqual(confirmed.replies, [
            R.arr(R.bulk("subscribe"), R.bulk(c1), R.int(1)),
            R.arr(R.bulk("subscribe"), R.bulk(c2), R.int(2)),
          ]);
          const pub = await lab.client();
          assert.deepEqual((await ask(pub, [cmd("PUBLISH", c2, "hello")])).replies, [R.int(1)]);
          const msg = await sub.replies(
            new (await import("../../src/protocol/redis/reply_parser.ts"))
              .RedisReplyParser(),
            1,
            5000,
          );
          assert.equal(new TextDecoder().decode(msg.replies[0]), R.bulks("message", c2, "hello"));
          const refused = await ask(sub, [cmd("GET", "k")]);
          assert.match(refused.replies[0], /^-ERR Can't execute 'get'/);
          const left = await ask(sub, [cmd("UNSUBSCRIBE"), cmd("SET", "after-sub", "1")], 3);
          assert.deepEqual(left.replies, [
            R.arr(R.bulk("unsubscribe"), R.bulk(c1), R.int(1)),
            R.arr(R.bulk("unsubscribe"), R.bulk(c2), R.int(0)),
            R.ok,
          ]);
        },
      );

      await t.step("PSUBSCRIBE hears a publish on whichever server the channel lives", async () => {
        const sub = await lab.client();
        const confirmed = await ask(sub, [cmd("PSUBSCRIBE", "news.*")]);
        assert.deepEqual(confirmed.replies, [R.arr(R.bulk("psubscribe"), R.bulk("news.*"), R.int(1))]);
        const [a, b] = apart("news.");
        const pub = await lab.client();
        await ask(pub, [cmd("PUBLISH", a, "1"), cmd("PUBLISH", b, "2")]);
        const got = await sub.replies(
          new (await import("../../src/protocol/redis/reply_parser.ts"))
            .RedisReplyParser(),
          2,
          5000,
        );
        assert.deepEqual(
          got.replies.map((r) => new TextDecoder().decode(r)).sort(),
          [
            R.bulks("pmessage", "news.*", a, "1"),
            R.bulks("pmessage", "news.*", b, "2"),
          ].sort(),
        );
      });
    },
  );
});

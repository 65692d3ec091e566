/**
 * tsproxy in front of real redis servers: every command family of nutcracker's table, multi-key
 * requests over four servers (merged replies, the fragments stat), hash tags, PING/QUIT answered
 * by the proxy, redis_auth, redis_db, unsupported and malformed requests, deep pipelines and
 * large values.
 */
import assert from "assert";
import { COMMANDS, NUTCRACKER_COMMANDS } from "../../src/protocol/redis/commands.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";
import {
  commandNames,
  familyScripts,
  matches,
  multiKeySteps,
  pipelineSteps,
  prng,
  sha1,
  spreadKeys,
  type Step,
  step,
  tagBeside,
} from "../support/redis_scripts.ts";
import {
  ask,
  askDirect,
  backendKeys,
  bytes,
  cmd,
  fourRedis,
  R,
  type RedisLab,
  TAGGED,
  withClient,
  withLab,
} from "../../harness/redis_lab.ts";
import { FOUR } from "../../harness/placement.ts";
import { show } from "../../harness/bytes.ts";

const PASSWORD = "s3cret pw";

/** Runs steps in one pipeline on a new connection: exact replies, connection left open. */
async function expectSteps(
  port: number,
  steps: readonly Step[],
  label: string,
  send?: (wire: Wire, data: Uint8Array) => Promise<void>,
): Promise<void> {
  await withClient(port, async (wire) => {
    const got = await ask(wire, steps.map((s) => s.request), undefined, { timeoutMs: 20_000, send });
    assertSteps(got.replies, steps, label);
    assert.equal(got.closed, false, `${label}: connection closed`);
  });
}

function assertSteps(replies: readonly string[], steps: readonly Step[], label: string): void {
  steps.forEach((s, i) => {
    assert.ok(
      matches(s, replies[i]),
      `${label}, reply ${i} to ${show(s.args.join(" "))}: want ${show(String(s.expect))}, got ${
        show(replies[i] ?? "<none>")
      }`,
    );
  });
  assert.equal(replies.length, steps.length, `${label}: number of replies`);
}

/** Sum of a metric over the pool's servers. */
async function serverSum(lab: RedisLab, metric: string, pool?: string): Promise<number> {
  const { servers } = await lab.stats(pool);
  return Object.values(servers).reduce((n, s) => n + s[metric], 0);
}

Deno.test("the family scripts send every command of nutcracker's table except QUIT", () => {
  const sent = commandNames(Object.values(familyScripts()).flat());
  const missing = COMMANDS.slice(0, NUTCRACKER_COMMANDS).map((c) => c.name).filter((n) =>
    n !== "quit" && !sent.has(n)
  );
  assert.deepEqual(missing, []);
});

Deno.test(
  "tsproxy in front of four redis servers serves every command family like redis",
  needs("redis-server"),
  async (t) => {
    const pools = [
      { name: "alpha", directives: TAGGED, backends: fourRedis() },
      { name: "multi", directives: [...TAGGED, "server_connections: 3"], backends: fourRedis() },
    ];
    await withLab("tsproxy", pools, async (lab) => {
      const port = lab.port();
      for (const [family, steps] of Object.entries(familyScripts())) {
        await t.step(
          `${family}: every reply is redis's own, byte for byte`,
          () => expectSteps(port, steps, family),
        );
      }

      await t.step("keys sharing a {tag} all live on the server the tag hashes to", async () => {
        const held = await Promise.all(lab.backendPorts().map((p) => backendKeys(p)));
        const tags = [
          "{strings}",
          "{hashes}",
          "{lists}",
          "{sets}",
          "{geo}",
          "{hll}",
          "{bits}",
          "{eval}",
          "{expiry}",
          tagBeside(FOUR, "2", "z"),
        ];
        for (const tag of tags) {
          const where = held.map((keys, i) => keys.some((k) => k.startsWith(tag)) ? i : -1).filter((i) =>
            i >= 0
          );
          assert.deepEqual(where, [FOUR.owner(tag)], `servers holding ${tag} keys`);
        }
        assert.ok(new Set(tags.map((tag) => FOUR.owner(tag))).size > 1, "the tags spread over servers");
      });

      await t.step(
        "SUNION and SUNIONSTORE on keys of several servers go whole to the first key's server",
        async () => {
          const [a, b, c] = [0, 1, 2].map((server) => FOUR.keysOn(server, "fw")[0]);
          await expectSteps(port, [
            step(["SADD", a, "x"], R.int(1)),
            step(["SADD", b, "y"], R.int(1)),
            step(["SUNION", a, b], R.bulks("x")),
            step(["SUNION", b, a], R.bulks("y")),
            step(["SUNIONSTORE", c, a, b], R.int(0)),
          ], "forwarded whole");
          const held = await Promise.all([0, 1, 2].map((i) => backendKeys(lab.backendPort(`s${i + 1}`))));
          assert.deepEqual(held.map((keys) => keys.filter((k) => k.startsWith("fw"))), [[a], [b], []]);
        },
      );

      await t.step("ZUNION is routed by its numkeys argument, not by its keys", async () => {
        const elsewhere = ["{n0}", "{n1}", "{n2}", "{n3}", "{n4}", "{n5}", "{n6}"].find((tag) =>
          FOUR.owner(tag) !== FOUR.owner("2")
        )!;
        await expectSteps(port, [
          step(["ZADD", `${elsewhere}a`, "1", "m"], R.int(1)),
          step(["ZUNION", "2", `${elsewhere}a`, `${elsewhere}b`], R.bulks()),
          step(["ZUNIONSTORE", `${elsewhere}u`, "1", `${elsewhere}a`], R.int(1)),
        ], "zunion");
      });

      await t.step("EVAL and EVALSHA run on the server of their first key", async () => {
        const script = "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[2])";
        for (const s of [0, 1, 2, 3]) {
          const [key, other] = FOUR.keysOn(s, "ev", 2);
          await expectSteps(port, [
            step(["SET", other, `o${s}`], R.ok),
            step(["EVAL", script, "2", key, other, `v${s}`], R.bulk(`o${s}`)),
            step(["EVALSHA", sha1(script), "2", key, other, `w${s}`], R.bulk(`o${s}`)),
          ], `eval on s${s + 1}`);
          assert.deepEqual(await askDirect(lab.backendPort(`s${s + 1}`), [cmd("GET", key)]), [
            R.bulk(`w${s}`),
          ]);
        }
      });

      await t.step(
        "MSET, MGET, EXISTS, TOUCH, UNLINK and DEL over four servers merge like one redis",
        async () => {
          const steps = multiKeySteps("mk");
          await expectSteps(port, steps, "multi-key");
          // Every key went to its own server.
          await expectSteps(
            port,
            [step(["MSET", ...spreadKeys("pl", 3).flatMap((k) => [k, k])], R.ok)],
            "mset",
          );
          for (const [i, p] of lab.backendPorts().entries()) {
            const keys = (await backendKeys(p)).filter((k) => k.startsWith("pl"));
            assert.deepEqual(keys, FOUR.keysOn(i, "pl", 3).sort(), `keys of s${i + 1}`);
          }
        },
      );

      await t.step(
        "the fragments stat counts one fragment per server a multi-key request reaches",
        async () => {
          const fragments = async () => (await lab.stats()).pool.fragments;
          const all = spreadKeys("fr", 1);
          const before = await fragments();
          await expectSteps(port, [step(["MGET", ...all], /^\*4\r\n/)], "mget 4");
          assert.equal(await fragments(), before + 4, "MGET over four servers");
          await expectSteps(port, [step(["DEL", ...FOUR.keysOn(2, "fr", 3)], R.int(0))], "del 1");
          assert.equal(await fragments(), before + 5, "DEL with every key on one server");
          await expectSteps(port, [step(["MGET", all[0]], R.arr(R.nil))], "mget 1");
          assert.equal(await fragments(), before + 5, "a one-key MGET is not split");
        },
      );

      await t.step("COMMAND and LOLWUT go to the server of the key `placeholder`", async () => {
        const requests = async () => Object.values((await lab.stats()).servers).map((m) => m.requests);
        const before = await requests();
        await expectSteps(
          port,
          [step(["COMMAND"], /^\*\d+\r\n/), step(["LOLWUT"], /^\$\d+\r\n/)],
          "placeholder",
        );
        const after = await requests();
        const want = before.map((n, i) => i === FOUR.owner("placeholder") ? n + 2 : n);
        assert.deepEqual(after, want);
      });

      await t.step("PING is answered by the proxy without reaching a server", async () => {
        const before = await serverSum(lab, "requests");
        await expectSteps(port, Array(5).fill(step(["PING"], R.status("PONG"))), "ping");
        assert.equal(await serverSum(lab, "requests"), before);
      });

      await t.step("QUIT: the replies before it are written, then the connection closes", async () => {
        await withClient(port, async (wire) => {
          const got = await ask(
            wire,
            [cmd("SET", "q", "1"), cmd("GET", "q"), cmd("QUIT"), cmd("GET", "q")],
            3,
            {
              settleMs: 300,
            },
          );
          assert.deepEqual(got.replies, [R.ok, R.bulk("1")]);
          assert.equal(got.closed, true);
        });
      });

      await t.step(
        "a pipeline of 1,000 requests in one write is answered in order",
        () => expectSteps(port, pipelineSteps(1000, "pipe:", 7), "pipeline"),
      );

      await t.step("a pipeline of 300 requests sent in 1..40-byte pieces gets the same replies", async () => {
        const rnd = prng(5);
        await expectSteps(
          port,
          pipelineSteps(300, "pieces:", 11),
          "pieces",
          (wire, data) => wire.sendInPieces(data, () => 1 + rnd() * 40),
        );
      });

      await t.step("MGET and DEL of 1,000 keys over four servers, with duplicates", async () => {
        const keys = Array.from({ length: 1000 }, (_, i) => `many:${i}`);
        const named = [...keys, ...keys.slice(0, 100), "many:none"];
        const present = keys.filter((_, i) => i % 3 !== 0);
        await expectSteps(port, [
          step(["MSET", ...present.flatMap((k) => [k, `v${k}`])], R.ok),
          step(["MGET", ...named], R.arr(...named.map((k) => present.includes(k) ? R.bulk(`v${k}`) : R.nil))),
          step(["DEL", ...named], R.int(present.length)),
          step(["EXISTS", ...keys], R.int(0)),
        ], "many keys");
      });

      await t.step(
        "a client that leaves with 500 replies pending does not disturb later clients",
        async () => {
          await expectSteps(port, [step(["SET", "left", "mine"], R.ok)], "set");
          const leaver = await Wire.connect(port);
          await leaver.send(bytes(pipelineSteps(500, "leave:", 3).map((s) => s.request).join("")));
          leaver.close();
          await expectSteps(port, [
            step(["GET", "left"], R.bulk("mine")),
            ...multiKeySteps("after-leave"),
          ], "after the leaver");
        },
      );

      await t.step(
        "a client that half-closes after its requests still gets every reply, then EOF",
        async () => {
          await withClient(port, async (wire) => {
            const steps = multiKeySteps("half");
            await wire.send(bytes(steps.map((s) => s.request).join("")));
            await wire.conn.closeWrite();
            const got = await ask(wire, [], steps.length, { settleMs: 300 });
            assertSteps(got.replies, steps, "half-closed");
            assert.equal(got.closed, true);
          });
        },
      );

      await t.step(
        "20 concurrent clients with 200-request pipelines each get exactly their replies",
        async () => {
          await Promise.all(
            Array.from(
              { length: 20 },
              (_, c) => expectSteps(port, pipelineSteps(200, `cc${c}:`, 100 + c), `client ${c}`),
            ),
          );
        },
      );

      await t.step(
        "with three connections per server, 10 clients' pipelined reads still get their replies in order",
        async () => {
          // Requests of one client are spread over the connections, so only reads have a fixed outcome
          // (nutcracker executes them out of order as well).
          const multi = lab.port("multi");
          const keys = spreadKeys("rd", 10);
          const value = (k: string) => keys.indexOf(k) % 7 === 3 ? null : `value of ${k}`;
          const reply = (k: string) => value(k) === null ? R.nil : R.bulk(value(k)!);
          const stored = keys.filter((k) => value(k) !== null);
          await expectSteps(multi, [step(["MSET", ...stored.flatMap((k) => [k, value(k)!])], R.ok)], "mset");
          await Promise.all(Array.from({ length: 10 }, (_, c) => {
            const rnd = prng(300 + c);
            const pick = () => keys[Math.floor(rnd() * keys.length)];
            const steps = Array.from({ length: 300 }, (_, i) => {
              if (i % 3 !== 0) {
                const k = pick();
                return step(["GET", k], reply(k));
              }
              const ks = [pick(), pick(), pick()];
              return step(["MGET", ...ks], R.arr(...ks.map(reply)));
            });
            return expectSteps(multi, steps, `client ${c}`);
          }));
          const { servers } = await lab.stats("multi");
          assert.deepEqual(Object.values(servers).map((s) => s.server_connections), [3, 3, 3, 3]);
        },
      );

      await t.step("values of 1 MB and 64 MB come back byte-identical", async () => {
        for (const size of [1 << 20, 64 << 20]) await bigValue(port, `big${size}`, size);
      });

      await t.step(
        "unsupported commands get -ERR unsupported command and the connection stays open",
        async () => {
          const refused: [string[], string][] = [
            [["KEYS", "*"], "unsupported command 'KEYS'"],
            [["flushall"], "unsupported command 'flushall'"],
            [["SELECT", "1"], "SELECT 1 is refused: this pool serves db 0 (redis_db)"],
            [[""], "unsupported command ''"],
            [["MOVE", "k", "1"], "unsupported command 'MOVE'"],
            [["EXPIRE", "k", "10", "NX"], "wrong number of arguments for 'expire' command"],
            [["PING", "hello"], "wrong number of arguments for 'ping' command"],
            [["MSET", "a", "1", "b"], "wrong number of arguments for 'mset' command"],
            [["EVAL", "return 1", "0", "k"], "numkeys must be a positive integer for 'eval' command"],
          ];
          const steps: Step[] = [step(["SET", "u", "1"], R.ok)];
          for (const [args, why] of refused) {
            steps.push(step(args, R.err(`ERR ${why}`)));
            steps.push(step(["GET", "u"], R.bulk("1")));
          }
          await expectSteps(port, steps, "unsupported");
        },
      );

      await t.step(
        "a transaction applies whole or not at all; the client goes on after it either way",
        async () => {
          const queued = R.status("QUEUED");
          await expectSteps(port, [
            step(["SET", "{tx}n", "0"], R.ok),
            step(["MULTI"], R.ok),
            step(["INCR", "{tx}n"], queued),
            step(["SET", "{tx}m", "9"], queued),
            step(["EXEC"], R.arr(R.int(1), R.ok)),
            step(["multi"], R.ok),
            step(["INCR", "{tx}n"], queued),
            step(["DISCARD"], R.ok),
            step(["GET", "{tx}n"], R.bulk("1")),
            step(["EXEC"], R.err("ERR EXEC without MULTI")),
          ], "transaction");
        },
      );

      await t.step(
        "a malformed request gets one -ERR after the earlier replies, then close; others unaffected",
        async () => {
          const malformed = [
            "PING\r\n",
            "*0\r\n",
            "*-1\r\n",
            "*2\r\n$3\r\nGET\r\n$-1\r\n",
            "*2\r\n$3\r\nGET\r\n$x\r\n",
            "*2\r\n$3\r\nGET\r\n$1\r\nab\r\n",
            `*2\r\n$3\r\nGET\r\n$16336\r\n${"k".repeat(16336)}\r\n`,
          ];
          await withClient(port, async (other) => {
            await ask(other, cmd("SET", "m", "1"));
            for (const bad of malformed) {
              await withClient(port, async (wire) => {
                const got = await ask(wire, [cmd("GET", "m"), bad], 2, { settleMs: 200 });
                assert.equal(got.replies[0], R.bulk("1"), show(bad));
                assert.match(got.replies[1] ?? "", /^-ERR [^\r\n]+\r\n$/, show(bad));
                assert.equal(got.replies.length, 2, show(bad));
                assert.equal(got.closed, true, `${show(bad)}: closed`);
              });
              assert.deepEqual(
                (await ask(other, cmd("GET", "m"))).replies,
                [R.bulk("1")],
                "the other client",
              );
            }
          });
          await expectSteps(port, [
            step(["SET", "k".repeat(16335), "long"], R.ok),
            step(["GET", "k".repeat(16335)], R.bulk("long")),
          ], "longest key");
        },
      );
    });
  },
);

/**
 * SET then GET of a `size`-byte value through the proxy; the GET reply must carry the same bytes.
 * Read straight off the socket into one buffer (Wire's growing buffer is meant for small replies).
 */
async function bigValue(port: number, key: string, size: number): Promise<void> {
  const value = new Uint8Array(size);
  for (let i = 0; i < size; i++) value[i] = (i * 2654435761) >>> 24;
  const header = `$${size}\r\n`;
  const want = [R.ok, header, "", "\r\n", R.int(1)];
  const expected = new Uint8Array(want.reduce((n, w) => n + w.length, 0) + size);
  let at = 0;
  for (const [i, w] of want.entries()) {
    expected.set(i === 2 ? value : bytes(w), at);
    at += i === 2 ? size : w.length;
  }
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const sending = (async () => {
      for (const part of [bytes(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n${header}`), value]) {
        for (let off = 0; off < part.length;) off += await conn.write(part.subarray(off));
      }
      await conn.write(bytes(`\r\n${cmd("GET", key)}${cmd("DEL", key)}`));
    })();
    const got = new Uint8Array(expected.length);
    let filled = 0;
    const deadline = setTimeout(() => conn.close(), 20_000);
    try {
      while (filled < got.length) {
        const n = await conn.read(got.subarray(filled));
        if (n === null) break;
        filled += n;
      }
    } finally {
      clearTimeout(deadline);
    }
    await sending;
    assert.equal(filled, expected.length, `${size} B: bytes received`);
    let diff = -1;
    for (let i = 0; i < got.length && diff < 0; i++) if (got[i] !== expected[i]) diff = i;
    assert.equal(diff, -1, `${size} B: first differing byte`);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the deadline */ }
  }
}

Deno.test(
  "redis_auth: clients must AUTH with the pool's password; the proxy logs in to its servers",
  needs("redis-server"),
  async (t) => {
    const backends = fourRedis(["--requirepass", PASSWORD]);
    await withLab(
      "tsproxy",
      [{ name: "beta", directives: [...TAGGED, `redis_auth: ${PASSWORD}`], backends }],
      async (lab) => {
        const port = lab.port();
        const NOAUTH = R.err("NOAUTH Authentication required");
        await t.step(
          "before AUTH every command, PING and multi-key ones too, gets -NOAUTH without reaching a server",
          async () => {
            const before = await serverSum(lab, "requests");
            await expectSteps(port, [
              step(["GET", "a"], NOAUTH),
              step(["PING"], NOAUTH),
              step(["MGET", ...spreadKeys("au", 1)], NOAUTH),
              step(["SET", "a", "1"], NOAUTH),
            ], "noauth");
            assert.equal(await serverSum(lab, "requests"), before);
          },
        );

        await t.step("a wrong password gets -ERR invalid password; QUIT still closes", async () => {
          await withClient(port, async (wire) => {
            const got = await ask(
              wire,
              [cmd("AUTH", "nope"), cmd("AUTH", `${PASSWORD}x`), cmd("GET", "a"), cmd("QUIT")],
              3,
              {
                settleMs: 300,
              },
            );
            assert.deepEqual(got.replies, [
              R.err("ERR invalid password"),
              R.err("ERR invalid password"),
              NOAUTH,
            ]);
            assert.equal(got.closed, true);
          });
        });

        await t.step(
          "the right password opens every command, served by servers that require it",
          async () => {
            const keys = spreadKeys("au", 2);
            await expectSteps(port, [
              step(["AUTH", PASSWORD], R.ok),
              step(["PING"], R.status("PONG")),
              step(["MSET", ...keys.flatMap((k) => [k, `v-${k}`])], R.ok),
              step(["MGET", ...keys], R.bulks(...keys.map((k) => `v-${k}`))),
              step(["GET", keys[0]], R.bulk(`v-${keys[0]}`)),
            ], "auth");
            for (const [i, p] of lab.backendPorts().entries()) {
              assert.deepEqual(await backendKeys(p, { password: PASSWORD }), FOUR.keysOn(i, "au", 2).sort());
            }
          },
        );

        await t.step("a wrong password after a right one logs the client out again", async () => {
          await expectSteps(port, [
            step(["AUTH", PASSWORD], R.ok),
            step(["GET", "zz"], R.nil),
            step(["AUTH", "wrong"], R.err("ERR invalid password")),
            step(["GET", "zz"], NOAUTH),
          ], "logout");
        });
      },
    );
  },
);

Deno.test(
  "redis_db: keys set through the proxy land in that database on the server",
  needs("redis-server"),
  async () => {
    await withLab("tsproxy", [{
      name: "gamma",
      directives: [...TAGGED, "redis_db: 3"],
      backends: fourRedis(),
    }], async (lab) => {
      const keys = spreadKeys("db", 2);
      await expectSteps(lab.port(), [
        step(["MSET", ...keys.flatMap((k) => [k, "1"])], R.ok),
        step(["SET", "one", "1"], R.ok),
        step(["MGET", keys[0], "one"], R.bulks("1", "1")),
      ], "db");
      for (const [i, p] of lab.backendPorts().entries()) {
        const want = [...FOUR.keysOn(i, "db", 2), ...(FOUR.owner("one") === i ? ["one"] : [])].sort();
        assert.deepEqual(await backendKeys(p, { db: 3 }), want, `db 3 of s${i + 1}`);
        assert.deepEqual(await backendKeys(p), [], `db 0 of s${i + 1}`);
      }
    });
  },
);

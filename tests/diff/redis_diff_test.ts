/**
 * Differential tests against the real nutcracker 0.5.0 for redis pools. The same scripts go
 * through nutcracker and through tsproxy, each in front of its own identical fresh backends named
 * s1..s4, and the replies must be byte-identical; afterwards each backend pair must hold the same
 * keys. Allowed differences (tsproxy's documented ones): EXISTS with keys on several servers is
 * split and summed; unsupported commands and bad arity get `-ERR ...` and the client stays open
 * (nutcracker closes silently); malformed requests get `-ERR ...` after the earlier replies before
 * the close (nutcracker closes silently and drops them).
 *
 * Also compared: QUIT, half-closed and departing clients, the key length limit, a 1 MB value,
 * redis_auth/redis_db, and the failure catalogue as measured on nutcracker 0.5.0 (refused, timeout,
 * EOF, garbage, relayed errors, -LOADING/-BUSY/-OOM and ejection, retry, slow and failed fragments,
 * partial MGET/DEL/MSET failures, all servers ejected) with the stats each failure moves.
 */
import assert from "assert";
import { needs } from "../support/needs.ts";
import {
  familyScripts,
  matches,
  multiKeySteps,
  pipelineSteps,
  type Step,
  step,
} from "../support/redis_scripts.ts";
import {
  ask,
  type Backend,
  backendKeys,
  bytes,
  cmd,
  elements,
  fourRedis,
  type PoolSpec,
  R,
  RedisLab,
  type Seen,
  sleep,
  TAGGED,
  withClient,
} from "../../harness/redis_lab.ts";
import { Wire } from "../../harness/wire.ts";
import { playRedis, SCENARIOS } from "../../harness/scenarios/redis_failures.ts";
import { show } from "../../harness/bytes.ts";

/** Starts the same pools behind nutcracker and behind tsproxy, runs `fn`, stops both. */
async function withBoth(
  pools: PoolSpec[],
  fn: (nc: RedisLab, ts: RedisLab) => Promise<void>,
): Promise<void> {
  const labs: RedisLab[] = [];
  try {
    labs.push(await RedisLab.start("nutcracker", pools));
    labs.push(await RedisLab.start("tsproxy", pools));
    await fn(labs[0], labs[1]);
  } finally {
    for (const lab of labs) await lab.stop();
  }
}

/** Runs steps pipelined on a new connection of each proxy; the replies. */
async function runOnBoth(nc: RedisLab, ts: RedisLab, steps: readonly Step[], pool?: string): Promise<Seen[]> {
  return await Promise.all(
    [nc, ts].map((lab) =>
      withClient(lab.port(pool), (wire) =>
        ask(
          wire,
          steps.map((s) => s.request),
          undefined,
          { timeoutMs: 20_000 },
        ))
    ),
  );
}

/**
 * Asserts both proxies gave the expected reply to every step (patterns for varying replies) and
 * the same bytes wherever a step expects exact bytes, nutcracker's documented value aside.
 */
function assertSame(
  [nc, ts]: Seen[],
  steps: readonly (Step & { nutcracker?: string })[],
  label: string,
): void {
  assert.equal(nc.replies.length, steps.length, `${label}: nutcracker's number of replies`);
  assert.equal(ts.replies.length, steps.length, `${label}: tsproxy's number of replies`);
  steps.forEach((s, i) => {
    const what = `${label}, reply ${i} to ${show(s.args.join(" "))}`;
    const [a, b] = [nc.replies[i], ts.replies[i]];
    if (s.nutcracker !== undefined) {
      assert.equal(a, s.nutcracker, `${what}: nutcracker's documented reply`);
      assert.ok(matches(s, b), `${what}: tsproxy ${show(b)}`);
    } else if (typeof s.expect === "string") {
      assert.ok(a === b, `${what}: nutcracker ${show(a)}, tsproxy ${show(b)}`);
    } else {
      assert.ok(matches(s, a) && matches(s, b), `${what}: nutcracker ${show(a)}, tsproxy ${show(b)}`);
    }
  });
  assert.deepEqual([nc.closed, ts.closed], [false, false], `${label}: closed (nutcracker, tsproxy)`);
}

/** Asserts each backend pair (nutcracker's sN, tsproxy's sN) holds the same keys. */
async function assertSamePlacement(
  nc: RedisLab,
  ts: RedisLab,
  opts: { pool?: string; password?: string; db?: number } = {},
): Promise<void> {
  const [a, b] = [nc.backendPorts(opts.pool), ts.backendPorts(opts.pool)];
  for (let i = 0; i < a.length; i++) {
    const [ka, kb] = await Promise.all([backendKeys(a[i], opts), backendKeys(b[i], opts)]);
    assert.deepEqual(kb, ka, `keys of backend ${i} (db ${opts.db ?? 0})`);
  }
}

Deno.test(
  "tsproxy answers redis scripts byte for byte like nutcracker 0.5.0 and places keys alike",
  needs("redis-server", "nutcracker"),
  async (t) => {
    await withBoth([{ name: "alpha", directives: TAGGED, backends: fourRedis() }], async (nc, ts) => {
      for (const [family, steps] of Object.entries(familyScripts())) {
        await t.step(`${family}: the same replies from both proxies`, async () => {
          assertSame(await runOnBoth(nc, ts, steps), steps, family);
        });
      }

      await t.step("COMMAND is relayed whole from the placeholder's server by both", async () => {
        const [a, b] = await runOnBoth(nc, ts, [step(["COMMAND"], /^\*/)]);
        // Subcommand lists come in the server's hash order: compare the command names.
        const names = (reply: string) => elements(reply).map((e) => elements(e)[0]).sort();
        assert.deepEqual(names(b.replies[0]), names(a.replies[0]));
        assert.ok(names(a.replies[0]).includes(R.bulk("get")));
      });

      await t.step(
        "multi-key commands over four servers: same merged replies (EXISTS: documented)",
        async () => {
          const steps = multiKeySteps("mk");
          assertSame(await runOnBoth(nc, ts, steps), steps, "multi-key");
        },
      );

      await t.step("a pipeline of 1,000 requests over four servers gets the same replies", async () => {
        const steps = pipelineSteps(1000, "pipe:", 3);
        assertSame(await runOnBoth(nc, ts, steps), steps, "pipeline");
      });

      await t.step("QUIT: both write the earlier replies, then close", async () => {
        const seen = await Promise.all(
          [nc, ts].map((lab) =>
            withClient(
              lab.port(),
              (w) =>
                ask(w, [cmd("SET", "q", "1"), cmd("GET", "q"), cmd("QUIT"), cmd("GET", "q")], 3, {
                  settleMs: 300,
                }),
            )
          ),
        );
        assert.deepEqual(seen[1], seen[0]);
        assert.deepEqual(seen[0], { replies: [R.ok, R.bulk("1")], closed: true });
      });

      await t.step(
        "a client that half-closes after its requests gets every reply, then EOF, from both",
        async () => {
          const steps = multiKeySteps("half");
          const seen = await Promise.all([nc, ts].map((lab) =>
            withClient(lab.port(), async (w) => {
              await w.send(bytes(steps.map((s) => s.request).join("")));
              await w.conn.closeWrite();
              return await ask(w, [], steps.length, { settleMs: 300 });
            })
          ));
          assert.deepEqual(seen.map((s) => s.closed), [true, true], "closed (nutcracker, tsproxy)");
          assertSame(seen.map((s) => ({ ...s, closed: false })), steps, "half-closed");
        },
      );

      await t.step("a client that leaves with replies pending leaves both proxies in step", async () => {
        const writes = pipelineSteps(200, "leave:", 4);
        assertSame(await runOnBoth(nc, ts, writes), writes, "writes");
        // Keys as the writes left them; the leaver only reads (how much of a dying pipeline a proxy
        // still forwards is a matter of timing).
        const keys = [...new Set(writes.flatMap((s) => s.args[0] === "INCR" ? [] : s.args.slice(1)))]
          .filter((k) => k.startsWith("leave:"));
        const [state] = await runOnBoth(nc, ts, [step(["MGET", ...keys], /^\*/)]);
        const reads = Array.from({ length: 500 }, (_, i) => step(["GET", keys[i % keys.length]], /^\$/));
        await Promise.all([nc, ts].map(async (lab) => {
          const w = await Wire.connect(lab.port());
          await w.send(bytes(reads.map((s) => s.request).join("")));
          w.close();
        }));
        await sleep(200);
        const again = [step(["MGET", ...keys], state.replies[0])];
        assertSame(await runOnBoth(nc, ts, again), again, "after the leaver");
      });

      await t.step(
        "keys of 16,335 bytes pass, 16,336 bytes close the client (tsproxy: -ERR first)",
        async () => {
          const ok = [
            step(["SET", "k".repeat(16335), "v"], R.ok),
            step(["MGET", "k".repeat(16335), "x"], /^\*2\r\n/),
          ];
          assertSame(await runOnBoth(nc, ts, ok), ok, "longest key");
          const [a, b] = await Promise.all(
            [nc, ts].map((lab) =>
              withClient(
                lab.port(),
                (w) =>
                  ask(w, [cmd("GET", "k".repeat(16335)), cmd("GET", "k".repeat(16336))], 2, {
                    settleMs: 200,
                  }),
              )
            ),
          );
          assert.deepEqual(a, { replies: [], closed: true });
          assert.equal(b.closed, true);
          assert.equal(b.replies[0], R.bulk("v"));
          assert.match(b.replies[1], /^-ERR [^\r\n]*key too long[^\r\n]*\r\n$/);
        },
      );

      await t.step("a 1 MB value round-trips identically through both", async () => {
        const big = Array.from({ length: 1 << 20 }, (_, i) => String.fromCharCode((i * 7) & 255)).join("");
        const steps = [
          step(["SET", "big", big], R.ok),
          step(["GET", "big"], R.bulk(big)),
          step(["DEL", "big"], R.int(1)),
        ];
        assertSame(await runOnBoth(nc, ts, steps), steps, "1 MB");
      });

      await t.step(
        "unsupported commands and bad arity: nutcracker closes silently, tsproxy -ERR (documented)",
        async () => {
          const refused = [
            ["KEYS", "*"],
            ["SELECT", "1"],
            ["MOVE", "q", "1"],
            ["EXPIRE", "q", "10", "NX"],
            ["EVAL", "return 1", "0", "k"],
            ["PING", "x"],
          ];
          // Reads only around the refused command: nutcracker may or may not have forwarded a write
          // before it closes, which would make the backends differ.
          const set = [step(["SET", "u", "1"], R.ok)];
          assertSame(await runOnBoth(nc, ts, set), set, "set u");
          for (const args of refused) {
            const requests = [cmd("GET", "u"), cmd(...args), cmd("GET", "u")];
            const [a, b] = await Promise.all(
              [nc, ts].map((lab) =>
                withClient(lab.port(), (w) => ask(w, requests, 3, { timeoutMs: 1000, settleMs: 200 }))
              ),
            );
            assert.deepEqual(a, { replies: [], closed: true }, `nutcracker, ${args[0]}`);
            assert.equal(b.replies.length, 3, `tsproxy, ${args[0]}`);
            assert.deepEqual(
              [b.replies[0], b.replies[2], b.closed],
              [R.bulk("1"), R.bulk("1"), false],
              `tsproxy, ${args[0]}`,
            );
            assert.match(
              b.replies[1],
              /^-ERR (unsupported command|wrong number|numkeys|SELECT 1 is refused)[^\r\n]*\r\n$/,
            );
          }
        },
      );

      await t.step(
        "malformed requests: nutcracker closes silently, tsproxy -ERR then close (documented)",
        async () => {
          for (const bad of ["PING\r\n", "*0\r\n", "*2\r\n$3\r\nGET\r\n$-1\r\n", "*1\r\n$4\r\nPINGxx\r\n"]) {
            const [a, b] = await Promise.all(
              [nc, ts].map((lab) =>
                withClient(
                  lab.port(),
                  (w) => ask(w, [cmd("GET", "u"), bad], 2, { timeoutMs: 1000, settleMs: 200 }),
                )
              ),
            );
            assert.deepEqual(a, { replies: [], closed: true }, `nutcracker, ${show(bad)}`);
            assert.equal(b.closed, true, `tsproxy, ${show(bad)}`);
            assert.equal(b.replies[0], R.bulk("1"), `tsproxy, ${show(bad)}`);
            assert.match(b.replies.slice(1).join(""), /^-ERR [^\r\n]+\r\n$/, `tsproxy, ${show(bad)}`);
          }
        },
      );

      await t.step(
        "after all the scripts each backend pair holds the same keys",
        () => assertSamePlacement(nc, ts),
      );
    });
  },
);

Deno.test(
  "redis_auth and redis_db behave like nutcracker 0.5.0, SELECT-before-AUTH quirk included",
  needs("redis-server", "nutcracker"),
  async () => {
    const PW = "pw123";
    const secured = (names: string[]): Backend[] =>
      names.map((name) => ({ name, kind: "redis", args: ["--requirepass", PW] }));
    const pools: PoolSpec[] = [
      { name: "auth", directives: [...TAGGED, `redis_auth: ${PW}`], backends: secured(["s1", "s2"]) },
      { name: "db", directives: [...TAGGED, "redis_db: 3"], backends: fourRedis().slice(0, 2) },
      {
        name: "both",
        directives: [...TAGGED, `redis_auth: ${PW}`, "redis_db: 5"],
        backends: secured(["s1"]),
      },
    ];
    await withBoth(pools, async (nc, ts) => {
      const keys = ["a", "b", "c", "d", "e", "f"];
      const NOAUTH = R.err("NOAUTH Authentication required");
      const authSteps: Step[] = [
        step(["GET", "a"], NOAUTH),
        step(["PING"], NOAUTH),
        step(["MGET", ...keys], NOAUTH),
        step(["AUTH", "wrong"], R.err("ERR invalid password")),
        step(["AUTH", PW], R.ok),
        step(["MSET", ...keys.flatMap((k) => [k, k])], R.ok),
        step(["MGET", ...keys], R.arr(...keys.map(R.bulk))),
        step(["AUTH", `${PW} `], R.err("ERR invalid password")),
        step(["GET", "a"], NOAUTH),
      ];
      assertSame(await runOnBoth(nc, ts, authSteps, "auth"), authSteps, "redis_auth");
      await assertSamePlacement(nc, ts, { pool: "auth", password: PW });

      const dbSteps: Step[] = [
        step(["MSET", ...keys.flatMap((k) => [k, k])], R.ok),
        step(["AUTH", "x"], R.err("ERR Client sent AUTH, but no password is set")),
      ];
      assertSame(await runOnBoth(nc, ts, dbSteps, "db"), dbSteps, "redis_db");
      await assertSamePlacement(nc, ts, { pool: "db", db: 3 });
      for (const lab of [nc, ts]) {
        const held = await Promise.all(lab.backendPorts("db").map((p) => backendKeys(p, { db: 3 })));
        assert.deepEqual(held.flat().sort(), keys, `${lab.kind}: every key in db 3`);
      }

      const bothSteps: Step[] = [
        step(["AUTH", PW], R.ok),
        step(["SET", "k", "v"], R.ok),
        step(["GET", "k"], R.bulk("v")),
      ];
      assertSame(await runOnBoth(nc, ts, bothSteps, "both"), bothSteps, "redis_auth + redis_db");
      for (const lab of [nc, ts]) {
        const port = lab.backendPort("s1", "both");
        assert.deepEqual(
          await backendKeys(port, { password: PW, db: 5 }),
          [],
          `${lab.kind}: db 5 (SELECT failed)`,
        );
        assert.deepEqual(await backendKeys(port, { password: PW }), ["k"], `${lab.kind}: db 0`);
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// The failure catalogue (harness/scenarios/redis_failures.ts)

Deno.test(
  "the redis failure catalogue plays out alike on nutcracker 0.5.0 and tsproxy",
  needs("nutcracker"),
  async (t) => {
    for (const sc of SCENARIOS) {
      await t.step(sc.behaviour, async () => {
        const [nc, ts] = await Promise.all([playRedis("nutcracker", sc), playRedis("tsproxy", sc)]);
        assert.deepEqual(nc.seen, sc.expect, "nutcracker 0.5.0 as measured");
        assert.deepEqual(ts.seen, nc.seen, "tsproxy as nutcracker");
        assert.deepEqual(ts.stats, nc.stats, "tsproxy's failure stats as nutcracker's");
      });
    }
  },
);

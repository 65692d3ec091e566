/**
 * Real redis clients through tsproxy in front of four redis servers: ioredis (plain commands,
 * pipeline(), auto-pipelining, a password for redis_auth), redis-cli and python3-redis (redis-py).
 */
import assert from "assert";
import { Redis } from "ioredis";
import { Buffer } from "node:buffer";
import { hasBinary } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { PYTHON, runProgram } from "../support/programs.ts";
import { spreadKeys } from "../support/redis_scripts.ts";
import { backendKeys, fourRedis, type RedisLab, TAGGED, withLab } from "../../harness/redis_lab.ts";
import { FOUR } from "../../harness/placement.ts";

const PASSWORD = "client-pw";

/** An ioredis client of the pool, with ioredis's INFO ready check (answered by the proxy). */
function ioredis(port: number, opts: Record<string, unknown> = {}): Redis {
  return new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 0, ...opts });
}

/** Runs `fn` with an ioredis client and disconnects it. */
async function withIoredis<T>(
  port: number,
  opts: Record<string, unknown>,
  fn: (r: Redis) => Promise<T>,
): Promise<T> {
  const r = ioredis(port, opts);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

const pools = () => [
  { name: "alpha", directives: TAGGED, backends: fourRedis() },
  {
    name: "beta",
    directives: [...TAGGED, `redis_auth: ${PASSWORD}`],
    backends: [{ name: "s1", kind: "redis" as const, args: ["--requirepass", PASSWORD] }],
  },
];

/** Asserts that each of `keys` is on the backend its placement names, and only there. */
async function assertPlaced(lab: RedisLab, keys: readonly string[]): Promise<void> {
  const held = await Promise.all(lab.backendPorts().map((p) => backendKeys(p)));
  for (const k of keys) {
    const where = held.map((ks, i) => ks.includes(k) ? i : -1).filter((i) => i >= 0);
    assert.deepEqual(where, [FOUR.owner(k)], `servers holding ${k}`);
  }
}

Deno.test(
  "ioredis works through tsproxy: commands, pipelines, auto-pipelining, a password",
  needs("redis-server"),
  async (t) => {
    await withLab("tsproxy", pools(), async (lab) => {
      const port = lab.port("alpha");

      await t.step("plain commands of several families get redis's answers", async () => {
        await withIoredis(port, {}, async (r) => {
          const keys = spreadKeys("io", 2);
          assert.equal(await r.set("io:s", "hello"), "OK");
          assert.equal(await r.get("io:s"), "hello");
          assert.equal(await r.append("io:s", "!"), 6);
          assert.equal(await r.incrby("io:n", 5), 5);
          assert.equal(await r.mset(...keys.flatMap((k) => [k, `v-${k}`])), "OK");
          assert.deepEqual(await r.mget(...keys, "io:none"), [...keys.map((k) => `v-${k}`), null]);
          assert.equal(await r.hset("io:h", { a: "1", b: "2" }), 2);
          assert.deepEqual(await r.hgetall("io:h"), { a: "1", b: "2" });
          assert.equal(await r.rpush("io:l", "x", "y", "z"), 3);
          assert.deepEqual(await r.lrange("io:l", 0, -1), ["x", "y", "z"]);
          assert.equal(await r.sadd("io:set", "m"), 1);
          assert.deepEqual(await r.smembers("io:set"), ["m"]);
          assert.equal(await r.zadd("io:z", 1, "a", 2, "b"), 2);
          assert.deepEqual(await r.zrange("io:z", 0, -1, "WITHSCORES"), ["a", "1", "b", "2"]);
          assert.equal(await r.expire("io:s", 100), 1);
          assert.equal(await r.ttl("io:s"), 100);
          assert.equal(await r.eval("return redis.call('get', KEYS[1])", 1, "io:s"), "hello!");
          const buf = Uint8Array.from({ length: 256 }, (_, i) => i);
          assert.equal(await r.set("io:bin", Buffer.from(buf)), "OK");
          assert.deepEqual(new Uint8Array(await r.getBuffer("io:bin") as Uint8Array), buf);
          assert.equal(await r.exists(...keys), keys.length);
          assert.equal(await r.del(...keys, "io:none"), keys.length);
          assert.equal(await r.ping(), "PONG");
          await assert.rejects(() => r.call("KEYS", "*"), /unsupported command 'KEYS'/);
          assert.equal(await r.get("io:s"), "hello!", "the connection survives an unsupported command");
          await assertPlaced(lab, ["io:s", "io:n", "io:h", "io:l", "io:set", "io:z"]);
        });
      });

      await t.step("pipeline() of 500 commands gets every reply in order, errors in place", async () => {
        await withIoredis(port, {}, async (r) => {
          const p = r.pipeline();
          for (let i = 0; i < 500; i++) {
            if (i % 3 === 2) p.incr("io:p:notnum");
            else if (i % 3 === 0) p.set(`io:p:${i}`, `v${i}`);
            else p.get(`io:p:${i - 1}`);
          }
          await r.set("io:p:notnum", "x");
          const results = await p.exec();
          assert.ok(results !== null);
          results.forEach(([err, value], i) => {
            if (i % 3 === 2) assert.match(String(err), /not an integer/, `reply ${i}`);
            else if (i % 3 === 0) assert.deepEqual([err, value], [null, "OK"], `reply ${i}`);
            else assert.deepEqual([err, value], [null, `v${i - 1}`], `reply ${i}`);
          });
        });
      });

      await t.step("auto-pipelining: 2,000 concurrent commands each get their own reply", async () => {
        await withIoredis(port, { enableAutoPipelining: true }, async (r) => {
          const N = 1000;
          const sets = await Promise.all(Array.from({ length: N }, (_, i) => r.set(`io:a:${i}`, `a${i}`)));
          assert.ok(sets.every((s) => s === "OK"));
          const [gets, mgets] = await Promise.all([
            Promise.all(Array.from({ length: N / 2 }, (_, i) => r.get(`io:a:${i}`))),
            Promise.all(Array.from({ length: N / 2 }, (_, i) => r.mget(`io:a:${i}`, `io:a:${N - 1 - i}`))),
          ]);
          gets.forEach((g, i) => assert.equal(g, `a${i}`));
          mgets.forEach((m, i) => assert.deepEqual(m, [`a${i}`, `a${N - 1 - i}`]));
          assert.ok(r.autoPipelineQueueSize === 0);
        });
      });

      await t.step("with the pool's password ioredis logs in (AUTH answered by the proxy)", async () => {
        const beta = lab.port("beta");
        await withIoredis(beta, { password: PASSWORD }, async (r) => {
          assert.equal(await r.set("io:auth", "1"), "OK");
          assert.equal(await r.get("io:auth"), "1");
        });
        await withIoredis(beta, {}, async (r) => {
          await assert.rejects(() => r.get("io:auth"), /NOAUTH/);
        });
      });
    });
  },
);

Deno.test(
  "redis-cli through tsproxy prints redis's answers",
  needs("redis-server", "redis-cli"),
  async () => {
    await withLab("tsproxy", pools(), async (lab) => {
      const cli = (...args: string[]) =>
        runProgram("redis-cli", ["-h", "127.0.0.1", "-p", String(lab.port("alpha")), ...args]);
      const keys = spreadKeys("cli", 1);
      assert.equal(await cli("SET", "cli:k", "hello world"), "OK\n");
      assert.equal(await cli("GET", "cli:k"), "hello world\n");
      assert.equal(await cli("MSET", ...keys.flatMap((k) => [k, k.toUpperCase()])), "OK\n");
      assert.equal(
        await cli("MGET", ...keys, "cli:none"),
        keys.map((k) => `${k.toUpperCase()}\n`).join("") + "\n",
      );
      assert.equal(await cli("INCRBY", "cli:n", "41"), "41\n");
      assert.equal(await cli("DEL", ...keys, "cli:none"), "4\n");
      assert.equal(await cli("PING"), "PONG\n");
      assert.match(await cli("KEYS", "*"), /^ERR unsupported command 'KEYS'\n+$/);
      assert.equal(await cli("--no-raw", "GET", "cli:none"), "(nil)\n");
      const beta = lab.port("beta");
      const auth = await runProgram("redis-cli", [
        "-h",
        "127.0.0.1",
        "-p",
        String(beta),
        "-a",
        PASSWORD,
        "--no-auth-warning",
        "SET",
        "cli:a",
        "1",
      ]);
      assert.equal(auth, "OK\n");
      await assertPlaced(lab, ["cli:k", "cli:n"]);
    });
  },
);

const PY_SCRIPT = `
import json, sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), password=sys.argv[2] or None, socket_timeout=10)
keys = sys.argv[3:]
out = {}
out["set"] = r.set("py:k", b"\\x00\\xffbinary")
out["get"] = list(r.get("py:k"))
out["mset"] = r.mset({k: "v-" + k for k in keys})
out["mget"] = [v and v.decode() for v in r.mget(keys + ["py:none"])]
p = r.pipeline(transaction=False)
for i in range(300):
    p.incr("py:counter")
p.get("py:k")
p.delete(*keys)
res = p.execute()
out["pipeline"] = [res[0], res[299], list(res[300]), res[301]]
try:
    r.execute_command("FLUSHALL")
except redis.ResponseError as e:
    out["flushall"] = str(e)
out["ping"] = r.ping()
print(json.dumps(out))
`;

Deno.test(
  "python3-redis through tsproxy: set, get, mget, pipeline",
  needs("redis-server", PYTHON),
  async () => {
    const hasModule = hasBinary(PYTHON) &&
      (await new Deno.Command(PYTHON, { args: ["-c", "import redis"], stdout: "null", stderr: "null" })
        .output())
        .success;
    if (!hasModule && Deno.env.get("CI") !== "true") {
      console.error("skipping: python3-redis is not installed (CI=true makes this a failure)");
      return;
    }
    await withLab("tsproxy", pools(), async (lab) => {
      const keys = spreadKeys("py", 1);
      for (const [pool, password] of [["alpha", ""], ["beta", PASSWORD]]) {
        const out = JSON.parse(
          await runProgram(PYTHON, ["-c", PY_SCRIPT, String(lab.port(pool)), password, ...keys]),
        );
        assert.deepEqual(out, {
          set: true,
          get: [0, 255, ...new TextEncoder().encode("binary")],
          mset: true,
          mget: [...keys.map((k) => `v-${k}`), null],
          pipeline: [1, 300, [0, 255, ...new TextEncoder().encode("binary")], keys.length],
          flushall: "unsupported command 'FLUSHALL'",
          ping: true,
        }, pool);
      }
      await assertPlaced(lab, ["py:k", "py:counter"]);
    });
  },
);

/** redis-py's transaction, exactly as an application writes it, on the keys given. */
const PY_TRANSACTION = `
import json, sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
k1, k2 = sys.argv[2], sys.argv[3]
out = {}
p = r.pipeline(transaction=True)
p.set(k1, "a")
p.incr(k2)
try:
    out["result"] = p.execute()
except redis.RedisError as e:
    out["error"] = type(e).__name__ + ": " + str(e)
out["after"] = r.set(k1 + ":after", "b")
print(json.dumps(out))
`;

Deno.test(
  "python3-redis pipeline(transaction=True): all applied on one server, or an error and nothing applied",
  needs("redis-server", PYTHON),
  async (t) => {
    await withLab("tsproxy", pools(), async (lab) => {
      const port = String(lab.port("alpha"));
      const held = async () => (await Promise.all(lab.backendPorts().map((p) => backendKeys(p)))).flat();
      const pairs: [string, string][] = [
        ["tx1", "tx2"],
        [FOUR.keysOn(0, "txa:")[0], FOUR.keysOn(1, "txb:")[0]],
        ["{t}tx1", "{t}tx2"],
      ];
      for (const [k1, k2] of pairs) {
        const same = FOUR.owner(k1) === FOUR.owner(k2);
        const where = same
          ? `both on s${FOUR.owner(k1) + 1}`
          : `on s${FOUR.owner(k1) + 1} and s${FOUR.owner(k2) + 1}`;
        await t.step(
          `${k1}, ${k2} (${where}): ${
            same ? "applied atomically, [True, 1]" : "an error, neither key anywhere"
          }`,
          async () => {
            const out = JSON.parse(await runProgram(PYTHON, ["-c", PY_TRANSACTION, port, k1, k2]));
            const raised = "error" in out;
            const present = (await held()).filter((k) => k === k1 || k === k2);
            // The invariant whatever the placement: raised => nothing applied; not raised => all applied.
            if (raised) {
              assert.match(out.error, /^(ExecAbortError|ResponseError): /);
              assert.deepEqual(present, [], `${k1}, ${k2} after the error ${out.error}`);
            } else {
              assert.deepEqual(out.result, [true, 1]);
              await assertPlaced(lab, [k1, k2]);
            }
            assert.equal(
              raised,
              !same,
              same ? `refused on one server: ${out.error}` : "applied across servers",
            );
            assert.equal(out.after, true, "the connection stays usable after the transaction");
          },
        );
      }
    });
  },
);

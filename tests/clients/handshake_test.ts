/**
 * Real redis clients with their DEFAULT options through tsproxy in front of four redis servers
 * (`hash_tag: "{}"`): the handshakes they send on connect (ioredis's INFO ready check, node-redis's
 * and ioredis's CLIENT SETINFO, redis-cli's COMMAND DOCS), the proxy's answers (INFO, CLIENT
 * SETNAME/GETNAME/ID/SETINFO, HELLO, SELECT, ECHO, TIME, DBSIZE summed, SCAN over the servers),
 * transactions (MULTI/EXEC/DISCARD/WATCH/UNWATCH), pub/sub and blocking commands.
 *
 * Clients: ioredis and node-redis (npm, versions in deno.lock), redis-py (Debian's python3-redis under
 * /usr/bin/python3) and redis-cli.
 *
 * `CLIENTS_TARGET=redis deno test -A tests/clients/handshake_test.ts` runs the same tests against one
 * plain redis-server instead, to check the expectations themselves: there every key is on the one
 * server, so the cross-server cases take their single-server branch, and the proxy-only answers
 * (HELLO 3 refused, SELECT of another db refused, CLIENT SETINFO on redis 7.0) are not asked.
 */
import assert from "assert";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { ask, backendKeys, cmd, fourRedis, R, TAGGED, withClient, withLab } from "../../harness/redis_lab.ts";
import { askDirect } from "../../harness/redis_lab.ts";
import { FOUR } from "../../harness/placement.ts";
import { startRedis } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { PYTHON, runProgram } from "../support/programs.ts";

/** `redis`: one plain redis-server, to validate the tests' expectations. */
const PLAIN = Deno.env.get("CLIENTS_TARGET") === "redis";

/** Where the clients connect: the proxy's port and the servers behind it (one plain redis: itself). */
interface Target {
  port: number;
  backends: number[];
  /** Whether keys are spread over several servers (false: a plain redis). */
  sharded: boolean;
}

/** Runs `fn` with tsproxy in front of four redis servers (or with one plain redis, see PLAIN). */
async function withTarget(fn: (t: Target) => Promise<void>): Promise<void> {
  if (PLAIN) {
    const r = await startRedis();
    try {
      await fn({ port: r.port, backends: [r.port], sharded: false });
    } finally {
      await r.stop();
    }
    return;
  }
  await withLab(
    "tsproxy",
    [{ name: "alpha", directives: TAGGED, backends: fourRedis() }],
    (lab) => fn({ port: lab.port(), backends: lab.backendPorts(), sharded: true }),
  );
}

/** Rejects when `p` has not settled within `ms` (every client wait is bounded). */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Python prelude: `r` a default redis-py client of argv[1], `j` turns replies into JSON-able values. */
const PY_PRELUDE = `
import json, sys, threading, time, redis
PORT = int(sys.argv[1])
def client():
    return redis.Redis(host="127.0.0.1", port=PORT)
r = client()
def j(v):
    if isinstance(v, bytes): return v.decode("latin1")
    if isinstance(v, (list, tuple)): return [j(x) for x in v]
    if isinstance(v, dict): return {j(k): j(x) for k, x in v.items()}
    if isinstance(v, set): return sorted(j(x) for x in v)
    return v
def err(e):
    return type(e).__name__ + ": " + str(e)
out = {}
`;

/** Runs a redis-py script (after PY_PRELUDE) against `port`; its `out` dict, printed as JSON, parsed. */
async function python(port: number, script: string, ...args: string[]): Promise<Record<string, unknown>> {
  const stdout = await runProgram(PYTHON, [
    "-c",
    PY_PRELUDE + script + "\nprint(json.dumps(out))\n",
    String(port),
    ...args,
  ], { timeoutMs: 20_000 });
  return JSON.parse(stdout);
}

/** A default ioredis client (only host and port given), disconnected after `fn`. */
async function withIoredis<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: "127.0.0.1", port });
  r.on("error", () => {/* reported by the commands that fail */});
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

type NodeRedis = ReturnType<typeof createClient>;

/** A default node-redis client (only the URL given), connected, destroyed after `fn`. */
async function withNodeRedis<T>(port: number, fn: (c: NodeRedis) => Promise<T>): Promise<T> {
  const c = createClient({ url: `redis://127.0.0.1:${port}` });
  const errors: unknown[] = [];
  c.on("error", (e) => errors.push(e));
  try {
    await within(10_000, c.connect(), `node-redis connect (errors: ${errors.join("; ")})`);
    return await fn(c);
  } finally {
    c.destroy();
  }
}

/** Values pushed by callbacks, taken in order with a bounded wait. */
class Inbox<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | null = null;

  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  async take(ms = 5000): Promise<T> {
    const deadline = Date.now() + ms;
    while (this.#items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing arrived within ${ms} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#items.shift()!;
  }
}

/** Every key held by the servers, sorted. */
async function heldKeys(t: Target): Promise<string[]> {
  return (await Promise.all(t.backends.map((p) => backendKeys(p)))).flat().sort();
}

/** A field of INFO (`section`) summed over the servers, read from them directly. */
async function infoSum(t: Target, section: string, field: string): Promise<number> {
  let sum = 0;
  for (const p of t.backends) {
    const [reply] = await askDirect(p, [cmd("INFO", section)]);
    const m = reply.match(new RegExp(`^${field}:(\\d+)`, "m"));
    assert.ok(m, `no ${field} in INFO ${section} of ${p}`);
    sum += Number(m[1]);
  }
  return sum;
}

/** DBSIZE summed over the servers, read from them directly. */
async function backendsDbsize(t: Target): Promise<number> {
  let sum = 0;
  for (const p of t.backends) sum += Number((await askDirect(p, [cmd("DBSIZE")]))[0].slice(1, -2));
  return sum;
}

/** Waits (bounded) until `n` clients are blocked on the servers (BLPOP and friends). */
async function waitBlocked(
  t: Target,
  n: number,
  why = `never ${n} blocked clients on the servers`,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await infoSum(t, "clients", "blocked_clients")) !== n) {
    assert.ok(Date.now() < deadline, why);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One key (or channel) `${prefix}<i>` on each of the four servers. */
function onEachServer(prefix: string): string[] {
  return [0, 1, 2, 3].map((s) => FOUR.keysOn(s, prefix)[0]);
}

/** Two keys on different servers of the lab. */
function apart(prefix: string): [string, string] {
  const [a, b] = onEachServer(prefix);
  return [a, b];
}

// ---------------------------------------------------------------------------------------------
// Handshakes and the proxy's own answers

const PY_HANDSHAKE = `
sharded = sys.argv[2] == "1"
keys = sys.argv[3:]
r.mset({k: "v" for k in keys})
r.set("other:1", "x")
out["setname"] = r.client_setname("x")
out["getname"] = j(r.client_getname())
out["client_id"] = r.client_id()
out["echo"] = j(r.echo("hi"))
out["dbsize"] = r.dbsize()
t = r.time()
out["time"] = [type(t[0]).__name__, type(t[1]).__name__, t[0] > 1600000000, 0 <= t[1] < 1000000]
out["scan"] = j(list(r.scan_iter(match="scanme:*")))
out["scan_small_count"] = j(list(r.scan_iter(match="scanme:*", count=3)))
h2 = j(r.execute_command("HELLO", 2))
out["hello2"] = h2[h2.index("proto") + 1] if isinstance(h2, list) and "proto" in h2 else h2
out["select0"] = j(r.execute_command("SELECT", 0))
if sharded:
    try:
        out["hello3"] = j(r.execute_command("HELLO", 3))
    except redis.RedisError as e:
        out["hello3"] = err(e)
    out["setinfo"] = j(r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "redis-py"))
    try:
        out["select1"] = j(r.execute_command("SELECT", 1))
    except redis.RedisError as e:
        out["select1"] = err(e)
info = r.info()
out["info"] = [info.get("redis_version") is not None, info.get("loading")]
out["keyspace_keys"] = r.info("keyspace").get("db0", {}).get("keys")
out["get_after"] = j(r.get("other:1"))
`;

Deno.test(
  "handshake: every client with its default options connects through tsproxy and is served",
  needs("redis-server", "redis-cli", PYTHON),
  async (t) => {
    await withTarget(async (target) => {
      const { port } = target;

      await t.step(
        "ioredis (default options) becomes ready after its INFO check and runs GET/SET",
        async () => {
          await withIoredis(port, async (r) => {
            const ready = new Promise<void>((res) => r.once("ready", () => res()));
            await within(10_000, ready, "ioredis ready");
            assert.equal(r.status, "ready");
            assert.equal(await within(5000, r.set("hs:io", "1"), "SET"), "OK");
            assert.equal(await within(5000, r.get("hs:io"), "GET"), "1");
          });
        },
      );

      await t.step("ioredis info() has redis_version: and loading:0", async () => {
        await withIoredis(port, async (r) => {
          const info = await within(10_000, r.info(), "INFO");
          assert.match(info, /^redis_version:/m);
          assert.match(info, /^loading:0\r?$/m);
        });
      });

      await t.step("node-redis (default options, CLIENT SETINFO on connect) runs GET/SET", async () => {
        await withNodeRedis(port, async (c) => {
          assert.equal(await within(5000, c.set("hs:nr", "2"), "SET"), "OK");
          assert.equal(await within(5000, c.get("hs:nr"), "GET"), "2");
        });
      });

      await t.step(
        "redis-py (default options): CLIENT SETNAME/GETNAME/ID, ECHO, TIME, DBSIZE summed, SCAN of 40 keys over all servers, HELLO, SELECT",
        async () => {
          const scanKeys = [0, 1, 2, 3].flatMap((s) => FOUR.keysOn(s, "scanme:", 10)).sort();
          const out = await python(port, PY_HANDSHAKE, target.sharded ? "1" : "0", ...scanKeys);
          assert.equal(out.setname, true);
          assert.equal(out.getname, "x");
          assert.equal(typeof out.client_id, "number");
          assert.equal(out.echo, "hi");
          const sum = await backendsDbsize(target);
          assert.equal(out.dbsize, sum, "DBSIZE is the servers' sum");
          assert.deepEqual(out.info, [true, 0], "redis-py parses INFO: redis_version, loading:0");
          assert.equal(out.keyspace_keys, sum, "INFO keyspace db0 keys is the servers' sum");
          assert.deepEqual(out.time, ["int", "int", true, true]);
          assert.deepEqual((out.scan as string[]).sort(), scanKeys, "scan_iter: each key once");
          assert.deepEqual(
            (out.scan_small_count as string[]).sort(),
            scanKeys,
            "scan_iter count=3: each key once",
          );
          assert.equal(out.hello2, 2, "HELLO 2 answers a map with proto 2");
          assert.equal(out.select0, true);
          if (target.sharded) {
            assert.match(String(out.hello3), /^ResponseError: NOPROTO/);
            assert.ok(out.setinfo === "OK" || out.setinfo === true, `CLIENT SETINFO: ${out.setinfo}`);
            assert.match(String(out.select1), /Error/, "SELECT of another db than the pool's is refused");
          }
          assert.equal(out.get_after, "x", "the connection still serves commands");
        },
      );

      await t.step("redis-cli interactive (stdin): PING, INFO server, DBSIZE", async () => {
        const out = await runProgram(
          "redis-cli",
          ["-h", "127.0.0.1", "-p", String(port)],
          { input: "PING\nINFO server\nDBSIZE\n", timeoutMs: 20_000 },
        );
        const lines = out.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l !== "");
        assert.equal(lines[0], "PONG");
        assert.ok(lines.includes("# Server"), out);
        assert.ok(lines.some((l) => l.startsWith("redis_version:")), out);
        assert.equal(Number(lines[lines.length - 1]), await backendsDbsize(target), out);
      });

      await t.step(
        "SCAN from ioredis scanStream, node-redis scanIterator, redis-cli --scan: each key once",
        async () => {
          const keys = [0, 1, 2, 3].flatMap((s) => FOUR.keysOn(s, "scan2:", 8)).sort();
          await withIoredis(port, async (r) => {
            assert.equal(await r.mset(...keys.flatMap((k) => [k, "v"])), "OK");
            const seen: string[] = [];
            await within(
              10_000,
              new Promise<void>((res, rej) => {
                const stream = r.scanStream({ match: "scan2:*", count: 5 });
                stream.on("data", (batch: string[]) => seen.push(...batch));
                stream.on("end", () => res());
                stream.on("error", rej);
              }),
              "scanStream",
            );
            assert.deepEqual(seen.sort(), keys, "ioredis scanStream");
          });
          await withNodeRedis(port, async (c) => {
            const seen: string[] = [];
            const it = c.scanIterator({ MATCH: "scan2:*", COUNT: 5 });
            await within(
              10_000,
              (async () => {
                for await (const batch of it) seen.push(...batch);
              })(),
              "scanIterator",
            );
            assert.deepEqual(seen.sort(), keys, "node-redis scanIterator");
          });
          const cli = await runProgram("redis-cli", [
            "-h",
            "127.0.0.1",
            "-p",
            String(port),
            "--scan",
            "--pattern",
            "scan2:*",
          ], { timeoutMs: 20_000 });
          assert.deepEqual(cli.split("\n").filter((l) => l !== "").sort(), keys, "redis-cli --scan");
        },
      );

      await t.step(
        "raw: COMMAND and COMMAND DOCS answer arrays; CLIENT GETNAME is per connection",
        async () => {
          await withClient(port, async (w) => {
            const got = await ask(w, [cmd("COMMAND", "DOCS"), cmd("COMMAND"), cmd("CLIENT", "GETNAME")]);
            assert.equal(got.replies.length, 3);
            assert.ok(got.replies[0].startsWith("*"), `COMMAND DOCS: ${got.replies[0].slice(0, 80)}`);
            assert.ok(got.replies[1].startsWith("*"), `COMMAND: ${got.replies[1].slice(0, 80)}`);
            assert.equal(got.replies[2], R.nil, "a new connection has no name");
          });
        },
      );
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Transactions

const PY_TRANSACTIONS = `
p = r.pipeline(transaction=True)
p.set("{pt}a", "1")
p.incr("{pt}b")
p.get("{pt}a")
out["tagged"] = j(p.execute())
r.set("{w}k", "5")
with r.pipeline() as p:
    p.watch("{w}k")
    v = int(p.get("{w}k"))
    p.multi()
    p.set("{w}k", v + 1)
    out["watched"] = j(p.execute())
out["after_watched"] = j(r.get("{w}k"))
other = client()
with r.pipeline() as p:
    p.watch("{w}k")
    p.get("{w}k")
    other.set("{w}k", "100")
    p.multi()
    p.set("{w}k", "lost")
    try:
        out["conflict"] = j(p.execute())
    except redis.WatchError as e:
        out["conflict"] = "WatchError"
out["after_conflict"] = j(r.get("{w}k"))
def incr(pipe):
    v = int(pipe.get("{w}k"))
    pipe.multi()
    pipe.set("{w}k", v + 1)
out["transaction"] = j(r.transaction(incr, "{w}k"))
out["final"] = j(r.get("{w}k"))
ka, kb = sys.argv[2], sys.argv[3]
with r.pipeline() as p:
    p.watch(ka)
    p.multi()
    p.set(kb, "1")
    try:
        out["watch_apart"] = j(p.execute())
    except redis.RedisError as e:
        out["watch_apart"] = err(e)
out["watch_apart_applied"] = r.exists(kb)
`;

Deno.test(
  "transactions: MULTI/EXEC/DISCARD/WATCH/UNWATCH from real clients",
  needs("redis-server", "redis-cli", PYTHON),
  async (t) => {
    await withTarget(async (target) => {
      const { port } = target;

      await t.step(
        "redis-py pipeline(transaction=True) on hash-tagged keys, WATCH optimistic lock, WatchError",
        async () => {
          const [ka, kb] = apart("wa:");
          const out = await python(port, PY_TRANSACTIONS, ka, kb);
          // WATCH of a key on one server, then a transaction on another: refused and nothing applied
          // (on one plain redis: applied).
          if (target.sharded) {
            assert.match(
              String(out.watch_apart),
              /Error/,
              `WATCH on one server, EXEC on another: ${out.watch_apart}`,
            );
            assert.equal(out.watch_apart_applied, 0);
          } else assert.deepEqual([out.watch_apart, out.watch_apart_applied], [[true], 1]);
          delete out.watch_apart;
          delete out.watch_apart_applied;
          assert.deepEqual(out, {
            tagged: [true, 1, "1"],
            watched: [true],
            after_watched: "6",
            conflict: "WatchError",
            after_conflict: "100",
            transaction: [true],
            final: "101",
          });
        },
      );

      await t.step("ioredis multi().set().incr().exec() on tagged keys gets the results", async () => {
        await withIoredis(port, async (r) => {
          const res = await within(5000, r.multi().set("{io}a", "1").incr("{io}b").exec(), "EXEC");
          assert.deepEqual(res, [[null, "OK"], [null, 1]]);
          assert.equal(await r.get("{io}a"), "1", "the connection serves commands after EXEC");
        });
      });

      await t.step("node-redis multi().set().incr().exec() on tagged keys gets the results", async () => {
        await withNodeRedis(port, async (c) => {
          const res = await within(5000, c.multi().set("{nr}a", "1").incr("{nr}b").exec(), "EXEC");
          assert.deepEqual(res, ["OK", 1]);
          assert.equal(await c.get("{nr}a"), "1");
        });
      });

      await t.step("keys on different servers in one transaction: an error, nothing applied", async () => {
        const [k1, k2] = apart("cross:");
        const [n1, n2] = apart("crossnr:");
        await withIoredis(port, async (r) => {
          let error: unknown = null;
          let result: unknown = null;
          try {
            result = await within(5000, r.multi().set(k1, "1").incr(k2).exec(), "EXEC");
          } catch (e) {
            error = e;
          }
          if (target.sharded) {
            assert.ok(error !== null, `ioredis EXEC across servers answered ${JSON.stringify(result)}`);
          }
          assert.equal(
            await r.set("cross:after", "1"),
            "OK",
            "the connection serves commands after the refusal",
          );
        });
        await withNodeRedis(port, async (c) => {
          let error: unknown = null;
          try {
            await within(5000, c.multi().set(n1, "1").incr(n2).exec(), "EXEC");
          } catch (e) {
            error = e;
          }
          if (target.sharded) assert.ok(error !== null, "node-redis EXEC across servers did not fail");
          assert.equal(await c.set("crossnr:after", "1"), "OK");
        });
        const held = await heldKeys(target);
        const touched = held.filter((k) => [k1, k2, n1, n2].includes(k));
        assert.deepEqual(touched, target.sharded ? [] : [k1, k2, n1, n2].sort());
      });

      await t.step("redis-cli interactive MULTI / SET / INCR / EXEC", async () => {
        const out = await runProgram("redis-cli", ["-p", String(port)], {
          input: "MULTI\nSET {a}x 1\nINCR {a}y\nEXEC\n",
          timeoutMs: 20_000,
        });
        assert.equal(out, "OK\nQUEUED\nQUEUED\nOK\n1\n");
      });

      await t.step("raw: DISCARD drops the queue; UNWATCH forgets the watch; empty EXEC", async () => {
        await withClient(port, async (w) => {
          const got = await ask(w, [
            cmd("MULTI"),
            cmd("SET", "{d}k", "1"),
            cmd("DISCARD"),
            cmd("GET", "{d}k"),
            cmd("WATCH", "{d}w"),
            cmd("UNWATCH"),
          ]);
          assert.deepEqual(got.replies, [R.ok, R.status("QUEUED"), R.ok, R.nil, R.ok, R.ok]);
          await withClient(port, (o) => ask(o, cmd("SET", "{d}w", "changed")));
          const tx = await ask(w, [
            cmd("MULTI"),
            cmd("SET", "{d}w", "mine"),
            cmd("EXEC"),
            cmd("GET", "{d}w"),
          ]);
          assert.deepEqual(tx.replies, [R.ok, R.status("QUEUED"), R.arr(R.ok), R.bulk("mine")]);
          const empty = await ask(w, [cmd("MULTI"), cmd("EXEC"), cmd("SET", "{d}z", "1")]);
          assert.deepEqual(empty.replies, [R.ok, "*0\r\n", R.ok]);
        });
      });

      await t.step(
        "raw: PING queued before the first key does not pick the transaction's server",
        async () => {
          // Keys on every server: whichever server a keyless PING would pick, one of them is elsewhere.
          for (const key of onEachServer("ping:")) {
            await withClient(port, async (w) => {
              const got = await ask(w, [cmd("MULTI"), cmd("PING"), cmd("SET", key, "1"), cmd("EXEC")]);
              const queued = R.status("QUEUED");
              assert.deepEqual(got.replies, [R.ok, queued, queued, R.arr(R.status("PONG"), R.ok)], key);
            });
          }
          await withClient(port, async (w) => {
            const got = await ask(w, [cmd("MULTI"), cmd("PING"), cmd("EXEC")]);
            assert.deepEqual(got.replies, [R.ok, R.status("QUEUED"), R.arr(R.status("PONG"))]);
          });
        },
      );

      await t.step(
        "raw: ECHO inside MULTI is queued and answered, or refused with EXECABORT and nothing applied",
        async () => {
          await withClient(port, async (w) => {
            const got = await ask(w, [cmd("MULTI"), cmd("SET", "{e}k", "1"), cmd("ECHO", "hi"), cmd("EXEC")]);
            const queued = R.status("QUEUED");
            if (got.replies[2] === queued) {
              assert.deepEqual(got.replies, [R.ok, queued, queued, R.arr(R.ok, R.bulk("hi"))]);
            } else {
              assert.match(got.replies[2], /^-ERR /);
              assert.match(got.replies[3], /^-EXECABORT /);
              assert.deepEqual((await heldKeys(target)).filter((k) => k === "{e}k"), []);
            }
          });
        },
      );

      await t.step(
        "raw: a client hanging up mid-transaction or after WATCH leaves nothing to the next",
        async () => {
          for (let i = 0; i < 5; i++) {
            await withClient(port, async (a) => {
              const got = await ask(a, [cmd("WATCH", "{h}w"), cmd("MULTI"), cmd("SET", "{h}left", `${i}`)]);
              assert.deepEqual(got.replies, [R.ok, R.ok, R.status("QUEUED")]);
            });
            await withClient(port, (o) => ask(o, cmd("SET", "{h}w", `changed${i}`)));
            await withClient(port, async (b) => {
              const got = await ask(b, [
                cmd("MULTI"),
                cmd("SET", "{h}w", `b${i}`),
                cmd("EXEC"),
                cmd("GET", "{h}left"),
              ]);
              assert.deepEqual(got.replies, [R.ok, R.status("QUEUED"), R.arr(R.ok), R.nil], `round ${i}`);
            });
          }
        },
      );
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Pub/sub

const PY_PUBSUB = `
p = r.pubsub()
p.subscribe("c")
out["confirm"] = j(p.get_message(timeout=5))
out["published"] = r.publish("c", "hello")
m = None
for _ in range(10):
    m = p.get_message(timeout=5)
    if m is not None: break
out["message"] = j(m)
p.unsubscribe("c")
out["unconfirm"] = j(p.get_message(timeout=5))
p.close()
out["get_after"] = r.set("ps:py", "1")
`;

Deno.test(
  "pub/sub: SUBSCRIBE, PSUBSCRIBE, PUBLISH from real clients",
  needs("redis-server", "redis-cli", PYTHON),
  async (t) => {
    await withTarget(async (target) => {
      const { port } = target;

      await t.step("ioredis subscriber on c gets another client's PUBLISH c, which counts 1", async () => {
        await withIoredis(port, async (sub) => {
          await withIoredis(port, async (pub) => {
            const inbox = new Inbox<[string, string]>();
            sub.on("message", (ch: string, msg: string) => inbox.push([ch, msg]));
            assert.equal(await within(5000, sub.subscribe("c"), "SUBSCRIBE"), 1);
            assert.equal(await within(5000, pub.publish("c", "hello"), "PUBLISH"), 1);
            assert.deepEqual(await inbox.take(), ["c", "hello"]);
            assert.equal(await within(5000, sub.unsubscribe("c"), "UNSUBSCRIBE"), 0);
            assert.equal(await within(5000, sub.set("ps:io", "v"), "SET after UNSUBSCRIBE"), "OK");
            assert.equal(await within(5000, sub.get("ps:io"), "GET after UNSUBSCRIBE"), "v");
          });
        });
      });

      await t.step(
        "ioredis psubscribe news.* gets publishes to news.* channels on every server",
        async () => {
          const channels = ["news.a", "news.b", ...onEachServer("news.")];
          await withIoredis(port, async (sub) => {
            await withIoredis(port, async (pub) => {
              const inbox = new Inbox<[string, string, string]>();
              sub.on("pmessage", (pat: string, ch: string, msg: string) => inbox.push([pat, ch, msg]));
              assert.equal(await within(5000, sub.psubscribe("news.*"), "PSUBSCRIBE"), 1);
              for (const ch of channels) {
                assert.equal(await within(5000, pub.publish(ch, `m-${ch}`), `PUBLISH ${ch}`), 1, ch);
                assert.deepEqual(await inbox.take(), ["news.*", ch, `m-${ch}`]);
              }
              assert.equal(await within(5000, pub.publish("other", "x"), "PUBLISH other"), 0);
              await within(5000, sub.punsubscribe("news.*"), "PUNSUBSCRIBE");
              assert.equal(await within(5000, sub.set("ps:io2", "v"), "SET after PUNSUBSCRIBE"), "OK");
            });
          });
        },
      );

      await t.step(
        "one ioredis connection subscribed to channels on all four servers gets each",
        async () => {
          const channels = onEachServer("chan.");
          await withIoredis(port, async (sub) => {
            await withIoredis(port, async (pub) => {
              const inbox = new Inbox<[string, string]>();
              sub.on("message", (ch: string, msg: string) => inbox.push([ch, msg]));
              assert.equal(await within(5000, sub.subscribe(...channels), "SUBSCRIBE"), 4);
              for (const ch of channels) {
                assert.equal(await within(5000, pub.publish(ch, `m-${ch}`), `PUBLISH ${ch}`), 1, ch);
                assert.deepEqual(await inbox.take(), [ch, `m-${ch}`]);
              }
            });
          });
        },
      );

      await t.step("two ioredis subscribers of c2: PUBLISH c2 counts 2 and both get it", async () => {
        await withIoredis(port, async (s1) => {
          await withIoredis(port, async (s2) => {
            await withIoredis(port, async (pub) => {
              const inbox = new Inbox<string>();
              s1.on("message", (_: string, msg: string) => inbox.push(`s1:${msg}`));
              s2.on("message", (_: string, msg: string) => inbox.push(`s2:${msg}`));
              await within(5000, s1.subscribe("c2"), "SUBSCRIBE s1");
              await within(5000, s2.subscribe("c2"), "SUBSCRIBE s2");
              assert.equal(await within(5000, pub.publish("c2", "x"), "PUBLISH"), 2);
              assert.deepEqual([await inbox.take(), await inbox.take()].sort(), ["s1:x", "s2:x"]);
            });
          });
        });
      });

      await t.step("raw: a subscriber that hangs up is unsubscribed on the servers", async () => {
        const channels = onEachServer("gone.");
        await withClient(port, async (a) => {
          const got = await ask(a, [cmd("SUBSCRIBE", ...channels), cmd("PSUBSCRIBE", "gone.*")], 5);
          assert.equal(got.replies.length, 5);
        });
        await withClient(port, async (o) => {
          const deadline = Date.now() + 5000;
          for (;;) {
            const got = await ask(o, channels.map((ch) => cmd("PUBLISH", ch, "late")));
            if (got.replies.every((r) => r === R.int(0))) break;
            assert.ok(Date.now() < deadline, `still subscribed after the hang-up: ${got.replies.join(" ")}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        });
      });

      await t.step(
        "raw: subscription counts span the servers; UNSUBSCRIBE with no channel leaves them all",
        async () => {
          const chans = onEachServer("ch.");
          await withClient(port, async (w) => {
            const sub = await ask(w, [cmd("SUBSCRIBE", ...chans), cmd("PSUBSCRIBE", "ch.*")], 5);
            assert.deepEqual(sub.replies, [
              ...chans.map((ch, i) => R.arr(R.bulk("subscribe"), R.bulk(ch), R.int(i + 1))),
              R.arr(R.bulk("psubscribe"), R.bulk("ch.*"), R.int(5)),
            ]);
            const one = await ask(w, [cmd("UNSUBSCRIBE", chans[1])], 1);
            assert.deepEqual(one.replies, [R.arr(R.bulk("unsubscribe"), R.bulk(chans[1]), R.int(4))]);
            // One message per channel left, in an order of the server's (or proxy's) choosing.
            const all = await ask(w, [cmd("UNSUBSCRIBE")], 3);
            const left = [chans[0], chans[2], chans[3]];
            assert.deepEqual(
              all.replies.map((r) => r.replace(/:\d+\r\n$/, "")).sort(),
              left.map((ch) => R.bulk("unsubscribe") + R.bulk(ch)).map((b) => `*3\r\n${b}`).sort(),
            );
            assert.deepEqual(all.replies.map((r) => r.match(/:(\d+)\r\n$/)?.[1]), ["3", "2", "1"]);
            const rest = await ask(w, [cmd("PUNSUBSCRIBE"), cmd("UNSUBSCRIBE"), cmd("SET", "ps:cnt", "1")]);
            assert.deepEqual(rest.replies, [
              R.arr(R.bulk("punsubscribe"), R.bulk("ch.*"), R.int(0)),
              R.arr(R.bulk("unsubscribe"), R.nil, R.int(0)),
              R.ok,
            ]);
          });
        },
      );

      await t.step("redis-py pubsub().subscribe then get_message", async () => {
        const out = await python(port, PY_PUBSUB);
        assert.deepEqual(out, {
          confirm: { type: "subscribe", pattern: null, channel: "c", data: 1 },
          published: 1,
          message: { type: "message", pattern: null, channel: "c", data: "hello" },
          unconfirm: { type: "unsubscribe", pattern: null, channel: "c", data: 0 },
          get_after: true,
        });
      });

      await t.step("node-redis duplicate() subscriber gets the client's PUBLISH", async () => {
        await withNodeRedis(port, async (c) => {
          const sub = c.duplicate();
          sub.on("error", () => {/* the waits below fail */});
          try {
            await within(10_000, sub.connect(), "duplicate connect");
            const inbox = new Inbox<[string, string]>();
            await within(
              5000,
              sub.subscribe("c", (msg: string, ch: string) => inbox.push([ch, msg])),
              "SUBSCRIBE",
            );
            assert.equal(await within(5000, c.publish("c", "hi"), "PUBLISH"), 1);
            assert.deepEqual(await inbox.take(), ["c", "hi"]);
            await within(5000, sub.unsubscribe("c"), "UNSUBSCRIBE");
            // node-redis 5 answers this SET with a Buffer on a client that has subscribed (plain redis too).
            assert.equal(String(await within(5000, sub.set("ps:nr", "1"), "SET after UNSUBSCRIBE")), "OK");
          } finally {
            sub.destroy();
          }
        });
      });

      await t.step("redis-cli SUBSCRIBE c prints another client's message", async () => {
        const child = new Deno.Command("redis-cli", {
          args: ["-h", "127.0.0.1", "-p", String(port), "SUBSCRIBE", "c"],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.getReader();
        let text = "";
        const until = async (want: string) => {
          const deadline = Date.now() + 5000;
          while (!text.includes(want)) {
            const left = deadline - Date.now();
            assert.ok(left > 0, `redis-cli never printed ${JSON.stringify(want)}: ${JSON.stringify(text)}`);
            const chunk = await within(left, reader.read(), "redis-cli output").catch(() => null);
            if (chunk === null || chunk.done) continue;
            text += new TextDecoder().decode(chunk.value);
          }
        };
        try {
          await until("subscribe\nc\n1\n");
          await withIoredis(port, async (pub) => {
            assert.equal(await within(5000, pub.publish("c", "from-io"), "PUBLISH"), 1);
          });
          await until("message\nc\nfrom-io\n");
        } finally {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
          await reader.cancel().catch(() => {});
          await child.status;
        }
      });

      await t.step(
        "raw: PING while subscribed, then UNSUBSCRIBE and the connection serves GET/SET",
        async () => {
          await withClient(port, async (w) => {
            const sub = await ask(w, [cmd("SUBSCRIBE", "c"), cmd("PING")]);
            assert.deepEqual(sub.replies, [
              R.arr(R.bulk("subscribe"), R.bulk("c"), R.int(1)),
              R.bulks("pong", ""),
            ]);
            const pub = await withClient(port, (o) => ask(o, cmd("PUBLISH", "c", "raw")));
            assert.deepEqual(pub.replies, [R.int(1)]);
            const msg = await ask(w, [], 1);
            assert.deepEqual(msg.replies, [R.bulks("message", "c", "raw")]);
            const after = await ask(w, [
              cmd("UNSUBSCRIBE", "c"),
              cmd("SET", "ps:raw", "1"),
              cmd("GET", "ps:raw"),
            ]);
            assert.deepEqual(after.replies, [
              R.arr(R.bulk("unsubscribe"), R.bulk("c"), R.int(0)),
              R.ok,
              R.bulk("1"),
            ]);
          });
        },
      );
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Blocking commands

const PY_BLPOP = `
out["pushed"] = j(r.blpop(["q"], timeout=5))
out["empty"] = j(r.blpop(["q-empty"], timeout=1))
out["after"] = r.set("bl:py", "1")
`;

Deno.test(
  "blocking commands: BLPOP/BRPOP from real clients, the other clients still served meanwhile",
  needs("redis-server", PYTHON),
  async (t) => {
    await withTarget(async (target) => {
      const { port } = target;

      await t.step(
        "redis-py blpop returns after another client's RPUSH; on an empty list returns None",
        async () => {
          const py = python(port, PY_BLPOP);
          py.catch(() => {}); // awaited below
          await waitBlocked(target, 1);
          await withIoredis(
            port,
            async (r) => assert.equal(await within(5000, r.rpush("q", "x"), "RPUSH"), 1),
          );
          assert.deepEqual(await py, { pushed: ["q", "x"], empty: null, after: true });
        },
      );

      await t.step(
        "while a BLPOP blocks, 50 GET/SET of another client are answered before it returns",
        async () => {
          const q = "{blk}q";
          const keys = [...FOUR.keysOn(FOUR.owner(q), "same:", 5), ...onEachServer("each:")];
          await withIoredis(port, async (blocker) => {
            await withIoredis(port, async (other) => {
              let returned = false;
              const blpop = within(15_000, blocker.blpop(q, 3), "BLPOP").finally(() => returned = true);
              blpop.catch(() => {}); // awaited below
              await waitBlocked(target, 1);
              for (let i = 0; i < 25; i++) {
                const k = keys[i % keys.length];
                assert.equal(await within(5000, other.set(k, `v${i}`), `SET ${k}`), "OK");
                assert.equal(await within(5000, other.get(k), `GET ${k}`), `v${i}`);
              }
              assert.equal(returned, false, "the 50 GET/SET were all answered before the BLPOP returned");
              assert.equal(await blpop, null);
            });
          });
        },
      );

      await t.step("raw: a BLPOP whose client hung up does not take a later RPUSH", async () => {
        await withClient(port, async (a) => {
          await a.send(cmd("BLPOP", "{gone}q", "0"));
          await waitBlocked(target, 1);
        });
        await waitBlocked(
          target,
          0,
          "the server connection is still blocked in BLPOP after its client hung up",
        );
        await withClient(port, async (o) => {
          const got = await ask(o, [cmd("RPUSH", "{gone}q", "x"), cmd("LLEN", "{gone}q")]);
          assert.deepEqual(got.replies, [R.int(1), R.int(1)]);
        });
      });

      await t.step("raw: commands pipelined behind a BLPOP are answered after it, in order", async () => {
        await withClient(port, async (w) => {
          const got = await ask(w, [
            cmd("SET", "{pl}k", "v"),
            cmd("BLPOP", "{pl}q", "1"),
            cmd("GET", "{pl}k"),
            cmd("BLPOP", "other:q", "1"),
            cmd("GET", "{pl}k"),
          ]);
          assert.deepEqual(got.replies, [R.ok, "*-1\r\n", R.bulk("v"), "*-1\r\n", R.bulk("v")]);
        });
      });

      await t.step("ioredis brpop returns another client's RPUSH", async () => {
        await withIoredis(port, async (blocker) => {
          await withIoredis(port, async (other) => {
            const brpop = within(15_000, blocker.brpop("q2", 5), "BRPOP");
            brpop.catch(() => {});
            await waitBlocked(target, 1);
            assert.equal(await other.rpush("q2", "a", "b"), 2);
            assert.deepEqual(await brpop, ["q2", "b"]);
            assert.equal(await blocker.lpop("q2"), "a", "the blocking connection serves commands after");
          });
        });
      });
    });
  },
);

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
 * redis_auth/redis_db, and the failure catalogue of failure-handling.md (refused, timeout, EOF,
 * garbage, relayed errors, -LOADING/-BUSY/-OOM and ejection, retry, slow and failed fragments,
 * partial MGET/DEL/MSET failures, all servers ejected) with the stats each failure moves.
 */
import assert from "assert";
import type { Fault } from "../../harness/faults.ts";
import { needs } from "../support/procs.ts";
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
  Placement,
  type PoolSpec,
  R,
  RedisLab,
  type Seen,
  show,
  sleep,
  TAGGED,
  withClient,
} from "../support/redis_setup.ts";
import { Wire } from "../support/wire.ts";

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
            assert.match(b.replies[1], /^-ERR (unsupported command|wrong number|numkeys)[^\r\n]*\r\n$/);
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
// The failure catalogue

/** Two-server pools a, b: keys by owner. */
const AB = new Placement(["a", "b"], null);
const [KA, KA2] = AB.keysOn(0, "key", 2);
const [KB] = AB.keysOn(1, "key");

const REFUSED = R.err("ERR Connection refused");
const TIMED_OUT = R.err("ERR Connection timed out");
const INVALID = R.err("ERR Invalid argument");
const EOF = R.err("ERR unknown");
const LOADING = "-LOADING Redis is loading the dataset in memory\r\n";

/** What one step of a scenario saw: the bytes (replies and anything after), and closed. */
type Outcome = [string, boolean];

/** Records a scenario's steps on one proxy. */
class Play {
  readonly seen: Record<string, Outcome> = {};
  constructor(readonly lab: RedisLab) {}

  /** Sends requests on `wire` and records `count` replies, then whatever follows within 150 ms. */
  async ask(label: string, wire: Wire, requests: string[], count = requests.length): Promise<void> {
    const got = await ask(wire, requests, count, { timeoutMs: 3000, settleMs: 150 });
    this.seen[label] = [got.replies.join(""), got.closed];
  }
}

interface Scenario {
  behaviour: string;
  directives?: string[];
  backends: Backend[];
  play(p: Play): Promise<void>;
  /** Every step as nutcracker 0.5.0 gives it (failure-handling.md §2). */
  expect: Record<string, Outcome>;
}

/** Runs `fn`, failing after `ms` if it has not ended by then. */
async function bounded<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** The stats a failure moves: the pool's ejections and error replies, each server's failures and traffic. */
function failureStats(s: Awaited<ReturnType<RedisLab["stats"]>>): Record<string, number> {
  const out: Record<string, number> = {
    server_ejects: s.pool.server_ejects,
    forward_error: s.pool.forward_error,
  };
  for (const [name, m] of Object.entries(s.servers)) {
    for (const k of ["server_eof", "server_err", "server_timedout", "requests", "responses"]) {
      out[`${name}.${k}`] = m[k];
    }
    out[`${name}.ejected`] = m.server_ejected_at > 0 ? 1 : 0;
  }
  return out;
}

const fake = (name: string, fault?: Fault): Backend => ({ name, kind: "fake", fault });

const SCENARIOS: Scenario[] = [
  {
    behaviour: "a refused server: each pipelined request gets -ERR Connection refused, PING still PONG",
    backends: [{ name: "a", kind: "refused" }],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("pipelined", c, [cmd("GET", KA), cmd("SET", KB, "1"), cmd("PING")]);
      await p.ask("again", c, [cmd("GET", KA)]);
    },
    expect: { pipelined: [REFUSED + REFUSED + "+PONG\r\n", false], again: [REFUSED, false] },
  },
  {
    behaviour: "a silent server with timeout 300: both pending requests time out together",
    directives: ["timeout: 300"],
    backends: [fake("a", { mode: "silent" })],
    async play(p) {
      const [c1, c2] = [await p.lab.client(), await p.lab.client()];
      const t0 = Date.now();
      const first = p.ask("first", c1, [cmd("GET", KA)]);
      await sleep(100);
      await p.ask("second", c2, [cmd("GET", KB)]);
      await first;
      const ms = Date.now() - t0;
      assert.ok(ms >= 280 && ms < 1000, `${p.lab.kind}: timed out after ${ms} ms`);
    },
    expect: { first: [TIMED_OUT, false], second: [TIMED_OUT, false] },
  },
  {
    behaviour: "a server that hangs up after reading: -ERR unknown, the client stays",
    backends: [fake("a", { mode: "close" })],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("get", c, [cmd("GET", KA)]);
      p.lab.fake("a").faults.clear();
      await p.ask("next", c, [cmd("SET", KA, "1"), cmd("GET", KA)]);
    },
    expect: { get: [EOF, false], next: [R.ok + R.bulk("1"), false] },
  },
  {
    behaviour: "a server answering garbage: -ERR Invalid argument, the client stays",
    backends: [fake("a", { mode: "garbage" })],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("get", c, [cmd("GET", KA)]);
      p.lab.fake("a").faults.clear();
      await p.ask("next", c, [cmd("GET", KA)]);
    },
    expect: { get: [INVALID, false], next: [R.nil, false] },
  },
  {
    behaviour: "relayed server errors: -ERR custom and -BUSYKEY pass through unchanged",
    backends: [fake("a", { mode: "reply", raw: "-ERR custom\r\n" })],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("custom", c, [cmd("GET", KA)]);
      p.lab.fake("a").faults.set({ mode: "reply", raw: "-BUSYKEY Target key name already exists.\r\n" });
      await p.ask("busykey", c, [cmd("GET", KA)]);
    },
    expect: {
      custom: [R.err("ERR custom"), false],
      busykey: [R.err("BUSYKEY Target key name already exists."), false],
    },
  },
  {
    behaviour: "-LOADING counts as a failure: two -ERR Invalid argument, then ejected, keys move to b",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 30000"],
    backends: [fake("a", { mode: "reply", raw: LOADING, times: Infinity }), fake("b")],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("1st", c, [cmd("GET", KA)]);
      await p.ask("2nd", c, [cmd("SET", KA, "x")]);
      await p.ask("3rd", c, [cmd("SET", KA, "y"), cmd("GET", KA)]);
      assert.equal(p.lab.fake("b").stats.requests, 2, `${p.lab.kind}: b served the moved key`);
    },
    expect: { "1st": [INVALID, false], "2nd": [INVALID, false], "3rd": [R.ok + R.bulk("y"), false] },
  },
  {
    behaviour: "-BUSY and -OOM in a one-server pool: failures, ejected, then Connection refused; PING PONG",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2"],
    backends: [fake("a", { mode: "reply", raw: "-BUSY Redis is busy running a script.\r\n" })],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("busy", c, [cmd("GET", KA)]);
      p.lab.fake("a").faults.set({
        mode: "reply",
        raw: "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
      });
      await p.ask("oom", c, [cmd("SET", KA, "1")]);
      await p.ask("ejected", c, [cmd("GET", KA), cmd("PING")]);
    },
    expect: { busy: [INVALID, false], oom: [INVALID, false], ejected: [REFUSED + "+PONG\r\n", false] },
  },
  {
    behaviour: "a server slower than the timeout: -ERR Connection timed out, then served again once fast",
    directives: ["timeout: 200"],
    backends: [fake("a", { mode: "delay", ms: 500 })],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("slow", c, [cmd("SET", KA, "1")]);
      p.lab.fake("a").faults.clear();
      await sleep(400); // the late reply reaches a connection the proxy has closed
      await p.ask("fast", c, [cmd("GET", KA)]);
    },
    expect: { slow: [TIMED_OUT, false], fast: [R.bulk("1"), false] },
  },
  {
    behaviour: "a slow fragment holds back the replies behind its request, QUIT included; order is kept",
    backends: [fake("a", { mode: "delay", ms: 300 }), fake("b")],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("pipeline", c, [
        cmd("MSET", KA, "1", KB, "2"),
        cmd("MGET", KA, KB),
        cmd("GET", KB),
        cmd("DEL", KB, KA),
        cmd("MGET", KB, KA),
      ]);
      await p.ask("quit behind it", await p.lab.client(), [cmd("MGET", KA, KB), cmd("PING"), cmd("QUIT")], 2);
    },
    expect: {
      pipeline: [
        R.ok + R.arr(R.bulk("1"), R.bulk("2")) + R.bulk("2") + R.int(2) + R.arr(R.nil, R.nil),
        false,
      ],
      "quit behind it": [R.arr(R.nil, R.nil) + "+PONG\r\n", true],
    },
  },
  {
    behaviour: "fragments timing out: MGET gets -ERR Connection timed out and is closed, DEL stays",
    directives: ["timeout: 200"],
    backends: [fake("a", { mode: "silent" }), fake("b")],
    async play(p) {
      await p.ask("del", await p.lab.client(), [cmd("DEL", KA, KB), cmd("GET", KB)]);
      await p.ask("mget", await p.lab.client(), [cmd("MGET", KA, KB)]);
    },
    expect: { del: [TIMED_OUT + R.nil, false], mget: [TIMED_OUT, true] },
  },
  {
    behaviour: "a fragment answered -LOADING: the fragment fails, MGET is closed, DEL stays",
    backends: [fake("a", { mode: "reply", raw: LOADING, times: Infinity }), fake("b")],
    async play(p) {
      await p.ask("del", await p.lab.client(), [cmd("DEL", KA, KB)]);
      await p.ask("mget", await p.lab.client(), [cmd("MGET", KB, KA)]);
    },
    expect: { del: [INVALID, false], mget: [INVALID, true] },
  },
  {
    behaviour: "an ejected server is tried again after server_retry_timeout and serves its keys again",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 1500"],
    backends: [fake("a"), fake("b")],
    async play(p) {
      const a = p.lab.fake("a");
      await a.refuse();
      const c = await p.lab.client();
      await p.ask("refused twice", c, [cmd("SET", KA, "a1")]);
      await p.ask("ejected", c, [cmd("SET", KA, "a2")]);
      await p.ask("moved to b", c, [cmd("SET", KA, "b"), cmd("GET", KA)]);
      await a.restore();
      await sleep(1700);
      await p.ask("back on a", c, [cmd("GET", KA), cmd("SET", KA, "a3"), cmd("GET", KA)]);
      assert.equal(a.stats.requests, 3, `${p.lab.kind}: a served its key again`);
    },
    expect: {
      "refused twice": [REFUSED, false],
      ejected: [REFUSED, false],
      "moved to b": [R.ok + R.bulk("b"), false],
      "back on a": [R.nil + R.ok + R.bulk("a3"), false],
    },
  },
  {
    behaviour: "MGET with a refused fragment: one -ERR, then close; DEL and MSET: one -ERR, the client stays",
    backends: [{ name: "a", kind: "refused" }, fake("b")],
    async play(p) {
      const c1 = await p.lab.client();
      await p.ask("mget", c1, [cmd("MGET", KA, KB, KA2)]);
      const c2 = await p.lab.client();
      await p.ask("set b", c2, [cmd("SET", KB, "old")]);
      await p.ask("del", c2, [cmd("DEL", KB, KA)]);
      await p.ask("mset", c2, [cmd("MSET", KA, "1", KB, "2")]);
      await p.ask("not rolled back", c2, [cmd("GET", KB)]);
    },
    expect: {
      mget: [REFUSED, true],
      "set b": [R.ok, false],
      del: [REFUSED, false],
      mset: [REFUSED, false],
      "not rolled back": [R.bulk("2"), false],
    },
  },
  {
    behaviour:
      "a fragment answered with an error: the whole reply is -ERR Invalid argument, the client stays",
    backends: [fake("a"), fake("b")],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("set", c, [cmd("MSET", KA, "1", KB, "2")]);
      p.lab.fake("a").faults.set({ mode: "reply", raw: "-ERR custom\r\n", times: 3 });
      await p.ask("mget", c, [cmd("MGET", KA, KB)]);
      await p.ask("del", c, [cmd("DEL", KA, KB)]);
      await p.ask("mset", c, [cmd("MSET", KA, "1", KB, "2")]);
      await p.ask("after", c, [cmd("MGET", KA, KB)]);
    },
    expect: {
      set: [R.ok, false],
      mget: [INVALID, false],
      del: [INVALID, false],
      mset: [INVALID, false],
      after: [R.arr(R.bulk("1"), R.bulk("2")), false],
    },
  },
  {
    behaviour: "all servers ejected: every request -ERR Connection refused at once, PING still PONG",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 30000"],
    backends: [{ name: "a", kind: "refused" }, { name: "b", kind: "refused" }],
    async play(p) {
      const c = await p.lab.client();
      await p.ask("a fails", c, [cmd("GET", KA)]);
      await p.ask("b fails", c, [cmd("GET", KA)]);
      const t0 = Date.now();
      await p.ask("none left", c, [
        cmd("GET", KB),
        cmd("DEL", KA, KB),
        cmd("MSET", KA, "1", KB, "2"),
        cmd("PING"),
      ]);
      assert.ok(Date.now() - t0 < 1000, "answered at once");
      await p.ask("mget behind a reply", await p.lab.client(), [cmd("PING"), cmd("MGET", KA, KB)]);
      await p.ask("mget alone", await p.lab.client(), [cmd("MGET", KA, KB)], 0);
    },
    expect: {
      "a fails": [REFUSED, false],
      "b fails": [REFUSED, false],
      "none left": [REFUSED + REFUSED + REFUSED + "+PONG\r\n", false],
      // MGET fails at once and closes the client: nutcracker writes nothing unless a reply is pending before it.
      "mget behind a reply": ["+PONG\r\n" + REFUSED, true],
      "mget alone": ["", true],
    },
  },
];

Deno.test(
  "the redis failure catalogue plays out alike on nutcracker 0.5.0 and tsproxy",
  needs("nutcracker"),
  async (t) => {
    for (const sc of SCENARIOS) {
      await t.step(sc.behaviour, async () => {
        const pools = [{ name: "r", directives: sc.directives, backends: sc.backends }];
        const plays = await Promise.all((["nutcracker", "tsproxy"] as const).map(async (kind) => {
          const lab = await RedisLab.start(kind, pools);
          try {
            const p = new Play(lab);
            // Bounded: a hang becomes a failure, and stopping the proxy then releases what waits on it.
            return await bounded(10_000, `${kind}: ${sc.behaviour}`, async () => {
              await sc.play(p);
              // nutcracker's stats lag by up to its -i 100 ms interval.
              await sleep(kind === "nutcracker" ? 350 : 50);
              return { seen: p.seen, stats: failureStats(await lab.stats()) };
            });
          } finally {
            await lab.stop();
          }
        }));
        assert.deepEqual(plays[0].seen, sc.expect, "nutcracker as failure-handling.md describes it");
        assert.deepEqual(plays[1].seen, plays[0].seen, "tsproxy as nutcracker");
        assert.deepEqual(plays[1].stats, plays[0].stats, "tsproxy's failure stats as nutcracker's");
      });
    }
  },
);

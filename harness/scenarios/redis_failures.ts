/**
 * The redis failure catalogue, as measured on nutcracker 0.5.0, as replayable scenarios: a two-server
 * pool in front of fakes with injected faults or a closed port, a client script, and the exact bytes
 * and open/closed outcome nutcracker 0.5.0 gives the client at every step, with the failure stats
 * each scenario moves.
 *
 * Played behind both proxies side by side by tests/diff/redis_diff_test.ts, and behind either one by
 * `deno task harness`.
 */
import assert from "assert";
import type { Fault } from "../faults.ts";
import { ask, type Backend, cmd, R, RedisLab, sleep } from "../redis_lab.ts";
import { Placement } from "../placement.ts";
import type { Wire } from "../wire.ts";
import { type ProxyKind } from "../procs.ts";

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
export type Outcome = [string, boolean];

/** Records a scenario's steps on one proxy. */
export class Play {
  readonly seen: Record<string, Outcome> = {};
  constructor(readonly lab: RedisLab) {}

  /** Sends requests on `wire` and records `count` replies, then whatever follows within 150 ms. */
  async ask(label: string, wire: Wire, requests: string[], count = requests.length): Promise<void> {
    const got = await ask(wire, requests, count, { timeoutMs: 3000, settleMs: 150 });
    this.seen[label] = [got.replies.join(""), got.closed];
  }
}

export interface Scenario {
  behaviour: string;
  directives?: string[];
  backends: Backend[];
  play(p: Play): Promise<void>;
  /** Every step's outcome as measured on nutcracker 0.5.0. */
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

/** Every redis failure situation, with the outcome measured on nutcracker 0.5.0. */
export const SCENARIOS: Scenario[] = [
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

/** What one play of a scenario gave: each step's outcome, and the failure stats afterwards. */
export interface RedisPlay {
  seen: Record<string, Outcome>;
  stats: Record<string, number>;
}

/** Plays `sc` behind `kind` in a fresh lab; a play still running after 10 s fails. */
export async function playRedis(kind: ProxyKind, sc: Scenario): Promise<RedisPlay> {
  const lab = await RedisLab.start(kind, [{ name: "r", directives: sc.directives, backends: sc.backends }]);
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
}

/**
 * The memcache failure catalogue (spec failure-handling.md §2) as replayable scenarios: a pool in
 * front of backends that fail in a given way (fakes with injected faults, closed ports, missing
 * unix sockets, names that do not resolve, real memcached), a client script, and the exact bytes
 * and open/closed outcome nutcracker 0.5.0 gives the client at every step.
 *
 * The same scenario runs behind tsproxy (tests/core/memcache_failures_test.ts, which also checks
 * the stats) and behind both proxies side by side (tests/diff/memcache_failures_diff_test.ts).
 */
import assert from "assert";
import { latin1 } from "../../harness/bytes.ts";
import type { Fault } from "../../harness/faults.ts";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { Router } from "../../src/routing/router.ts";
import {
  concat,
  freePort,
  type Proc,
  readStats,
  startMemcached,
  startNutcracker,
  startTsproxy,
} from "./procs.ts";
import { Wire } from "./wire.ts";

/** Which proxy a lab runs. */
export type ProxyKind = "nutcracker" | "tsproxy";

/** One backend of a scenario's pool; `name` is the server's explicit name in `servers:`. */
export type ServerSpec =
  /** An in-process fake memcached, optionally started with a fault in force. */
  | { name: string; kind: "fake"; fault?: Fault }
  /** A real memcached. */
  | { name: string; kind: "memcached" }
  /** A loopback port nothing listens on: connects are refused. */
  | { name: string; kind: "refused" }
  /** A unix socket path that does not exist. */
  | { name: string; kind: "unix-missing" }
  /** A host name that cannot resolve (an empty label fails in the resolver, no DNS query is sent). */
  | { name: string; kind: "unresolvable" };

/** What a client saw at one step: the bytes, and whether the proxy closed the connection. */
export type Seen = [reply: string, closed: boolean];

/** A failure situation, its client script and what nutcracker 0.5.0 answers. */
export interface Scenario {
  /** The behaviour, for test names. */
  behaviour: string;
  /** Pool directives besides listen and servers, e.g. `timeout: 300`. */
  directives?: string[];
  servers: ServerSpec[];
  /** Binaries the scenario needs besides the proxies (e.g. memcached). */
  needs?: string[];
  /** Drives the clients, recording each step with `lab.ask` / `lab.watch`. */
  play(lab: Lab): Promise<void>;
  /**
   * Every recorded step, in order: the exact bytes and open/closed tsproxy must give, which are
   * nutcracker 0.5.0's except at the steps listed in `documented`.
   */
  expect: Record<string, Seen>;
  /** Steps where tsproxy differs from nutcracker on purpose (README, "Differences from nutcracker"). */
  documented?: { why: string; nutcracker: Record<string, Seen> };
}

/** Stats of the lab's pool: the 6 pool metrics, and the 13 metrics of each server by name. */
export interface PoolSnapshot {
  pool: Record<string, number>;
  servers: Record<string, Record<string, number>>;
}

const POOL = "mc";
const POOL_METRICS = [
  "client_eof",
  "client_err",
  "client_connections",
  "server_ejects",
  "forward_error",
  "fragments",
];
/** How long a step waits after its replies for more bytes or the proxy's close. */
const SETTLE_MS = 120;
/** Longest wait for a step's replies. */
const REPLY_TIMEOUT_MS = 3000;

/** A pool of one scenario behind one proxy, its backends, and what its clients saw. */
export class Lab {
  /** Step label -> what the client saw, in recording order. */
  readonly seen = new Map<string, Seen>();
  /** Step label -> ms from the step's start until its replies were complete, and the arrival time. */
  readonly timing = new Map<string, { ms: number; at: number }>();
  /** Named stats snapshots taken by `checkpoint` (tsproxy only: nutcracker's stats lag). */
  readonly checkpoints = new Map<string, PoolSnapshot>();
  readonly #fakes = new Map<string, FakeMemcached>();
  readonly #procs: Proc[] = [];
  readonly #wires: Wire[] = [];
  #proxy: (Proc & { statsPort: number }) | null = null;
  readonly #dirs: string[] = [];
  /** client_eof / client_err before the scenario (the readiness probe's connection). */
  #baseline = { client_eof: 0, client_err: 0 };
  port = 0;

  private constructor(readonly kind: ProxyKind) {}

  /** Starts the scenario's backends and the proxy in front of them; waits until the pool is idle. */
  static async start(kind: ProxyKind, scenario: Scenario): Promise<Lab> {
    const lab = new Lab(kind);
    try {
      const servers: string[] = [];
      for (const s of scenario.servers) servers.push(`${await lab.#backend(s)}:1 ${s.name}`);
      lab.port = freePort();
      const yaml = [
        `${POOL}:`,
        `  listen: 127.0.0.1:${lab.port}`,
        ...(scenario.directives ?? []).map((d) => `  ${d}`),
        "  servers:",
        ...servers.map((s) => `   - ${s}`),
        "",
      ].join("\n");
      lab.#proxy = kind === "tsproxy"
        ? await startTsproxy(yaml, [lab.port])
        : await startNutcracker(yaml, [lab.port], ["-i", "100"]);
      await lab.settle();
      if (kind === "tsproxy") {
        const { pool } = await lab.#snapshot();
        lab.#baseline = { client_eof: pool.client_eof, client_err: pool.client_err };
      }
      return lab;
    } catch (err) {
      const stderr = lab.#proxy?.stderr() ?? "";
      await lab.close();
      throw stderr === "" ? err : new Error(`${err}\n${kind} stderr:\n${stderr}`);
    }
  }

  /** The fake behind server `name`. */
  fake(name: string): FakeMemcached {
    const f = this.#fakes.get(name);
    if (f === undefined) throw new Error(`server ${name} is not a fake`);
    return f;
  }

  /** A new client connection to the pool (closed with the lab). */
  async client(): Promise<Wire> {
    const w = await Wire.connect(this.port);
    this.#wires.push(w);
    return w;
  }

  /** Sends `request` and records the next `replies` replies as step `label`. */
  async ask(label: string, w: Wire, request: string, replies = 1): Promise<Seen> {
    const t0 = Date.now();
    try {
      await w.send(request);
    } catch {
      // The proxy already hung up (reset): what follows shows the close.
    }
    return await this.watch(label, w, replies, t0);
  }

  /**
   * Records step `label`: `replies` framed replies (0: none expected), then whatever else arrives
   * until the line is quiet, and whether the proxy closed the connection.
   */
  async watch(label: string, w: Wire, replies: number, t0 = Date.now()): Promise<Seen> {
    if (this.seen.has(label)) throw new Error(`step ${label} recorded twice`);
    const got = replies > 0
      ? await w.replies(new MemcacheReplyParser(), replies, REPLY_TIMEOUT_MS)
      : { replies: [], closed: false };
    const at = Date.now();
    const rest = await w.drain(SETTLE_MS);
    const seen: Seen = [latin1(concat([...got.replies, rest.bytes])), got.closed || rest.closed];
    this.seen.set(label, seen);
    this.timing.set(label, { ms: at - t0, at });
    return seen;
  }

  /** Stores bytes straight into fake `name` (bypassing the proxy), expecting one reply. */
  async seed(name: string, request: string): Promise<void> {
    const w = await Wire.connect(this.fake(name).port);
    try {
      await w.send(request);
      const { replies } = await w.replies(new MemcacheReplyParser(), 1, REPLY_TIMEOUT_MS);
      assert.equal(replies.length, 1, `seeding ${name} got no reply`);
    } finally {
      w.close();
    }
  }

  /** Waits until the pool has no client connection (the readiness probe's close is processed). */
  async settle(): Promise<void> {
    if (this.kind === "nutcracker") return await sleep(150);
    // The stats port may open a moment after the pool port (tsproxy binds it second).
    const deadline = Date.now() + 3000;
    for (;;) {
      const idle = await this.#snapshot().then((s) => s.pool.client_connections === 0, (err) => err);
      if (idle === true) return;
      if (Date.now() > deadline) throw new Error(`the pool never became idle: ${idle}`);
      await sleep(10);
    }
  }

  /** The pool's stats now (tsproxy's are live); client_eof/client_err count from the scenario start. */
  async stats(): Promise<PoolSnapshot> {
    if (this.kind !== "tsproxy") throw new Error("only tsproxy's stats are live");
    const snap = await this.#snapshot();
    snap.pool.client_eof -= this.#baseline.client_eof;
    snap.pool.client_err -= this.#baseline.client_err;
    return snap;
  }

  /** Keeps the stats of this moment under `name` (a no-op behind nutcracker). */
  async checkpoint(name: string): Promise<void> {
    if (this.kind === "tsproxy") this.checkpoints.set(name, await this.stats());
  }

  /** Polls the stats until `ready` holds (tsproxy), or just waits `ms` (nutcracker); bounded. */
  async until(ready: (s: PoolSnapshot) => boolean, ms = 300): Promise<void> {
    if (this.kind === "nutcracker") return await sleep(ms);
    const deadline = Date.now() + 3000;
    while (!ready(await this.stats())) {
      if (Date.now() > deadline) throw new Error("the expected stats never showed");
      await sleep(10);
    }
  }

  /** Closes the clients, the proxy and every backend the lab started. */
  async close(): Promise<void> {
    for (const w of this.#wires) w.close();
    await this.#proxy?.stop();
    await Promise.all([...this.#fakes.values()].map((f) => f.close()));
    await Promise.all(this.#procs.map((p) => p.stop()));
    for (const d of this.#dirs) Deno.removeSync(d, { recursive: true });
  }

  async #snapshot(): Promise<PoolSnapshot> {
    const json = await readStats(this.#proxy!.statsPort);
    const raw = json[POOL] as Record<string, number | Record<string, number>>;
    const snap: PoolSnapshot = { pool: {}, servers: {} };
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === "number") snap.pool[k] = v;
      else snap.servers[k] = v;
    }
    assert.deepEqual(Object.keys(snap.pool), POOL_METRICS);
    return snap;
  }

  /** Starts (or prepares) one backend; returns the address part of its `servers:` entry. */
  async #backend(s: ServerSpec): Promise<string> {
    switch (s.kind) {
      case "fake": {
        // Below the ephemeral range: once refused, a connect to a closed ephemeral port can, rarely, connect to itself.
        const f = await FakeMemcached.start({ host: "127.0.0.1", port: freePort() });
        this.#fakes.set(s.name, f);
        if (s.fault) f.faults.set(s.fault);
        return f.address;
      }
      case "memcached": {
        const m = await startMemcached();
        this.#procs.push(m);
        return `127.0.0.1:${m.port}`;
      }
      case "refused":
        return `127.0.0.1:${freePort()}`;
      case "unix-missing": {
        const dir = Deno.makeTempDirSync({ prefix: "mc-failures-" });
        this.#dirs.push(dir);
        return `${dir}/missing.sock`;
      }
      case "unresolvable":
        return `no..such.invalid:${freePort()}`;
    }
  }
}

/** Runs `scenario` behind `kind`; `check` sees the lab before it is closed. */
export async function playOn(
  kind: ProxyKind,
  scenario: Scenario,
  check: (lab: Lab) => void | Promise<void> = () => {},
): Promise<Lab> {
  const lab = await Lab.start(kind, scenario);
  try {
    await scenario.play(lab);
    await check(lab);
  } finally {
    await lab.close();
  }
  return lab;
}

/** The recorded steps as a plain object (label -> [reply, closed]), for deepEqual. */
export function transcript(lab: Lab): Record<string, Seen> {
  return Object.fromEntries(lab.seen);
}

/** Asserts the metrics named in `want` (pool metrics under `pool`, server metrics by server name). */
export function assertStats(
  snap: PoolSnapshot,
  want: { pool?: Record<string, number>; [server: string]: Record<string, number> | undefined },
): void {
  const pick = (from: Record<string, number> | undefined, keys: Record<string, number>) =>
    Object.fromEntries(Object.keys(keys).map((k) => [k, from?.[k]]));
  for (const [scope, metrics] of Object.entries(want)) {
    if (metrics === undefined) continue;
    const actual = scope === "pool" ? snap.pool : snap.servers[scope];
    assert.deepEqual(pick(actual, metrics), metrics, `stats of ${scope}`);
  }
}

/** The first key `key<i>` that ketama (fnv1a_64) puts on server `name` of a pool of servers a and b. */
function keyOn(name: "a" | "b", skip = 0): string {
  const router = new Router({
    hash: "fnv1a_64",
    distribution: "ketama",
    hashTag: null,
    servers: [{ name: "a", weight: 1 }, { name: "b", weight: 1 }],
  });
  const enc = new TextEncoder();
  for (let i = 0;; i++) {
    const key = `key${i}`;
    const bytes = enc.encode(key);
    if (router.pick(bytes, 0, bytes.length) === (name === "a" ? 0 : 1) && skip-- === 0) return key;
  }
}

/** Keys placed on server a or b of a two-server pool (default hash and distribution). */
export const KEYS = { a: keyOn("a"), b: keyOn("b"), b2: keyOn("b", 1) };

const REFUSED = "SERVER_ERROR Connection refused\r\n";
const TIMED_OUT = "SERVER_ERROR Connection timed out\r\n";
const END = "END\r\n";
const value = (key: string, data: string) => `VALUE ${key} 0 ${data.length}\r\n${data}\r\n${END}`;
const ONE_MB = 1024 * 1024;

/** Every memcache situation of failure-handling.md §2, as nutcracker 0.5.0 handles it. */
export const SCENARIOS = {
  refused: {
    behaviour: "a server whose port is closed: each pipelined request gets SERVER_ERROR Connection refused",
    servers: [{ name: "a", kind: "refused" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after pipelined gets");
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "pipelined gets": [REFUSED + REFUSED, false], "next get": [REFUSED, false] },
  },

  timeout: {
    behaviour: "a server that never answers (timeout 300): both requests on its connection time out at once",
    directives: ["timeout: 300"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "silent" } }],
    async play(lab) {
      const first = await lab.client();
      const second = await lab.client();
      const t0 = Date.now();
      await first.send("get k\r\n");
      await sleep(150);
      const t1 = Date.now();
      await second.send("get j\r\n");
      await Promise.all([lab.watch("first client", first, 1, t0), lab.watch("second client", second, 1, t1)]);
      await lab.checkpoint("after timeout");
      lab.fake("a").faults.clear();
      await lab.ask("first client again", first, "get k\r\n");
    },
    expect: {
      "first client": [TIMED_OUT, false],
      "second client": [TIMED_OUT, false],
      "first client again": [END, false],
    },
  },

  unresolvable: {
    behaviour: "a server host name that does not resolve: SERVER_ERROR Host is down, one failure per request",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "unresolvable" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("pipelined gets", c, get + get + get, 3);
    },
    expect: { "pipelined gets": ["SERVER_ERROR Host is down\r\n".repeat(2) + END, false] },
  },

  unixMissing: {
    behaviour:
      "a unix socket server path that is missing: SERVER_ERROR No such file or directory, one failure per request",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "unix-missing" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("pipelined gets", c, get + get + get, 3);
    },
    expect: { "pipelined gets": ["SERVER_ERROR No such file or directory\r\n".repeat(2) + END, false] },
  },

  closeAfterRead: {
    behaviour: "a server that hangs up after reading: SERVER_ERROR unknown for every pending request",
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after hangup");
      lab.fake("a").faults.clear();
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "pipelined gets": ["SERVER_ERROR unknown\r\n".repeat(2), false], "next get": [END, false] },
  },

  garbage: {
    behaviour: "a server that answers garbage: SERVER_ERROR Invalid argument for every pending request",
    servers: [{ name: "a", kind: "fake", fault: { mode: "garbage" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("pipelined gets", c, "get k\r\nget j\r\n", 2);
      await lab.checkpoint("after garbage");
      lab.fake("a").faults.clear();
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: {
      "pipelined gets": ["SERVER_ERROR Invalid argument\r\n".repeat(2), false],
      "next get": [END, false],
    },
  },

  relayedFake: {
    behaviour: "a server's own SERVER_ERROR, CLIENT_ERROR and ERROR replies are relayed verbatim",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const faults = lab.fake("a").faults;
      faults.set({ mode: "reply", raw: "SERVER_ERROR out of memory storing object\r\n" });
      await lab.ask("server error", c, "set k 0 0 1\r\nv\r\n");
      faults.set({ mode: "reply", raw: "CLIENT_ERROR bad data chunk\r\n" });
      await lab.ask("client error", c, "set k 0 0 1\r\nv\r\n");
      faults.set({ mode: "reply", raw: "ERROR\r\n" });
      await lab.ask("error", c, "get k\r\n");
    },
    expect: {
      "server error": ["SERVER_ERROR out of memory storing object\r\n", false],
      "client error": ["CLIENT_ERROR bad data chunk\r\n", false],
      "error": ["ERROR\r\n", false],
    },
  },

  relayedMemcached: {
    behaviour:
      "real memcached's own errors (object too large, bad delta, non-numeric value) are relayed verbatim",
    servers: [{ name: "a", kind: "memcached" }],
    needs: ["memcached"],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("too large", c, `set big 0 0 ${ONE_MB}\r\n${"x".repeat(ONE_MB)}\r\n`);
      await lab.ask("negative delta", c, "incr n -1\r\n");
      await lab.ask("non-numeric", c, "set t 0 0 1\r\nx\r\nincr t 1\r\n", 2);
    },
    expect: {
      "too large": ["SERVER_ERROR object too large for cache\r\n", false],
      "negative delta": ["CLIENT_ERROR invalid numeric delta argument\r\n", false],
      "non-numeric": ["STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n", false],
    },
  },

  allEjected: {
    behaviour: "every server ejected: SERVER_ERROR Connection refused at once, with no connect attempt",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("ejecting get", c, "get k\r\n");
      await lab.checkpoint("after ejection");
      await lab.ask("while ejected", c, "get k\r\nset x 0 0 1 noreply\r\nv\r\nget j\r\n", 2);
      await lab.checkpoint("while ejected");
      await lab.ask("get and multi-get while ejected", c, "get k\r\nget k j\r\n", 2);
    },
    expect: {
      "ejecting get": ["SERVER_ERROR unknown\r\n", false],
      "while ejected": [REFUSED + REFUSED, false],
      "get and multi-get while ejected": [REFUSED + REFUSED, true],
    },
  },

  allEjectedMultiGet: {
    behaviour:
      "every server ejected, a multi-get with no reply pending before it: the client is closed, nothing sent",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 1", "server_retry_timeout: 10000"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "close" } }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("ejecting get", c, "get k\r\n");
      await lab.ask("multi-get while ejected", c, "get k j\r\nget k\r\n", 2);
    },
    expect: {
      "ejecting get": ["SERVER_ERROR unknown\r\n", false],
      "multi-get while ejected": ["", true],
    },
  },

  ejection: {
    behaviour:
      "after server_failure_limit failures the server is ejected and its key is served by the other server",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 1500"],
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("1st", c, get);
      await lab.ask("2nd", c, get);
      await lab.ask("3rd", c, get);
      await lab.checkpoint("ejected");
      await sleep(1600); // past server_retry_timeout: the dead server is tried again
      await lab.ask("1st after retry", c, get);
      await lab.ask("2nd after retry", c, get);
      await lab.ask("3rd after retry", c, get);
      await lab.checkpoint("ejected again");
    },
    expect: {
      "1st": [REFUSED, false],
      "2nd": [REFUSED, false],
      "3rd": [END, false],
      "1st after retry": [REFUSED, false],
      "2nd after retry": [REFUSED, false],
      "3rd after retry": [END, false],
    },
  },

  comeback: {
    behaviour: "an ejected server that is back gets its keys again once server_retry_timeout has passed",
    directives: ["auto_eject_hosts: true", "server_failure_limit: 2", "server_retry_timeout: 1500"],
    servers: [{ name: "a", kind: "fake" }, { name: "b", kind: "fake" }],
    async play(lab) {
      await lab.seed("a", `set ${KEYS.a} 0 0 1\r\nA\r\n`);
      await lab.seed("b", `set ${KEYS.a} 0 0 1\r\nB\r\n`);
      await lab.fake("a").refuse();
      const c = await lab.client();
      const get = `get ${KEYS.a}\r\n`;
      await lab.ask("1st", c, get);
      await lab.ask("2nd", c, get);
      await lab.ask("while ejected", c, get);
      await lab.fake("a").restore();
      await lab.ask("before retry time", c, get);
      await sleep(1600);
      await lab.ask("after retry time", c, get);
    },
    expect: {
      "1st": [REFUSED, false],
      "2nd": [REFUSED, false],
      "while ejected": [value(KEYS.a, "B"), false],
      "before retry time": [value(KEYS.a, "B"), false],
      "after retry time": [value(KEYS.a, "A"), false],
    },
  },

  fragmentFailed: {
    behaviour:
      "a multi-get with one fragment refused: one SERVER_ERROR for the whole get, then the client is closed",
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`);
    },
    expect: { "multi-get": [REFUSED, true] },
  },

  fragmentTimedOut: {
    behaviour:
      "a multi-get with one fragment timed out: one SERVER_ERROR for the whole get, then the client is closed",
    directives: ["timeout: 300"],
    servers: [{ name: "a", kind: "fake", fault: { mode: "silent" } }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`);
    },
    expect: { "multi-get": [TIMED_OUT, true] },
  },

  fragmentFailedPipelined: {
    behaviour:
      "a get failing with a refused multi-get before it still gets its own error, then the client is closed",
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("multi-get then get", c, `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\nget ${KEYS.a}\r\n`, 2);
    },
    expect: { "multi-get then get": [REFUSED + REFUSED, true] },
  },

  fragmentErrorReply: {
    behaviour:
      "a multi-get with a fragment answered by a server error: SERVER_ERROR Invalid argument, client stays open",
    servers: [
      { name: "a", kind: "fake", fault: { mode: "reply", raw: "SERVER_ERROR out of memory\r\n" } },
      { name: "b", kind: "fake" },
    ],
    async play(lab) {
      const c = await lab.client();
      const get = `get ${KEYS.b} ${KEYS.a} ${KEYS.b2}\r\n`;
      await lab.ask("multi-get", c, get);
      await lab.ask("multi-get again", c, get);
    },
    expect: { "multi-get": ["SERVER_ERROR Invalid argument\r\n", false], "multi-get again": [END, false] },
  },

  malformed: {
    behaviour: "an unsupported command or a key too long closes the client at once",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("unknown command", c, "get k\r\nGET k\r\n", 2);
      const d = await lab.client();
      await lab.ask("key too long", d, `get k\r\nget ${"x".repeat(251)}\r\n`, 2);
    },
    expect: {
      "unknown command": ["END\r\nCLIENT_ERROR unknown command 'GET'\r\n", true],
      "key too long": ["END\r\nCLIENT_ERROR key too long\r\n", true],
    },
    documented: {
      why:
        "README: a malformed request gets one CLIENT_ERROR line after the earlier replies (nutcracker closes silently)",
      nutcracker: { "unknown command": ["", true], "key too long": ["", true] },
    },
  },

  noreplyDead: {
    behaviour: "a noreply request to a dead server: nothing is sent back and the client stays open",
    servers: [{ name: "a", kind: "refused" }],
    async play(lab) {
      const c = await lab.client();
      await lab.ask("noreply set", c, "set k 0 0 1 noreply\r\nv\r\n", 0);
      await lab.checkpoint("after noreply");
      await lab.ask("next get", c, "get k\r\n");
    },
    expect: { "noreply set": ["", false], "next get": [REFUSED, false] },
  },

  preconnect: {
    behaviour:
      "a preconnect failure counts as a server failure: with limit 1 the key is served elsewhere at once",
    directives: [
      "preconnect: true",
      "auto_eject_hosts: true",
      "server_failure_limit: 1",
      "server_retry_timeout: 10000",
    ],
    servers: [{ name: "a", kind: "refused" }, { name: "b", kind: "fake" }],
    async play(lab) {
      await lab.until((s) => s.pool.server_ejects === 1);
      await lab.checkpoint("after startup");
      const c = await lab.client();
      await lab.ask("first get", c, `get ${KEYS.a}\r\n`);
    },
    expect: { "first get": [END, false] },
  },

  clientLimit: {
    behaviour: "client_connections 1: a second client is closed at once, the first one is served",
    directives: ["client_connections: 1"],
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const first = await lab.client();
      await lab.ask("first client", first, "get k\r\n");
      const second = await lab.client();
      await lab.ask("second client", second, "get k\r\n");
      await lab.checkpoint("two clients tried");
      await lab.ask("first client again", first, "get k\r\n");
    },
    expect: {
      "first client": [END, false],
      "second client": ["", true],
      "first client again": [END, false],
    },
    documented: {
      why: "README: client_connections is enforced (nutcracker 0.5.0 parses it and ignores it)",
      nutcracker: { "second client": [END, false] },
    },
  },

  disconnectedClient: {
    behaviour:
      "replies of a client that left are dropped; another client on the same server connection is unaffected",
    servers: [{ name: "a", kind: "fake" }],
    async play(lab) {
      const stayer = await lab.client();
      await lab.ask("store", stayer, "set k 0 0 1\r\nv\r\n");
      lab.fake("a").faults.set({ mode: "delay", ms: 300 });
      const leaver = await lab.client();
      await leaver.send("get k\r\nget k\r\n");
      await sleep(50);
      leaver.close();
      await sleep(50);
      await lab.ask("other client", stayer, "get nokey\r\nget k\r\n", 2);
    },
    expect: { "store": ["STORED\r\n", false], "other client": [END + value("k", "v"), false] },
  },
} satisfies Record<string, Scenario>;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

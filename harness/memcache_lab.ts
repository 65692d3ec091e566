/**
 * A memcache pool of one scenario behind one proxy (tsproxy or nutcracker), in front of backends that
 * fail in a given way (fakes with injected faults, closed ports, missing unix sockets, names that do
 * not resolve, real memcached); what its clients saw at every step, and its stats.
 */
import assert from "assert";
import { concat, fromLatin1, latin1 } from "./bytes.ts";
import type { Fault } from "./faults.ts";
import { FakeMemcached } from "./fake_memcached.ts";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import {
  freePort,
  type Proc,
  type ProxyKind,
  readStats,
  startMemcached,
  startNutcracker,
  startTsproxy,
} from "./procs.ts";
import { Wire, withClient } from "./wire.ts";

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
  /** Server name -> TCP port of a fake or a real memcached. */
  readonly #ports = new Map<string, number>();
  readonly #procs: Proc[] = [];
  readonly #wires: Wire[] = [];
  #proxy: (Proc & { statsPort: number }) | null = null;
  readonly #dirs: string[] = [];
  /** client_eof / client_err before the scenario (the readiness probe's connection). */
  #baseline = { client_eof: 0, client_err: 0 };
  port = 0;

  private constructor(readonly kind: ProxyKind) {}

  /** Starts a pool's backends and the proxy in front of them; waits until the pool is idle. */
  static async start(kind: ProxyKind, scenario: Pick<Scenario, "directives" | "servers">): Promise<Lab> {
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

  /** The TCP port of server `name` (a fake or a real memcached), for asking it directly. */
  backendPort(name: string): number {
    const port = this.#ports.get(name);
    if (port === undefined) throw new Error(`server ${name} has no port of its own`);
    return port;
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
        this.#ports.set(s.name, f.port);
        if (s.fault) f.faults.set(s.fault);
        return f.address;
      }
      case "memcached": {
        const m = await startMemcached();
        this.#procs.push(m);
        this.#ports.set(s.name, m.port);
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

/** Sends raw requests straight to one server and returns its `count` replies as strings. */
export function askDirect(port: number, request: string, count: number): Promise<string[]> {
  return withClient(port, async (wire) => {
    await wire.send(fromLatin1(request));
    const got = await wire.replies(new MemcacheReplyParser(), count, 10_000);
    if (got.replies.length !== count) {
      throw new Error(`server on ${port}: ${got.replies.length}/${count} replies`);
    }
    return got.replies.map(latin1);
  });
}

/**
 * Which backend holds each key, by asking every backend directly: for each key the indexes of the
 * backends that have it (a well-placed key is on exactly one, a missing key on none).
 */
export async function keyHolders(ports: readonly number[], keys: readonly string[]): Promise<number[][]> {
  const holders: number[][] = keys.map(() => []);
  for (let b = 0; b < ports.length; b++) {
    const replies = await askDirect(
      ports[b],
      keys.map((k) => `get ${k}\r\n`).join(""),
      keys.length,
    );
    replies.forEach((r, i) => {
      if (r !== "END\r\n") holders[i].push(b);
    });
  }
  return holders;
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

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Redis labs for the harness and the tests: pools of named backends (real redis-server, in-process
 * fakes with injected faults, or a closed port) behind tsproxy or the real nutcracker, RESP requests
 * and replies as one-char-per-byte strings, raw clients, and direct looks at a backend's keys.
 *
 * Servers are placed by their names (s1..s4), not their ports, so two labs built from the same
 * pool specs place every key alike.
 */
import assert from "assert";
import { fromLatin1, latin1, show } from "./bytes.ts";
import { FakeRedis } from "./fake_redis.ts";
import type { Fault } from "./faults.ts";
import { RedisReplyParser } from "../src/protocol/redis/reply_parser.ts";
import {
  freePort,
  type Proc,
  type ProxyKind,
  readStats,
  startNutcracker,
  startRedis,
  startTsproxy,
} from "./procs.ts";
import { Wire, withClient } from "./wire.ts";

export { withClient };

/** One backend of a pool; `name` is the server's explicit name in `servers:`. */
export type Backend =
  /** A real redis-server, with extra command line arguments (e.g. `--requirepass pw`). */
  | { name: string; kind: "redis"; args?: string[] }
  /** An in-process fake redis, optionally started with a fault in force. */
  | { name: string; kind: "fake"; fault?: Fault }
  /** A loopback port nothing listens on: connects are refused. */
  | { name: string; kind: "refused" };

/** One pool: its name, directives besides listen/redis/servers, and its backends in order. */
export interface PoolSpec {
  name: string;
  directives?: string[];
  backends: Backend[];
}

/** Four real redis servers s1..s4. */
export function fourRedis(args: string[] = []): Backend[] {
  return ["s1", "s2", "s3", "s4"].map((name) => ({ name, kind: "redis", args }));
}

/** The directives the main test pools use: nutcracker's defaults made explicit, and the `{}` hash tag. */
export const TAGGED = ["hash: fnv1a_64", "distribution: ketama", 'hash_tag: "{}"'];

// ---------------------------------------------------------------------------------------------
// RESP as one-char-per-byte strings

/** RESP as one-char-per-byte strings: `bytes` of a string, `text` of bytes. */
export { fromLatin1 as bytes, latin1 as text };

/** A request: a RESP array of bulk strings. */
export function cmd(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

/** Reply builders, for stating expected replies. */
export const R = {
  ok: "+OK\r\n",
  nil: "$-1\r\n",
  int: (n: number) => `:${n}\r\n`,
  bulk: (s: string) => `$${s.length}\r\n${s}\r\n`,
  status: (s: string) => `+${s}\r\n`,
  err: (s: string) => `-${s}\r\n`,
  /** An array of elements, each given as a complete reply (R.bulk(...), R.int(...), R.nil, ...). */
  arr: (...items: string[]) => `*${items.length}\r\n` + items.join(""),
  /** An array of bulk strings. */
  bulks: (...items: string[]) => `*${items.length}\r\n` + items.map((i) => R.bulk(i)).join(""),
};

/** The top-level elements of an array reply (each as its complete RESP bytes). */
export function elements(reply: string): string[] {
  assert.ok(reply.startsWith("*"), `not an array: ${show(reply)}`);
  const buf = fromLatin1(reply);
  const header = reply.indexOf("\r\n") + 2;
  const out: string[] = [];
  let at = header;
  while (at < buf.length) {
    const len = new RedisReplyParser().parse(buf, at, buf.length);
    assert.ok(len > 0, `bad element at ${at} of ${show(reply)}`);
    out.push(reply.slice(at, at + len));
    at += len;
  }
  return out;
}

/** What a client saw: the replies (one string each), and whether the proxy closed the connection. */
export interface Seen {
  replies: string[];
  closed: boolean;
}

/**
 * Sends requests in one write (or as `send` does) and reads `count` replies (default: one per
 * request), then waits `settleMs` for anything more (appended as one more "reply") or the close.
 */
export async function ask(
  wire: Wire,
  requests: string | string[],
  count?: number,
  opts: { timeoutMs?: number; settleMs?: number; send?: (wire: Wire, data: Uint8Array) => Promise<void> } =
    {},
): Promise<Seen> {
  const list = typeof requests === "string" ? [requests] : requests;
  try {
    const data = fromLatin1(list.join(""));
    await (opts.send ? opts.send(wire, data) : wire.send(data));
  } catch {
    // The proxy already hung up: what follows shows the close.
  }
  const got = await wire.replies(new RedisReplyParser(), count ?? list.length, opts.timeoutMs ?? 10_000);
  const replies = got.replies.map(latin1);
  let closed = got.closed;
  if (opts.settleMs !== undefined && opts.settleMs > 0 && !closed) {
    const rest = await wire.drain(opts.settleMs);
    if (rest.bytes.length > 0) replies.push(latin1(rest.bytes));
    closed = rest.closed;
  }
  return { replies, closed };
}

/** Asks a backend directly (AUTH and SELECT first when given, their replies dropped): one reply per request. */
export function askDirect(
  port: number,
  requests: string[],
  opts: { password?: string; db?: number } = {},
): Promise<string[]> {
  const pre: string[] = [];
  if (opts.password !== undefined) pre.push(cmd("AUTH", opts.password));
  if (opts.db !== undefined) pre.push(cmd("SELECT", String(opts.db)));
  return withClient(port, async (wire) => {
    const got = await ask(wire, [...pre, ...requests]);
    assert.equal(got.replies.length, pre.length + requests.length, `backend on ${port} did not answer`);
    return got.replies.slice(pre.length);
  });
}

/** The keys a backend holds in `db`, sorted (KEYS * straight on the backend). */
export async function backendKeys(
  port: number,
  opts: { password?: string; db?: number } = {},
): Promise<string[]> {
  const [reply] = await askDirect(port, [cmd("KEYS", "*")], opts);
  return elements(reply).map((e) => e.slice(e.indexOf("\r\n") + 2, -2)).sort();
}

// ---------------------------------------------------------------------------------------------
// Labs: pools behind one proxy

interface Started {
  port: number;
  fake?: FakeRedis;
  proc?: Proc;
}

/** One proxy with its pools and every backend, all started (and stopped) together. */
export class RedisLab {
  readonly #pools = new Map<string, { port: number; backends: Map<string, Started> }>();
  readonly #wires: Wire[] = [];
  readonly #procs: Proc[] = [];
  readonly #fakes: FakeRedis[] = [];
  #proxy: (Proc & { statsPort: number }) | null = null;

  private constructor(readonly kind: ProxyKind) {}

  /** Starts the backends of every pool, then the proxy (`args`: extra command line arguments). */
  static async start(kind: ProxyKind, pools: PoolSpec[], args: string[] = []): Promise<RedisLab> {
    const lab = new RedisLab(kind);
    try {
      const yaml: string[] = [];
      for (const pool of pools) {
        // Started side by side, kept in spec order (a Map iterates in insertion order).
        const list = await Promise.all(pool.backends.map((b) => lab.#backend(b)));
        const started = new Map(pool.backends.map((b, i) => [b.name, list[i]]));
        const servers = pool.backends.map((b, i) => `   - 127.0.0.1:${list[i].port}:1 ${b.name}`);
        const port = freePort();
        lab.#pools.set(pool.name, { port, backends: started });
        yaml.push(
          `${pool.name}:`,
          `  listen: 127.0.0.1:${port}`,
          "  redis: true",
          ...(pool.directives ?? []).map((d) => `  ${d}`),
          "  servers:",
          ...servers,
        );
      }
      const ports = [...lab.#pools.values()].map((p) => p.port);
      const conf = yaml.join("\n") + "\n";
      lab.#proxy = kind === "tsproxy"
        ? await startTsproxy(conf, ports, args)
        : await startNutcracker(conf, ports, ["-i", "100", ...args]);
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  /** The listen port of a pool (the only pool when not named). */
  port(pool?: string): number {
    return this.#pool(pool).port;
  }

  get statsPort(): number {
    return this.#proxy!.statsPort;
  }

  /** The port of backend `name` of a pool. */
  backendPort(name: string, pool?: string): number {
    const b = this.#pool(pool).backends.get(name);
    if (b === undefined) throw new Error(`no backend ${name}`);
    return b.port;
  }

  /** The ports of a pool's backends, in spec order. */
  backendPorts(pool?: string): number[] {
    return [...this.#pool(pool).backends.values()].map((b) => b.port);
  }

  /** Stops backend `name` (a real redis-server) in the middle of a test: its server dies. */
  async stopBackend(name: string, pool?: string): Promise<void> {
    const proc = this.#pool(pool).backends.get(name)?.proc;
    if (proc === undefined) throw new Error(`backend ${name} is not a redis-server`);
    await proc.stop();
  }

  /** The fake behind backend `name`. */
  fake(name: string, pool?: string): FakeRedis {
    const f = this.#pool(pool).backends.get(name)?.fake;
    if (f === undefined) throw new Error(`backend ${name} is not a fake`);
    return f;
  }

  /** A new client of a pool, closed with the lab. */
  async client(pool?: string): Promise<Wire> {
    const w = await Wire.connect(this.port(pool));
    this.#wires.push(w);
    return w;
  }

  /** The metrics of a pool: its own numbers, and each server's object by name. */
  async stats(
    pool?: string,
  ): Promise<{ pool: Record<string, number>; servers: Record<string, Record<string, number>> }> {
    const name = pool ?? [...this.#pools.keys()][0];
    const raw = (await readStats(this.statsPort))[name] as Record<string, number | Record<string, number>>;
    const out = { pool: {} as Record<string, number>, servers: {} as Record<string, Record<string, number>> };
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === "number") out.pool[k] = v;
      else out.servers[k] = v;
    }
    return out;
  }

  /** The proxy's stderr (tsproxy's log). */
  stderr(): string {
    return this.#proxy?.stderr() ?? "";
  }

  /** Closes the clients, the proxy, then every backend. */
  async stop(): Promise<void> {
    for (const w of this.#wires) w.close();
    await this.#proxy?.stop();
    await Promise.all(this.#fakes.map((f) => f.close()));
    await Promise.all(this.#procs.map((p) => p.stop()));
  }

  #pool(pool?: string) {
    const p = pool === undefined ? [...this.#pools.values()][0] : this.#pools.get(pool);
    if (p === undefined) throw new Error(`no pool ${pool}`);
    return p;
  }

  async #backend(b: Backend): Promise<Started> {
    switch (b.kind) {
      case "redis": {
        const r = await startRedis(undefined, b.args ?? []);
        this.#procs.push(r);
        return { port: r.port, proc: r };
      }
      case "fake": {
        // Below the ephemeral range: once refused, a connect to a closed ephemeral port can, rarely, connect to itself.
        const f = await FakeRedis.start({ host: "127.0.0.1", port: freePort() });
        this.#fakes.push(f);
        if (b.fault) f.faults.set(b.fault);
        return { port: f.port, fake: f };
      }
      case "refused":
        return { port: freePort() };
    }
  }
}

/** Starts a lab, runs `fn` with it and stops it. */
export async function withLab<T>(
  kind: ProxyKind,
  pools: PoolSpec[],
  fn: (lab: RedisLab) => Promise<T>,
  args: string[] = [],
): Promise<T> {
  const lab = await RedisLab.start(kind, pools, args);
  try {
    return await fn(lab);
  } finally {
    await lab.stop();
  }
}

/** Sleeps `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the abuse checks share: one pool of one server (a fake or a real memcached/redis-server)
 * behind tsproxy or nutcracker, with the proxy's pid for its memory (/proc/<pid>/status) and open
 * descriptors (/proc/<pid>/fd); checking clients that play known request/reply pairs on keys of their
 * own and verify every reply byte for byte; and the figures a check reports.
 */
import { latin1, show } from "./bytes.ts";
import { FakeMemcached } from "./fake_memcached.ts";
import { FakeRedis } from "./fake_redis.ts";
import type { FakeServer } from "./fake_server.ts";
import { type Proto, Rng } from "./fuzz.ts";
import {
  freePort,
  type Proc,
  type ProxyKind,
  type ProxyProc,
  startMemcached,
  startNutcracker,
  startRedis,
  startTsproxy,
} from "./procs.ts";
import { Wire } from "./wire.ts";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../src/protocol/redis/reply_parser.ts";
import type { ReplyParser } from "../src/protocol/types.ts";

/** Which backend a check runs in front of: an in-process fake or the real server. */
export type BackendKind = "fake" | "real";

/** The real binary behind a protocol. */
export const REAL_BINARY: Record<Proto, string> = { memcache: "memcached", redis: "redis-server" };

/** A reply parser for the protocol's replies. */
export function replyParser(proto: Proto): ReplyParser {
  return proto === "redis" ? new RedisReplyParser() : new MemcacheReplyParser();
}

const enc = new TextEncoder();

/** A string of one char per byte as bytes. */
export function raw(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Memory of a process from /proc/<pid>/status, in KiB: resident now and its high-water mark. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/** The number of open descriptors of a process (entries of /proc/<pid>/fd). */
export function openFds(pid: number): number {
  let n = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
  return n;
}

/** KiB as MiB with one decimal. */
export const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

/** How a lab differs from the plain one. */
export interface LabOptions {
  /** Pool directives besides listen, redis, server_connections (1) and servers. */
  directives?: string[];
  /** Extra arguments of a real backend (e.g. redis's `--loglevel verbose --logfile F`). */
  backendArgs?: string[];
  /** Extra arguments of the proxy (e.g. `-v 6`). */
  proxyArgs?: string[];
}

/** One pool of one server behind one proxy, started and stopped together. */
export class AbuseLab {
  #backendProc: Proc | null = null;
  #fake: FakeServer | null = null;
  #proxy: ProxyProc | null = null;
  #exited = false;
  port = 0;
  backendPort = 0;

  private constructor(readonly kind: ProxyKind, readonly proto: Proto, readonly backend: BackendKind) {}

  /** Starts the backend, then the proxy in front of it. */
  static async start(
    kind: ProxyKind,
    proto: Proto,
    backend: BackendKind,
    opts: LabOptions = {},
  ): Promise<AbuseLab> {
    const directives = opts.directives ?? [];
    const lab = new AbuseLab(kind, proto, backend);
    try {
      if (backend === "fake") {
        const opts = { host: "127.0.0.1", port: freePort() };
        lab.#fake = proto === "redis" ? await FakeRedis.start(opts) : await FakeMemcached.start(opts);
        lab.backendPort = lab.#fake.port;
      } else {
        const args = opts.backendArgs ?? [];
        lab.#backendProc = proto === "redis"
          ? await startRedis(undefined, args)
          : await startMemcached(undefined, args);
        lab.backendPort = (lab.#backendProc as Proc & { port: number }).port;
      }
      lab.port = freePort();
      const yaml = [
        "abuse:",
        `  listen: 127.0.0.1:${lab.port}`,
        `  redis: ${proto === "redis"}`,
        "  server_connections: 1",
        ...directives.map((d) => `  ${d}`),
        "  servers:",
        `   - 127.0.0.1:${lab.backendPort}:1 s1`,
        "",
      ].join("\n");
      lab.#proxy = kind === "tsproxy"
        ? await startTsproxy(yaml, [lab.port], opts.proxyArgs)
        : await startNutcracker(yaml, [lab.port], ["-i", "1000", ...opts.proxyArgs ?? []]);
      lab.#proxy.child.status.then(() => lab.#exited = true);
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  /** The proxy's pid. */
  get pid(): number {
    return this.#proxy!.pid;
  }

  /** Whether the proxy process is still running. */
  alive(): boolean {
    return !this.#exited;
  }

  /** The proxy's memory now (KiB). */
  memory(): { rss: number; hwm: number } {
    return memory(this.pid);
  }

  /** The proxy's open descriptors now. */
  fds(): number {
    return openFds(this.pid);
  }

  /**
   * Requests the backend has executed: the fake's count, redis's total_commands_processed, or the
   * sum of memcached's get, set, touch, incr, decr and delete counters (cas counts as a set).
   */
  async backendRequests(): Promise<number> {
    if (this.#fake !== null) return this.#fake.stats.requests;
    const wire = await Wire.connect(this.backendPort);
    try {
      await wire.send(this.proto === "redis" ? cmd("INFO", "stats") : "stats\r\n");
      const { bytes } = await wire.drain(200);
      const text = latin1(bytes);
      const stat = (name: string) =>
        Number(new RegExp(`(?:^|\n)(?:STAT )?${name}[ :](\\d+)`).exec(text)?.[1] ?? 0);
      if (this.proto === "redis") return stat("total_commands_processed");
      return ["cmd_get", "cmd_set", "cmd_touch", "incr_misses", "incr_hits", "decr_misses", "decr_hits"]
        .concat(["delete_misses", "delete_hits"]).reduce((n, name) => n + stat(name), 0);
    } finally {
      wire.close();
    }
  }

  /** The proxy's stderr so far (tsproxy's log). */
  stderr(): string {
    return this.#proxy?.stderr() ?? "";
  }

  /** Stops the proxy, then the backend. */
  async stop(): Promise<void> {
    await this.#proxy?.stop();
    await this.#fake?.close();
    await this.#backendProc?.stop();
  }
}

/** Starts a lab, runs `fn` with it and stops it. */
export async function withAbuseLab<T>(
  kind: ProxyKind,
  proto: Proto,
  backend: BackendKind,
  opts: LabOptions,
  fn: (lab: AbuseLab) => Promise<T>,
): Promise<T> {
  const lab = await AbuseLab.start(kind, proto, backend, opts);
  try {
    return await fn(lab);
  } finally {
    await lab.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Known request/reply pairs

/** Requests sent in one write and the exact replies they must get, in order. */
export interface Exchange {
  request: Uint8Array;
  replies: string[];
}

/** memcache: set a key to a value, then get it back (flags and value are the caller's). */
export function memcacheSetGet(key: string, flags: number, value: Uint8Array): Exchange {
  const v = latin1(value);
  return {
    request: raw(`set ${key} ${flags} 0 ${value.length}\r\n${v}\r\nget ${key}\r\n`),
    replies: ["STORED\r\n", `VALUE ${key} ${flags} ${value.length}\r\n${v}\r\nEND\r\n`],
  };
}

/** A RESP request of bulk strings (one char per byte). */
export function cmd(...args: string[]): string {
  return `*${args.length}\r\n` + args.map((a) => `$${a.length}\r\n${a}\r\n`).join("");
}

/** redis: SET a key, GET it back, then INCR a counter whose previous value is `count - 1`. */
export function redisSetGetIncr(key: string, value: Uint8Array, counter: string, count: number): Exchange {
  const v = latin1(value);
  return {
    request: raw(cmd("SET", key, v) + cmd("GET", key) + cmd("INCR", counter)),
    replies: ["+OK\r\n", `$${value.length}\r\n${v}\r\n`, `:${count}\r\n`],
  };
}

/** A checking client's value: printable or binary (CR, LF and NUL included), 1..300 bytes, unique. */
export function checkValue(rng: Rng, tag: string): Uint8Array {
  const head = enc.encode(`${tag}:`);
  const tail = rng.chance(0.25) ? rng.bytes(rng.range(0, 300)) : enc.encode(rng.word(rng.range(0, 300)));
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/**
 * Replies a proxy makes itself when a request fails (a server error, a timeout, a reset): such a
 * reply is wrong for a checking request, but belongs to no other request.
 */
const PROXY_ERROR =
  /^(SERVER_ERROR (?!object too large|out of memory)|-ERR (Connection|Broken pipe|Operation|internal proxy error|Invalid argument|No route|Host|unknown\r\n$))/;

/** What the checking clients saw. */
export class Tally {
  /** Replies equal to the expected bytes. */
  verified = 0;
  /** Replies that belong to another request (another key's value, another command's reply). */
  crossed = 0;
  /** Error replies the proxy made itself for a checking request. */
  errors = 0;
  /** Replies that never came (the connection closed, the reply did not parse, or the wait ran out). */
  unanswered = 0;
  /** The first few wrong replies: the request bytes, what was expected and what came. */
  readonly samples: string[] = [];

  get wrong(): number {
    return this.crossed + this.errors + this.unanswered;
  }

  /** Compares one reply with its expected bytes; false when it is wrong. */
  judge(request: Uint8Array, want: string, got: string | undefined): boolean {
    if (got === want) {
      this.verified++;
      return true;
    }
    const kind = got === undefined ? "unanswered" : PROXY_ERROR.test(got) ? "errors" : "crossed";
    this[kind]++;
    // The first two wrong replies of each kind, at most five.
    if (this.samples.length < 5 && this[kind] <= 2) {
      this.samples.push(
        `request ${show(latin1(request))}\n  expected ${show(want)}\n  got      ${
          got === undefined ? "nothing" : show(got)
        }`,
      );
    }
    return false;
  }

  /** "N verified, N wrong (N crossed, N error replies, N unanswered)". */
  summary(): string {
    return `${this.verified} checking replies verified, ${this.wrong} wrong (${this.crossed} crossed, ` +
      `${this.errors} error replies, ${this.unanswered} unanswered)`;
  }
}

/**
 * Sends an exchange on `wire` and judges each reply; false when one was wrong or missing (the
 * connection is then out of step and should be replaced). Returns the wait in ms as well.
 */
export async function play(
  wire: Wire,
  proto: Proto,
  ex: Exchange,
  tally: Tally,
  timeoutMs = 5000,
): Promise<{ ok: boolean; ms: number }> {
  const t0 = performance.now();
  let got: string[] = [];
  try {
    await wire.send(ex.request);
    got = (await wire.replies(replyParser(proto), ex.replies.length, timeoutMs)).replies.map(latin1);
  } catch {
    // Reset, or bytes that are no reply: what came before counts, the rest is unanswered.
  }
  const ms = performance.now() - t0;
  let ok = true;
  ex.replies.forEach((want, i) => {
    if (!tally.judge(ex.request, want, got[i])) ok = false;
  });
  return { ok, ms };
}

/**
 * A well-behaved client: plays pairs on keys of its own (`tag` makes them unique) until `done()`,
 * verifying every reply, and reconnects after a wrong one. `waits` collects each pair's wait (ms).
 */
export async function checkingClient(
  port: number,
  proto: Proto,
  tag: string,
  rng: Rng,
  tally: Tally,
  done: () => boolean,
  waits: number[] = [],
): Promise<void> {
  let wire: Wire | null = null;
  let counter = 0;
  let generation = 0;
  try {
    for (let i = 0; !done(); i++) {
      if (wire === null) {
        try {
          wire = await Wire.connect(port);
        } catch {
          tally.unanswered++;
          await sleep(50);
          continue;
        }
        generation++;
        counter = 0;
      }
      const key = `${tag}:${i}`;
      const ex = proto === "memcache"
        ? memcacheSetGet(key, rng.int(65536), checkValue(rng, key))
        : redisSetGetIncr(key, checkValue(rng, key), `${tag}:n${generation}`, ++counter);
      const { ok, ms } = await play(wire, proto, ex, tally);
      waits.push(ms);
      if (!ok) {
        wire.close();
        wire = null;
      }
    }
  } finally {
    wire?.close();
  }
}

/** One fresh client's pair, verified: whether the proxy still serves. */
export async function serves(port: number, proto: Proto, tag: string, tally = new Tally()): Promise<boolean> {
  let wire: Wire;
  try {
    wire = await Wire.connect(port);
  } catch {
    return false;
  }
  try {
    const value = enc.encode(`${tag}:alive`);
    const ex = proto === "memcache"
      ? memcacheSetGet(tag, 7, value)
      : redisSetGetIncr(tag, value, `${tag}:n${Date.now()}`, 1);
    return (await play(wire, proto, ex, tally)).ok;
  } finally {
    wire.close();
  }
}

/** The p-th percentile (0..100) of a list of numbers, by nearest rank. */
export function percentile(list: number[], p: number): number {
  if (list.length === 0) return NaN;
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** ms with one decimal. */
export const ms = (n: number) => `${n.toFixed(1)} ms`;

/** Samples the proxy's resident memory every `everyMs` until stopped; returns the peak (KiB). */
export function sampleRss(pid: number, everyMs = 50): { stop(): number } {
  let peak = 0;
  const take = () => {
    try {
      peak = Math.max(peak, memory(pid).rss);
    } catch { /* the process is gone */ }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return peak;
    },
  };
}

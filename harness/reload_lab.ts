/**
 * What the reload checks share: real memcached or redis-server backends, by name, behind a
 * tsproxy with its admin endpoint on, whose -c file is rewritten as an operator's tools do (a temp
 * file renamed over it) and reloaded with POST /reload; pipelined loading clients that verify every
 * reply and tell whether their connection lasted; the reload counters and the file in force from
 * /metrics.
 */
import { latin1 } from "./bytes.ts";
import { cmd, type Exchange, raw, replyParser, Tally } from "./abuse_lab.ts";
import type { Proto } from "./fuzz.ts";
import {
  freePort,
  type Proc,
  type ProxyProc,
  startMemcached,
  startRedis,
  startTsproxy,
  waitForPort,
} from "./procs.ts";
import { Wire } from "./wire.ts";
import type { ReloadOutcome } from "../src/reload.ts";
import { type Families, parsePromText } from "../src/top/prom_text.ts";

/** One pool of a file: its listen port, directives besides listen/redis/servers, servers by backend name. */
export interface PoolSpec {
  name: string;
  port: number;
  directives?: string[];
  servers: [backend: string, weight: number][];
}

/** What POST /reload answered. */
export interface Answer {
  status: number;
  outcome: ReloadOutcome;
}

/** Requests and their replies as one-char-per-byte strings. */
const SPEAK: Record<Proto, {
  set(key: string, value: string): string;
  stored: string;
  get(key: string): string;
  found(key: string, value: string): string;
}> = {
  memcache: {
    set: (k, v) => `set ${k} 0 0 ${v.length}\r\n${v}\r\n`,
    stored: "STORED\r\n",
    get: (k) => `get ${k}\r\n`,
    found: (k, v) => `VALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`,
  },
  redis: {
    set: (k, v) => cmd("SET", k, v),
    stored: "+OK\r\n",
    get: (k) => cmd("GET", k),
    found: (_, v) => `$${v.length}\r\n${v}\r\n`,
  },
};

/**
 * One pipelined write: for each key, each of `ops` in turn (a set stores `value(key)`, a get must
 * read it back), with the exact replies.
 */
export function pipeline(
  proto: Proto,
  keys: readonly string[],
  ops: readonly ("set" | "get")[],
  value: (key: string) => string,
): Exchange {
  const speak = SPEAK[proto];
  let request = "";
  const replies: string[] = [];
  for (const key of keys) {
    for (const op of ops) {
      request += op === "set" ? speak.set(key, value(key)) : speak.get(key);
      replies.push(op === "set" ? speak.stored : speak.found(key, value(key)));
    }
  }
  return { request: raw(request), replies };
}

/** Longest wait for a batch's replies: a request the proxy never answers counts as unanswered. */
const REPLY_TIMEOUT_MS = 5000;

/** Sends an exchange and reads its replies: what came, and whether the peer closed. */
async function exchange(wire: Wire, proto: Proto, ex: Exchange): Promise<{ got: string[]; closed: boolean }> {
  try {
    await wire.send(ex.request);
    const { replies, closed } = await wire.replies(replyParser(proto), ex.replies.length, REPLY_TIMEOUT_MS);
    return { got: replies.map(latin1), closed };
  } catch {
    return { got: [], closed: true }; // reset, or bytes no reply parser frames: the connection is done
  }
}

/**
 * Plays an exchange on a fresh connection to `port`, judging every reply into `tally`; the number
 * of replies equal to the expected ones.
 */
export async function playOnce(port: number, proto: Proto, ex: Exchange, tally: Tally): Promise<number> {
  const wire = await Wire.connect(port);
  try {
    const { got } = await exchange(wire, proto, ex);
    return ex.replies.filter((want, i) => tally.judge(ex.request, want, got[i])).length;
  } finally {
    wire.close();
  }
}

/** The backends and a tsproxy in front of them, its file rewritten and reloaded by the checks. */
export class ReloadLab {
  readonly #backends = new Map<string, Proc & { port: number }>();
  #proxy: ProxyProc | null = null;
  adminPort = 0;

  private constructor(readonly proto: Proto) {}

  /**
   * Starts the backends, then tsproxy on the file of `pools` (with `proxyArgs`, e.g. --workers=2),
   * and waits until `processes` processes listen.
   */
  static async start(
    proto: Proto,
    backends: readonly string[],
    pools: readonly PoolSpec[],
    proxyArgs: string[] = [],
    processes = 1,
  ): Promise<ReloadLab> {
    const lab = new ReloadLab(proto);
    try {
      for (const name of backends) {
        lab.#backends.set(name, proto === "redis" ? await startRedis() : await startMemcached());
      }
      lab.adminPort = freePort();
      lab.#proxy = await startTsproxy(
        lab.file(pools),
        pools.map((p) => p.port),
        [`--admin-port=${lab.adminPort}`, ...proxyArgs],
      );
      await waitForPort(lab.adminPort);
      await lab.#listening(processes);
      return lab;
    } catch (err) {
      await lab.stop();
      throw err;
    }
  }

  /** The configuration file of `pools` over the lab's backends. */
  file(pools: readonly PoolSpec[]): string {
    return pools.flatMap((p) => [
      `${p.name}:`,
      `  listen: 127.0.0.1:${p.port}`,
      `  redis: ${this.proto === "redis"}`,
      ...(p.directives ?? []).map((d) => `  ${d}`),
      "  servers:",
      ...p.servers.map(([name, weight]) => `   - 127.0.0.1:${this.backendPort(name)}:${weight} ${name}`),
    ]).join("\n") + "\n";
  }

  backendPort(name: string): number {
    return this.#backend(name).port;
  }

  /** Replaces the proxy's file with `text` as an editor or a deployment tool does: write aside, rename over. */
  rewrite(text: string): void {
    const conf = this.#proxy!.conf;
    Deno.writeTextFileSync(`${conf}.new`, text);
    Deno.renameSync(`${conf}.new`, conf);
  }

  /** POST /reload. */
  async reload(): Promise<Answer> {
    const res = await fetch(this.#admin("/reload"), { method: "POST", signal: AbortSignal.timeout(30_000) });
    return { status: res.status, outcome: await res.json() };
  }

  /** Reloads applied and refused so far, and the checksum of the file in force, from /metrics. */
  async reloads(): Promise<{ ok: number; failed: number; checksum: string }> {
    const families = await this.#metrics();
    const counted = (result: string) =>
      families.get("tsproxy_config_reloads_total")?.samples.find((s) => s.labels.result === result)?.value ??
        NaN;
    const info = families.get("tsproxy_config_info")?.samples[0];
    return { ok: counted("ok"), failed: counted("failed"), checksum: info?.labels.checksum ?? "" };
  }

  /**
   * Stores `value(key)` for every key on every backend directly, so that a get finds its key's own
   * value wherever the proxy routes it.
   */
  async preload(keys: readonly string[], value: (key: string) => string): Promise<void> {
    const ex = pipeline(this.proto, keys, ["set"], value);
    for (const [name, backend] of this.#backends) {
      const tally = new Tally();
      if (await playOnce(backend.port, this.proto, ex, tally) !== keys.length) {
        throw new Error(`preloading ${name} failed:\n${tally.samples.join("\n")}`);
      }
    }
  }

  /**
   * Stops (SIGSTOP) or resumes (SIGCONT) a backend: while it is stopped, requests sent to it stay in
   * flight at the proxy.
   */
  pause(name: string, paused: boolean): void {
    Deno.kill(this.#backend(name).pid, paused ? "SIGSTOP" : "SIGCONT");
  }

  /** The proxy's log so far. */
  stderr(): string {
    return this.#proxy?.stderr() ?? "";
  }

  /** Stops the proxy, then the backends. */
  async stop(): Promise<void> {
    await this.#proxy?.stop();
    for (const backend of this.#backends.values()) await backend.stop();
  }

  #backend(name: string): Proc & { port: number } {
    const backend = this.#backends.get(name);
    if (backend === undefined) throw new Error(`no backend ${name}`);
    return backend;
  }

  #admin(path: string): string {
    return `http://127.0.0.1:${this.adminPort}${path}`;
  }

  async #metrics(): Promise<Families> {
    const res = await fetch(this.#admin("/metrics"), { signal: AbortSignal.timeout(10_000) });
    return parsePromText(await res.text());
  }

  /** Waits (10 s at most) until `processes` processes have all their pools accepting clients. */
  async #listening(processes: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const n = (await this.#metrics()).get("tsproxy_processes_listening")?.samples[0]?.value ?? 0;
      if (n >= processes) return;
      if (Date.now() > deadline) throw new Error(`${n} of ${processes} processes listening after 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts a lab, runs `fn` with it and stops it. */
export async function withReloadLab<T>(
  proto: Proto,
  backends: readonly string[],
  pools: readonly PoolSpec[],
  opts: { proxyArgs?: string[]; processes?: number },
  fn: (lab: ReloadLab) => Promise<T>,
): Promise<T> {
  const lab = await ReloadLab.start(proto, backends, pools, opts.proxyArgs, opts.processes);
  try {
    return await fn(lab);
  } finally {
    await lab.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Loading clients

/** How a loading client ended. */
export interface ClientEnd {
  /** Its connection lasted, every reply right, through a last batch sent after `stop()`. */
  kept: boolean;
  /** The proxy closed the connection. */
  closed: boolean;
  /** Replies of its last batch that never came. */
  unanswered: number;
  /** Its last batch was answered in part only. */
  partly: boolean;
}

/** A loading client's value for a key: derived from the key, so a reply with another key's value shows. */
export const loadValue = (key: string) => `${key}=${"v".repeat(8 + key.length)}`;

/** Sizes of a load. */
export interface LoadSize {
  clients: number;
  /** Keys each client cycles through. */
  keys: number;
  /** SET/GET pairs in each pipelined batch. */
  depth: number;
}

/**
 * Clients that each hold one connection and play pipelined batches of SET/GET pairs on keys of their
 * own (hash-tagged in groups, so a hash tag change moves them) until stopped, verifying every reply;
 * a client stops at its first wrong or missing reply.
 */
export class Load {
  readonly tally = new Tally();
  /** Batches answered in full, every reply right. */
  batches = 0;
  #stopping = false;
  readonly #ends: Promise<ClientEnd>[];

  private constructor(port: number, proto: Proto, tag: string, size: LoadSize) {
    this.#ends = Array.from(
      { length: size.clients },
      (_, c) => this.#client(port, proto, Load.keys(tag, size, c), size.depth),
    );
  }

  /** The keys of client `c` (all clients' keys when `c` is omitted). */
  static keys(tag: string, size: LoadSize, c?: number): string[] {
    const clients = c === undefined ? Array.from({ length: size.clients }, (_, i) => i) : [c];
    return clients.flatMap((i) => Array.from({ length: size.keys }, (_, j) => `${tag}:{${i}.${j % 8}}:${j}`));
  }

  static start(port: number, proto: Proto, tag: string, size: LoadSize): Load {
    return new Load(port, proto, tag, size);
  }

  /** Replies verified so far. */
  get served(): number {
    return this.tally.verified;
  }

  /** Each client plays one more batch, sent after this call, and stops; how each ended. */
  stop(): Promise<ClientEnd[]> {
    this.#stopping = true;
    return Promise.all(this.#ends);
  }

  async #client(port: number, proto: Proto, keys: string[], depth: number): Promise<ClientEnd> {
    let wire: Wire;
    try {
      wire = await Wire.connect(port);
    } catch {
      return { kept: false, closed: true, unanswered: 0, partly: false };
    }
    try {
      for (let at = 0;; at = (at + depth) % keys.length) {
        const last = this.#stopping;
        const batch = pipeline(
          proto,
          Array.from({ length: depth }, (_, i) => keys[(at + i) % keys.length]),
          ["set", "get"],
          loadValue,
        );
        const { got, closed } = await exchange(wire, proto, batch);
        const right = got.filter((reply, i) =>
          this.tally.judge(batch.request, batch.replies[i], reply)
        ).length;
        const unanswered = batch.replies.length - got.length;
        if (right < batch.replies.length) {
          return { kept: false, closed, unanswered, partly: unanswered > 0 && got.length > 0 };
        }
        this.batches++;
        if (last) return { kept: true, closed: false, unanswered: 0, partly: false };
      }
    } finally {
      wire.close();
    }
  }
}

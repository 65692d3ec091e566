/**
 * A Redis Sentinel lab of real processes on free loopback ports: masters shard1..shardN, one replica
 * each (shardK-replica), and three sentinels (sentinel1..3) monitoring every master with quorum 2.
 * Processes keep the names they were started with (after a failover, "shard1" is still the process
 * that began as shard1's master) and are ended by pid.
 */
import { freePort, type Proc, spawn, startRedis, waitForPort } from "./procs.ts";
import { infoFields } from "../src/ha/replica_check.ts";
import { RespConnection, RespError, type RespValue } from "../src/ha/resp_client.ts";
import { usableReplicas } from "../src/ha/sentinel.ts";

/** One process of the lab. */
export interface Instance {
  name: string;
  host: string;
  port: number;
}

/** A +switch-master as the lab first saw it from any sentinel; `seenAt` is performance.now(). */
export interface Switch {
  name: string;
  host: string;
  port: number;
  seenAt: number;
}

export interface SentinelLabOptions {
  /** How many masters (default 2). */
  masters?: number;
  /** Sentinel's down-after-milliseconds (default 1000). */
  downAfterMs?: number;
  /**
   * Sentinel's failover-timeout (default 3000): a failover whose election failed is retried
   * after twice this.
   */
  failoverTimeoutMs?: number;
}

const HOST = "127.0.0.1";
/** How long the lab may take to be ready: replicas in sync, sentinels knowing each other and the replicas. */
const READY_MS = 20_000;
/** Timeout of the lab's own queries. */
const QUERY_MS = 2000;

export class SentinelLab {
  readonly masters: Instance[] = [];
  readonly replicas: Instance[] = [];
  readonly sentinels: Instance[] = [];
  readonly #dir = Deno.makeTempDirSync({ prefix: "sentinel-lab-" });
  readonly #procs = new Map<string, Proc>();
  readonly #killed = new Set<string>();
  readonly #subs: RespConnection[] = [];
  readonly #switches: Switch[] = [];
  /** Per master, "host:port" as last seen: later messages repeating it are not new switches. */
  readonly #current = new Map<string, string>();
  /** Per master, how many of its switches waitForSwitch returned. */
  readonly #returned = new Map<string, number>();

  private constructor() {}

  /**
   * Starts masters and replicas, waits for the replicas to be in sync, then starts the sentinels and
   * waits (at most 20 s) until each knows the two others and a usable replica of every master.
   */
  static async start(opts: SentinelLabOptions = {}): Promise<SentinelLab> {
    const lab = new SentinelLab();
    try {
      const names = Array.from({ length: opts.masters ?? 2 }, (_, i) => `shard${i + 1}`);
      await Promise.all(names.map((name) => lab.#redis(name, lab.masters, [])));
      await Promise.all(
        lab.masters.map((m) =>
          lab.#redis(`${m.name}-replica`, lab.replicas, ["--replicaof", HOST, String(m.port)])
        ),
      );
      for (const m of lab.masters) lab.#current.set(m.name, `${m.host}:${m.port}`);
      // Sentinels started once the replicas are in sync find them in the master's first INFO,
      // rather than in the next one 10 s later.
      await lab.#waitReady(() => lab.#replicasNotReady());
      await Promise.all(
        [1, 2, 3].map((k) =>
          lab.#sentinel(`sentinel${k}`, opts.downAfterMs ?? 1000, opts.failoverTimeoutMs ?? 3000)
        ),
      );
      await lab.#waitReady(() => lab.#sentinelsNotReady());
      for (const s of lab.sentinels) {
        const sub = await RespConnection.open(s.host, s.port, QUERY_MS);
        lab.#subs.push(sub);
        await sub.subscribe(["+switch-master"], (_, message) => lab.#switched(message));
      }
      return lab;
    } catch (e) {
      await lab.stop();
      throw e;
    }
  }

  /** The port of a process by name. */
  port(name: string): number {
    return this.#instance(name).port;
  }

  /** The sentinels not killed. */
  liveSentinels(): Instance[] {
    return this.sentinels.filter((s) => !this.#killed.has(s.name));
  }

  /** SIGKILLs a process by name (by its pid) and waits for it to end. */
  async kill(name: string): Promise<void> {
    const proc = this.#procs.get(name);
    if (proc === undefined) throw new Error(`no process ${name}`);
    this.#killed.add(name);
    await proc.stop();
  }

  /** SENTINEL FAILOVER of master `name` through the first live sentinel. */
  async failover(name: string): Promise<void> {
    const s = this.liveSentinels()[0];
    if (s === undefined) throw new Error("no live sentinel");
    const answer = await query(s.port, "SENTINEL", "FAILOVER", name);
    if (answer !== "OK") {
      throw new Error(`SENTINEL FAILOVER ${name} via ${s.name}: ${JSON.stringify(answer)}`);
    }
  }

  /**
   * The next switch of master `name` that no earlier call returned (it may have happened before
   * this call: every switch since the lab started is kept). Throws after `timeoutMs`.
   */
  async waitForSwitch(name: string, timeoutMs: number): Promise<Switch> {
    const index = this.#returned.get(name) ?? 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.#switches.filter((s) => s.name === name)[index];
      if (found !== undefined) {
        this.#returned.set(name, index + 1);
        return found;
      }
      if (performance.now() > deadline) {
        throw new Error(`no +switch-master for ${name} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The fields of INFO (one section, or all) of a process by name or port. */
  info(target: string | number, section = "all"): Promise<Map<string, string>> {
    return infoOf(typeof target === "number" ? target : this.port(target), section);
  }

  /** How many times `command` (lower case, e.g. "get") ran on a process, from INFO commandstats. */
  calls(target: string | number, command = "get"): Promise<number> {
    return callsOf(typeof target === "number" ? target : this.port(target), command);
  }

  /** The log file of a process by name, for a failing test to show. */
  log(name: string): string {
    try {
      return Deno.readTextFileSync(`${this.#dir}/${name}/log`);
    } catch {
      return "";
    }
  }

  /** Closes the lab's subscriptions, ends every process by pid and removes the temp dir. */
  async stop(): Promise<void> {
    for (const s of this.#subs) s.close();
    await Promise.all(this.#subs.map((s) => s.closed));
    await Promise.all([...this.#procs.values()].map((p) => p.stop()));
    Deno.removeSync(this.#dir, { recursive: true });
  }

  #instance(name: string): Instance {
    const i = [...this.masters, ...this.replicas, ...this.sentinels].find((x) => x.name === name);
    if (i === undefined) throw new Error(`no process ${name}`);
    return i;
  }

  #workdir(name: string): string {
    const dir = `${this.#dir}/${name}`;
    Deno.mkdirSync(dir);
    return dir;
  }

  /** A redis-server; a replica writes its master's RDB to its own dir, and no sync waits 5 s for others. */
  async #redis(name: string, list: Instance[], args: string[]): Promise<void> {
    const dir = this.#workdir(name);
    const port = freePort();
    list.push({ name, host: HOST, port }); // in the order asked, not the order they come up
    const p = await startRedis(port, [
      "--dir",
      dir,
      "--logfile",
      `${dir}/log`,
      "--repl-diskless-sync-delay",
      "0",
      ...args,
    ]);
    this.#procs.set(name, p);
  }

  /** A sentinel with its own writable config file (sentinels rewrite theirs). */
  async #sentinel(name: string, downAfterMs: number, failoverTimeoutMs: number): Promise<void> {
    const dir = this.#workdir(name);
    const port = freePort();
    this.sentinels.push({ name, host: HOST, port });
    const conf = [
      `port ${port}`,
      `bind ${HOST}`,
      "protected-mode no",
      `dir ${dir}`,
      `logfile ${dir}/log`,
      "sentinel resolve-hostnames no",
      ...this.masters.flatMap((m) => [
        `sentinel monitor ${m.name} ${m.host} ${m.port} 2`,
        `sentinel down-after-milliseconds ${m.name} ${downAfterMs}`,
        `sentinel failover-timeout ${m.name} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${m.name} 1`,
      ]),
    ];
    Deno.writeTextFileSync(`${dir}/sentinel.conf`, conf.join("\n") + "\n");
    const p = spawn("redis-server", [`${dir}/sentinel.conf`, "--sentinel"]);
    this.#procs.set(name, p);
    await waitForPort(port);
  }

  /** Polls `notReady` (what is missing, or null) until null; throws with the last answer after 20 s. */
  async #waitReady(notReady: () => Promise<string | null>): Promise<void> {
    const deadline = Date.now() + READY_MS;
    for (;;) {
      const missing = await notReady();
      if (missing === null) return;
      if (Date.now() > deadline) throw new Error(`sentinel lab not ready after ${READY_MS} ms: ${missing}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #replicasNotReady(): Promise<string | null> {
    for (const r of this.replicas) {
      const status = (await this.info(r.port, "replication")).get("master_link_status");
      if (status !== "up") return `${r.name} has master_link_status ${status}`;
    }
    return null;
  }

  async #sentinelsNotReady(): Promise<string | null> {
    for (const s of this.sentinels) {
      for (const m of this.masters) {
        const master = fields(await query(s.port, "SENTINEL", "master", m.name));
        if (Number(master.get("num-other-sentinels")) < 2) {
          return `${s.name} knows ${master.get("num-other-sentinels")} other sentinels of ${m.name}`;
        }
        if (Number(master.get("num-slaves")) < 1) return `${s.name} knows no replica of ${m.name}`;
        if (usableReplicas(await query(s.port, "SENTINEL", "replicas", m.name)).length < 1) {
          return `${s.name} sees the replica of ${m.name} down or out of sync`;
        }
      }
    }
    return null;
  }

  /** A +switch-master message: `<name> <old ip> <old port> <new ip> <new port>`. */
  #switched(message: string): void {
    const seenAt = performance.now();
    const [name, , , host, port] = message.split(" ");
    const at = `${host}:${port}`;
    if (this.#current.get(name) === at) return;
    this.#current.set(name, at);
    this.#switches.push({ name, host, port: Number(port), seenAt });
  }
}

/** The fields of INFO (one section, or all) of the redis-server on `port`. */
export async function infoOf(port: number, section = "all"): Promise<Map<string, string>> {
  const answer = await query(port, "INFO", section);
  if (typeof answer !== "string") throw new Error(`INFO on ${port}: ${JSON.stringify(answer)}`);
  return infoFields(answer);
}

/** How many times `command` (lower case) ran on the redis-server on `port`, from INFO commandstats. */
export async function callsOf(port: number, command: string): Promise<number> {
  const stat = (await infoOf(port, "commandstats")).get(`cmdstat_${command}`);
  return stat === undefined ? 0 : Number(/calls=(\d+)/.exec(stat)?.[1] ?? 0);
}

/** Waits (at most `timeoutMs`) until each `replicas[i]` has applied all that `masters[i]` wrote (ports). */
export async function caughtUp(masters: number[], replicas: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < masters.length; i++) {
    for (;;) {
      const offset = (await infoOf(masters[i], "replication")).get("master_repl_offset");
      if ((await infoOf(replicas[i], "replication")).get("slave_repl_offset") === offset) break;
      if (Date.now() > deadline) throw new Error(`the replica on port ${replicas[i]} did not catch up`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** One command on a connection of its own. */
async function query(port: number, ...args: string[]): Promise<RespValue> {
  let c: RespConnection | null = null;
  try {
    c = await RespConnection.open(HOST, port, QUERY_MS);
    const answer = await c.command(...args);
    if (answer instanceof RespError) throw new Error(answer.message);
    return answer;
  } catch (e) {
    throw new Error(`${args.join(" ")} on port ${port}: ${e instanceof Error ? e.message : e}`);
  } finally {
    c?.close();
    await c?.closed;
  }
}

/** A flat field/value array answer as a map. */
function fields(answer: RespValue): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(answer)) return out;
  for (let i = 0; i + 1 < answer.length; i += 2) out.set(String(answer[i]), String(answer[i + 1]));
  return out;
}

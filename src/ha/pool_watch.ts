/**
 * Keeps a redis pool's servers where they are: masters moved by Sentinel (`sentinels:`), and the
 * replicas reads may go to (`read_from:`), learned from Sentinel or the configuration and checked
 * to be in sync before they are read from.
 */
import { Level, logEvent } from "../log.ts";
import type { Pool, PoolWatch, Server } from "../core/pool.ts";
import { checkReplica } from "./replica_check.ts";
import { SentinelWatcher } from "./sentinel.ts";

/** How long a sentinel query or a replica check may take (loopback or a LAN: generous). */
const QUERY_TIMEOUT_MS = 1000;

const LEVELS = { notice: Level.NOTICE, warn: Level.WARN, info: Level.INFO } as const;

class PoolHa implements PoolWatch {
  #sentinel: SentinelWatcher | null = null;
  #sentinels = "";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #checking = false;
  #stopped = false;

  constructor(private readonly pool: Pool) {}

  /** Starts watching; resolves once Sentinel answered (or every sentinel failed once). */
  async start(): Promise<void> {
    const ready = this.#configure();
    this.#checkReplicas();
    await ready;
  }

  refresh(): void {
    if (this.#stopped) return;
    this.#configure();
    this.#sentinel?.refresh();
    this.#checkReplicas();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#sentinel?.stop();
    this.#sentinel = null;
  }

  /** Starts, moves or stops the Sentinel watcher as the pool's `sentinels:` say. */
  #configure(): Promise<void> {
    const config = this.pool.config;
    const key = config.sentinels.map((s) => `${s.host}:${s.port}`).join(",");
    if (key === this.#sentinels) return Promise.resolve();
    this.#sentinels = key;
    if (config.sentinels.length === 0) {
      this.#sentinel?.stop();
      this.#sentinel = null;
      this.pool.sentinel = null;
      return Promise.resolve();
    }
    if (this.#sentinel !== null) {
      this.#sentinel.setSentinels(config.sentinels);
      return Promise.resolve();
    }
    this.pool.sentinel = { connected: false, address: null };
    const pool = this.pool;
    this.#sentinel = new SentinelWatcher(
      config.sentinels,
      () => pool.servers.map((s) => s.config.name),
      {
        master: (name, host, port, cause) => pool.moveServer(name, { host, port }, cause),
        replicas: (name, replicas) => {
          for (const added of pool.setReplicas(name, replicas)) this.#check(added);
        },
        state: (connected, address) => pool.sentinel = { connected, address },
        log: (level, message) =>
          logEvent(LEVELS[level], "sentinel", "sentinel", `pool ${pool.config.name}: ${message}`),
      },
      {
        pollInterval: config.sentinelPollInterval,
        timeout: QUERY_TIMEOUT_MS,
        wantReplicas: () => pool.config.readFrom !== "master",
      },
    );
    return this.#sentinel.start();
  }

  /** Checks every replica now, then again each sentinel_poll_interval. */
  #checkReplicas(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    if (this.pool.config.readFrom !== "master" && !this.#checking) {
      this.#checking = true;
      const replicas = this.pool.servers.flatMap((s) => s.replicas);
      Promise.all(replicas.map((r) => this.#check(r))).finally(() => this.#checking = false);
    }
    this.#timer = setTimeout(() => this.#checkReplicas(), this.pool.config.sentinelPollInterval);
  }

  /** Reads from a replica only while its replication link is up; a change is logged. */
  async #check(replica: Server): Promise<void> {
    const state = await checkReplica(
      replica.config.host,
      replica.config.port,
      this.pool.config.redisAuth,
      QUERY_TIMEOUT_MS,
    );
    const inSync = state === "in-sync";
    if (this.#stopped || replica.retired || inSync === replica.inSync) return;
    replica.inSync = inSync;
    logEvent(
      Level.NOTICE,
      "pool",
      "replica",
      `${replica.logName} ` +
        (inSync ? "is in sync: reads may go to it" : `is not read from: ${state}`),
    );
  }
}

/**
 * Watches a redis pool (nothing for memcache): resolves once its masters' addresses are known from
 * Sentinel (or no sentinel answered), so that clients are served at the right addresses from the start.
 */
export async function watchPool(pool: Pool): Promise<void> {
  if (!pool.config.redis) return;
  const watch = new PoolHa(pool);
  pool.watch = watch;
  await watch.start();
}

/**
 * A pool's backend servers: their connections (at most server_connections each, shared by all
 * clients), failure counting and ejection (auto_eject_hosts), and the key router rebuilt from the
 * servers that are live.
 */
import type { PoolConfig, ServerConfig } from "../config/types.ts";
import { Level, logEvent } from "../log.ts";
import type { Protocol, RequestInfo } from "../protocol/types.ts";
import { PLACEHOLDER, Router } from "../routing/router.ts";
import { connectionCounts, PoolStats, ServerStats } from "../stats/counters.ts";
import { Histogram } from "../metrics/histogram.ts";
import { PoolMetrics } from "../metrics/pool_metrics.ts";
import { now as clockNow } from "./clock.ts";
import {
  HOST_DOWN_REASON,
  MOVED_REASON,
  NO_REPLICA_REASON,
  REFUSED_REASON,
  resolveErrorReason,
  socketErrorReason,
} from "./errors.ts";
import type { ClientConnection } from "./client_connection.ts";
import type { ReplySlot } from "./request.ts";
import { isAddress, lookupAll } from "./resolve.ts";
import {
  labelOf,
  type PinLink,
  ServerConnection,
  type ServerConnectionOptions,
  type ServerOwner,
} from "./server_connection.ts";

/** Where a server or a replica is, as Sentinel reports it. */
export interface Address {
  host: string;
  port: number;
}

/** One backend server of a pool, or a replica of one (`master` set). */
export class Server implements ServerOwner {
  readonly stats = new ServerStats();
  readonly connections: ServerConnection[] = [];
  /** Consecutive failures since the last reply. */
  failures = 0;
  /** When an ejected server may be tried again (ms since epoch); 0 while live. */
  retryAt = 0;
  #next = 0;
  /** Why the host name did not resolve last time (getaddrinfo's words), or null while it resolves. */
  #resolveError: string | null = null;
  #resolving = false;

  /** Round trips (queued to reply read), while metrics are on. */
  readonly latency: Histogram | null;
  /** It left the pool on a reload: its connections close once their requests are answered. */
  retired = false;
  /** Clean pinned connections no client holds, kept for the next one (see takePinned). */
  readonly idlePinned: ServerConnection[] = [];
  /** Its pinned and stream connections (idle pinned ones included): a failover cuts them off too. */
  readonly #dedicated = new Set<ServerConnection>();
  /** As configured, and where Sentinel moved it (null: where configured). */
  #configured: ServerConfig;
  #moved: Address | null = null;
  #config: ServerConfig;
  /** Times Sentinel moved it after start (failovers seen). */
  switches = 0;
  /** Its replicas (read_from), in the order they were learned. */
  replicas: Server[] = [];
  #nextReplica = 0;
  /** For a replica: its replication link is up (checked by src/ha); read from only while true. */
  inSync = false;

  /** `config` changes on a reload that keeps the server (its weight or name). */
  constructor(config: ServerConfig, readonly pool: Pool, readonly master: Server | null = null) {
    this.#configured = this.#config = config;
    this.latency = pool.metrics === null ? null : new Histogram();
  }

  /** Where it is now: as configured, at the address Sentinel gave (same name and weight). */
  get config(): ServerConfig {
    return this.#config;
  }

  set config(config: ServerConfig) {
    this.#configured = config;
    this.#config = this.#moved === null ? config : movedConfig(config, this.#moved);
  }

  /** Where Sentinel moved it, null while it is where configured. */
  get movedTo(): Address | null {
    return this.#moved;
  }

  /** Its address as configured, which a reload matches servers by. */
  get configuredAddress(): string {
    return addressOf(this.#configured);
  }

  /**
   * Sentinel says the server is now at `to`: from now on nothing is written to the old address (its
   * connections are cut off, see ServerConnection.cutOff) and new connections go to the new one.
   * False when it is there already.
   */
  moveTo(to: Address): boolean {
    const c = this.#config;
    if (c.kind === "tcp" && c.host === to.host && c.port === to.port) return false;
    this.#moved = to;
    this.#config = movedConfig(this.#configured, to);
    this.failures = 0;
    const old = [...this.connections, ...this.#dedicated];
    this.connections.length = 0;
    this.idlePinned.length = 0;
    for (const conn of old) conn.cutOff(MOVED_REASON);
    this.resolve();
    return true;
  }

  /**
   * Sends a read-only request to a live, in-sync replica when there is one; else to the server
   * itself, or (`replicasOnly`) fails it.
   */
  sendRead(bytes: Uint8Array, slot: ReplySlot | null, replicasOnly: boolean): void {
    const replica = this.#pickReplica();
    if (replica !== null) replica.send(bytes, slot);
    else if (replicasOnly) slot?.fail(NO_REPLICA_REASON);
    else this.send(bytes, slot);
  }

  /** The next replica to read from, round robin; an ejected one comes back once its retry time passed. */
  #pickReplica(): Server | null {
    const replicas = this.replicas;
    for (let tried = 0; tried < replicas.length; tried++) {
      const r = replicas[this.#nextReplica++ % replicas.length];
      if (!r.inSync) continue;
      if (r.retryAt !== 0) {
        if (clockNow() < r.retryAt) continue;
        r.retryAt = 0;
        logEvent(Level.NOTICE, "pool", "readmit", `${r.logName} is back`);
      }
      return r;
    }
    return null;
  }

  /**
   * The replicas are now these (from Sentinel or the configuration): kept ones stay with their
   * connections and state, new ones start out of sync until checked, the others close once idle.
   * Returns the new ones.
   */
  setReplicas(addresses: readonly Address[]): Server[] {
    const kept = new Map(this.replicas.map((r) => [r.address, r]));
    const added: Server[] = [];
    this.replicas = addresses.map((a) => {
      const address = `${a.host}:${a.port}`;
      const found = kept.get(address);
      if (found !== undefined) {
        kept.delete(address);
        return found;
      }
      const config: ServerConfig = {
        raw: `${address}:1 ${address}`,
        name: address,
        kind: "tcp",
        host: a.host,
        port: a.port,
        path: "",
        weight: 1,
      };
      const replica = new Server(config, this.pool, this);
      added.push(replica);
      return replica;
    });
    for (const gone of kept.values()) gone.retire();
    return added;
  }

  /** The server as log lines name it: its `host:port:weight` (nutcracker's pname, without the name). */
  get label(): string {
    return labelOf(this.config);
  }

  /** What log lines call it: `server '<label>' of pool <p>`, or `replica '<label>' of server '<name>' of pool <p>`. */
  get logName(): string {
    const pool = `of pool ${this.pool.config.name}`;
    return this.master === null
      ? `server '${this.label}' ${pool}`
      : `replica '${this.label}' of server '${this.master.config.name}' ${pool}`;
  }

  /** Where the server is: a reload keeps a server (and its connections) whose address stays. */
  get address(): string {
    return addressOf(this.config);
  }

  /** Leaves the pool: no request is routed to it any more, and its connections close once idle. */
  retire(): void {
    this.retired = true;
    for (const c of [...this.connections]) c.retire();
    for (const c of [...this.idlePinned]) c.retire();
    for (const r of this.replicas) r.retire();
  }

  /**
   * A connection of the client behind `link` alone (a transaction, subscriptions, a blocking command),
   * an idle clean one when there is one (not for a raw link); else a new one within the pool's
   * pinned_connections. Or why none can be had.
   */
  takePinned(link: PinLink): ServerConnection | string {
    if (link.frame === null) {
      const idle = this.idlePinned.pop();
      if (idle !== undefined) {
        idle.link = link;
        return idle;
      }
    }
    const early = this.#earlyFailure();
    if (early !== null) return early;
    if (!this.pool.reservePinned()) {
      return `pinned connection limit reached (pinned_connections ${this.pool.config.pinnedConnections})`;
    }
    return this.#dedicate(new ServerConnection(this, this.pool.connectionOptions, "pinned", link));
  }

  #dedicate(conn: ServerConnection): ServerConnection {
    this.#dedicated.add(conn);
    return conn;
  }

  /** A client is done with a pinned connection: kept for reuse when `clean`, else closed. */
  parkPinned(conn: ServerConnection, clean: boolean): void {
    conn.link = null;
    if (conn.closed) return;
    if (!clean || conn.busy || this.retired) conn.fail("done", "done");
    else this.idlePinned.push(conn);
  }

  /** Whether the server is ejected from its pool right now. */
  get ejected(): boolean {
    return this.retryAt !== 0;
  }

  /**
   * Sends a request (`slot` null: no reply expected) over one of the server's connections, opening
   * one while below server_connections. A connect that fails at once fails the request.
   */
  send(bytes: Uint8Array, slot: ReplySlot | null): void {
    const conn = this.#connection();
    if (typeof conn === "string") slot?.fail(conn);
    else conn.send(bytes, slot);
  }

  /**
   * Starts a request whose bytes are still arriving (see ServerConnection.beginStream) on a server
   * connection of its own, so that a client breaking it off harms no other request; null, without
   * counting a failure, when the server cannot be reached right now: the request is then sent (and
   * fails) once whole.
   */
  beginStream(bytes: Uint8Array, slot: ReplySlot | null): ServerConnection | null {
    if (this.#earlyFailure() !== null) return null;
    const conn = this.#dedicate(new ServerConnection(this, this.pool.connectionOptions, "stream"));
    conn.beginStream(bytes, slot);
    return conn;
  }

  /** Opens a connection ahead of traffic (preconnect); a failure is logged and counted, then ignored. */
  preconnect(): void {
    if (this.connections.length > 0) return;
    const conn = this.#connection();
    if (typeof conn === "string") {
      logEvent(
        Level.WARN,
        "server",
        "preconnect",
        `connect to server '${this.label}' failed, ignored: ${conn}`,
      );
    }
  }

  /**
   * A connection for the next request: a new one until the limit, then round robin. Or the reason
   * why no connection can be made right now: nutcracker's connect fails at once, before the request
   * is queued, for a missing unix socket and a host name that does not resolve; that counts as one
   * server failure per request.
   */
  #connection(): ServerConnection | string {
    const conns = this.connections;
    if (conns.length < this.pool.config.serverConnections) {
      const early = this.#earlyFailure();
      if (early !== null) {
        this.stats.server_err++;
        // A name that does not resolve has its own line (nutcracker logs no connect line for it).
        if (early !== HOST_DOWN_REASON) {
          logEvent(
            Level.ERR,
            "server",
            "connect",
            `connect on s ${connectionCounts.total + 1} to server '${this.label}' failed: ${early}`,
          );
        }
        this.pool.serverFailed(this);
        return early;
      }
      const c = new ServerConnection(this, this.pool.connectionOptions);
      conns.push(c);
      return c;
    }
    const c = conns[this.#next % conns.length];
    this.#next = (this.#next + 1) % conns.length;
    return c;
  }

  /** Resolves the host name again (nutcracker resolves on every connect); a failure makes connects fail at once. */
  async resolve(): Promise<void> {
    if (this.config.kind !== "tcp" || isAddress(this.config.host) || this.#resolving) return;
    this.#resolving = true;
    try {
      await lookupAll(this.config.host);
      this.#resolveError = null;
    } catch (err) {
      this.#resolveError = resolveErrorReason(err);
    } finally {
      this.#resolving = false;
    }
  }

  #earlyFailure(): string | null {
    if (this.config.kind === "unix") {
      try {
        Deno.statSync(this.config.path);
      } catch (err) {
        return socketErrorReason(err);
      }
      return null;
    }
    if (this.#resolveError === null) return null;
    logEvent(
      Level.ERR,
      "server",
      "resolve",
      `address resolution of node '${this.config.host}' service '${this.config.port}' failed: ${this.#resolveError}`,
    );
    this.resolve(); // in the background: the next attempt sees the new answer
    return HOST_DOWN_REASON;
  }

  replied(): void {
    this.failures = 0;
  }

  connectionClosed(conn: ServerConnection, failed: boolean): void {
    this.#dedicated.delete(conn);
    if (conn.mode === "pinned") {
      this.pool.pinnedOpen--;
      const idle = this.idlePinned.indexOf(conn);
      if (idle >= 0) this.idlePinned.splice(idle, 1);
    }
    const i = this.connections.indexOf(conn);
    if (i >= 0) this.connections.splice(i, 1);
    // A connection to an address the server has left (a failover) says nothing of the server now.
    if (failed && addressOf(conn.target) === this.address) this.pool.serverFailed(this);
  }
}

/** The servers of one pool and how keys reach them. */
export class Pool {
  readonly stats = new PoolStats();
  /** Its open client connections (a drain closes them), and who waits for none to be left. */
  readonly clients = new Set<ClientConnection>();
  onNoClients: (() => void) | null = null;
  /** Latency and per-command counts for the admin endpoint; null while metrics are off. */
  readonly metrics: PoolMetrics | null;
  /** Replaced as a whole by a reload, together with the router: a request sees one or the other. */
  servers: Server[];
  /** Shared by the pool's server connections: a reload's new timeout reaches their next requests. */
  connectionOptions: ServerConnectionOptions;
  #router: Router;
  /** Earliest retry time of an ejected server (ms since epoch), 0 when none is ejected. */
  #nextRetry = 0;
  /** Pinned server connections open (in use or idle), and clients refused one for the cap. */
  pinnedOpen = 0;
  pinnedRefused = 0;
  /** What keeps its servers' addresses and replicas current (src/ha), null when nothing does. */
  watch: PoolWatch | null = null;
  /** The Sentinel connection's state, null for a pool without `sentinels:`. */
  sentinel: SentinelState | null = null;

  /** `config` changes on a reload that keeps the pool (same listen address and protocol). */
  constructor(
    public config: PoolConfig,
    public protocol: Protocol,
    readonly mbufSize: number,
    metrics = false,
  ) {
    this.metrics = metrics ? new PoolMetrics(protocol.commandNames) : null;
    this.servers = config.servers.map((s) => new Server(s, this));
    this.connectionOptions = { protocol, timeout: Math.max(0, config.timeout), mbufSize };
    this.#router = routerFor(config);
    this.#configureReplicas();
  }

  /** Replicas listed in the configuration (`replicas:`), each under the server it names. */
  #configureReplicas(): void {
    if (this.config.sentinels.length > 0) return; // Sentinel names them
    for (const server of this.servers) {
      server.setReplicas(this.config.replicas.filter((r) => r.name === server.config.name));
    }
  }

  /**
   * Sentinel says master `name` is at `to`: see Server.moveTo. The move is logged at notice and,
   * after start, counted as a switch; an ejected server is live again at its new address.
   */
  moveServer(name: string, to: Address, cause: "start" | "switch" | "poll"): void {
    const server = this.servers.find((s) => s.config.name === name);
    if (server === undefined) return;
    const from = server.label;
    if (!server.moveTo(to)) return;
    if (cause !== "start") server.switches++;
    if (server.retryAt !== 0) {
      server.retryAt = 0;
      this.#nextRetry = earliestRetry(this.servers);
      this.#rebuild();
    }
    logEvent(
      Level.NOTICE,
      "pool",
      "switch-master",
      `server '${name}' of pool ${this.config.name} moved from ${from} to ${server.label} (sentinel ${cause})`,
    );
  }

  /** The replicas of server `name` are now `addresses` (from Sentinel); returns the new ones. */
  setReplicas(name: string, addresses: readonly Address[]): Server[] {
    return this.servers.find((s) => s.config.name === name)?.setReplicas(addresses) ?? [];
  }

  /**
   * Prepares a reload of this pool (same listen address and protocol kind): servers that stay (same
   * address, and the same redis_auth and redis_db) are kept with their connections, stats and
   * ejection state; the others are new, their host names resolved before anything changes.
   */
  async prepare(next: PoolConfig, protocol: Protocol): Promise<PoolUpdate> {
    const sameHandshake = next.redisAuth === this.config.redisAuth && next.redisDb === this.config.redisDb;
    const unclaimed = new Map<string, Server[]>();
    if (sameHandshake) {
      for (const s of this.servers) {
        unclaimed.set(s.configuredAddress, [...unclaimed.get(s.configuredAddress) ?? [], s]);
      }
    }
    const servers: Server[] = [];
    const added: Server[] = [];
    const changed: Server[] = [];
    for (const config of next.servers) {
      const kept = unclaimed.get(addressOf(config))?.shift();
      if (kept === undefined) {
        const server = new Server(config, this);
        added.push(server);
        servers.push(server);
        continue;
      }
      if (kept.config.name !== config.name || kept.config.weight !== config.weight) changed.push(kept);
      servers.push(kept);
    }
    const removed = sameHandshake ? [...unclaimed.values()].flat() : this.servers;
    if (next.sentinels.length > 0) {
      // A server made anew (another redis_auth, say) starts where Sentinel last put its name.
      for (const server of added) {
        const moved = this.servers.find((s) => s.config.name === server.config.name)?.movedTo;
        if (moved) server.moveTo(moved);
      }
    }
    await Promise.all(added.map((s) => s.resolve()));
    return {
      config: next,
      protocol: sameHandshake ? this.protocol : protocol,
      servers,
      added,
      removed,
      changed,
    };
  }

  /**
   * Applies a prepared reload at once: from the next request on, keys are routed by the new ring
   * over the new servers (a request is routed whole by one or the other), and the new directives hold.
   * Removed servers close their connections once what was sent on them is answered.
   */
  apply(update: PoolUpdate): void {
    const next = update.config;
    update.servers.forEach((s, i) => s.config = next.servers[i]);
    const timeout = Math.max(0, next.timeout);
    if (update.protocol !== this.protocol) {
      // A new handshake: the old connections keep theirs (their servers are all replaced).
      this.protocol = update.protocol;
      this.connectionOptions = { protocol: update.protocol, timeout, mbufSize: this.mbufSize };
    } else this.connectionOptions.timeout = timeout;
    this.config = next;
    this.servers = update.servers;
    this.#router = routerFor(next);
    this.#nextRetry = earliestRetry(this.servers);
    this.#rebuild();
    for (const s of update.removed) s.retire();
    if (next.preconnect) { for (const s of update.added) s.preconnect(); }
    this.#configureReplicas();
    this.watch?.refresh();
  }

  /**
   * Counts one more pinned connection when pinned_connections allows it, closing an idle one to make
   * room if need be; false (counted as a refusal) when every one is in use.
   */
  reservePinned(): boolean {
    if (this.pinnedOpen >= this.config.pinnedConnections) {
      const holder = this.servers.find((s) => s.idlePinned.length > 0);
      if (holder === undefined) {
        this.pinnedRefused++;
        logEvent(
          Level.WARN,
          "pool",
          "pinned-limit",
          `pinned connection refused: pool ${this.config.name} has its pinned_connections (${this.config.pinnedConnections}) in use`,
        );
        return false;
      }
      holder.idlePinned[0].fail("done", "done"); // its close makes the room
    }
    this.pinnedOpen++;
    return true;
  }

  /** Leaves the proxy (a reload removed or replaced it): its servers close once idle. */
  retire(): void {
    this.watch?.stop();
    for (const s of this.servers) s.retire();
  }

  /** Resolves every server host name once, before clients come, so a bad name fails requests at once. */
  async resolveHosts(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.resolve()));
  }

  /** Opens one connection per server (preconnect); failures count like any other. */
  preconnect(): void {
    for (const s of this.servers) s.preconnect();
  }

  /**
   * The live server for the key buf[start, end) (or for `placeholder` when start === end === -1),
   * or -1 when none is live. A pure lookup: ejected servers come back through `readmitDue`.
   */
  route(buf: Uint8Array, start: number, end: number): number {
    if (start < 0) return this.#router.pick(PLACEHOLDER, 0, PLACEHOLDER.length);
    return this.#router.pick(buf, start, end);
  }

  /**
   * Sends a request to server `server` of the pool; -1 (no live server) fails it as nutcracker does.
   * `info` is the request (a fragment's whole request) when it may go to a replica, as read_from says
   * for read-only requests.
   */
  send(server: number, bytes: Uint8Array, slot: ReplySlot | null, info: RequestInfo | null = null): void {
    if (server < 0) slot?.fail(REFUSED_REASON);
    else if (info !== null && this.config.readFrom !== "master" && this.protocol.isReadOnly(info)) {
      this.servers[server].sendRead(bytes, slot, this.config.readFrom === "replica");
    } else this.servers[server].send(bytes, slot);
  }

  /**
   * Brings back every ejected server whose retry time has passed. nutcracker does this lazily when
   * a request is routed: clients call it before routing what they read.
   */
  readmitDue(): void {
    if (this.#nextRetry === 0) return; // the common case reads no clock
    const now = clockNow();
    if (now < this.#nextRetry) return;
    for (const s of this.servers) {
      if (s.retryAt === 0 || s.retryAt > now) continue;
      s.retryAt = 0;
      logEvent(
        Level.NOTICE,
        "pool",
        "readmit",
        `${s.logName} is back in the pool`,
      );
    }
    this.#nextRetry = earliestRetry(this.servers);
    this.#rebuild();
  }

  /**
   * Counts a failed server connection; ejects the server when it reached server_failure_limit. A
   * replica is ejected so whatever auto_eject_hosts says (its reads have somewhere else to go), and
   * leaves the pool's ring and ejection count alone.
   */
  serverFailed(server: Server): void {
    const replica = server.master !== null;
    if ((!replica && !this.config.autoEjectHosts) || server.retryAt !== 0 || server.retired) return;
    server.failures++;
    if (server.failures < Math.max(1, this.config.serverFailureLimit)) return;
    const now = Date.now();
    const failures = server.failures;
    server.failures = 0;
    server.retryAt = now + this.config.serverRetryTimeout;
    server.stats.server_ejected_at = now * 1000;
    logEvent(
      Level.NOTICE,
      "pool",
      "eject",
      `${server.logName} ejected after ${failures} consecutive failures; ` +
        `tried again in ${this.config.serverRetryTimeout} ms`,
    );
    if (replica) return;
    this.stats.server_ejects++;
    if (this.#nextRetry === 0 || server.retryAt < this.#nextRetry) this.#nextRetry = server.retryAt;
    this.#rebuild();
  }

  #rebuild(): void {
    this.#router.setLive(this.servers.map((s) => s.retryAt === 0));
  }
}

/** A pool's reload, prepared: what `Pool.apply` puts in place. */
export interface PoolUpdate {
  config: PoolConfig;
  protocol: Protocol;
  /** In the new configuration's order, kept ones included. */
  servers: Server[];
  added: Server[];
  removed: Server[];
  /** Kept, with a new weight or name (their place on the ring moves). */
  changed: Server[];
}

/** What keeps a pool's server addresses and replicas current (see src/ha). */
export interface PoolWatch {
  /** The configuration changed (a reload): take its sentinels, servers and replicas. */
  refresh(): void;
  stop(): void;
}

/** The pool's Sentinel connection, for stats. */
export interface SentinelState {
  connected: boolean;
  /** `host:port` of the sentinel in use, null while none is connected. */
  address: string | null;
}

/** A server's configuration at the address Sentinel gave (name and weight kept: placement stays). */
function movedConfig(c: ServerConfig, to: Address): ServerConfig {
  return {
    ...c,
    raw: `${to.host}:${to.port}:${c.weight} ${c.name}`,
    kind: "tcp",
    host: to.host,
    port: to.port,
    path: "",
  };
}

function addressOf(c: ServerConfig): string {
  return c.kind === "unix" ? c.path : `${c.host}:${c.port}`;
}

/** The earliest retry time of the ejected servers, 0 when none is ejected. */
function earliestRetry(servers: readonly Server[]): number {
  let next = 0;
  for (const s of servers) if (s.retryAt !== 0 && (next === 0 || s.retryAt < next)) next = s.retryAt;
  return next;
}

function routerFor(config: PoolConfig): Router {
  return new Router({
    hash: config.hash,
    distribution: config.distribution,
    hashTag: config.hashTag,
    servers: config.servers,
  });
}

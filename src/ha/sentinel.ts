/**
 * Follows Redis Sentinel for a set of master names: where each master is, and which of its replicas
 * are usable. One sentinel is used at a time (a command connection and a subscribed one); when it
 * fails, the next one in the list is tried.
 */
import { RespConnection, RespError, type RespValue, show } from "./resp_client.ts";
import { errorMessage } from "../core/errors.ts";

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface ReplicaAddress {
  host: string;
  port: number;
}

export interface SentinelEvents {
  /**
   * Sentinel says master `name` is at host:port: "start" for the watcher's first answered round,
   * "poll" for every later round (including the first one on another sentinel), "switch" on
   * +switch-master. Called every time; the receiver ignores unchanged addresses.
   */
  master(name: string, host: string, port: number, cause: "switch" | "poll" | "start"): void;
  /** The usable replicas of `name` (see usableReplicas), after each query. */
  replicas(name: string, replicas: ReplicaAddress[]): void;
  /** A sentinel became the one in use ("host:port"), or the one in use was lost (false, null). */
  state(connected: boolean, address: string | null): void;
  /** A line for the operator. */
  log(level: "notice" | "warn" | "info", message: string): void;
}

export interface SentinelOptions {
  /** ms between two rounds of queries, so that a missed message heals. */
  pollInterval: number;
  /** ms allowed for a connect and for each reply. */
  timeout: number;
  /** Whether replicas are queried (read again at each query). */
  wantReplicas: () => boolean;
}

/** The master's move, and the events after which a master's usable replicas may have changed. */
const CHANNELS = ["+switch-master", "+slave", "+sdown", "-sdown", "+slave-reconf-done", "+convert-to-slave"];

/** Backoff between failed attempts: doubles from the first to the last, reset by an answered round. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 1000;

/** Flags that make a replica unusable. */
const DOWN_FLAGS = ["s_down", "o_down", "disconnected"];

/** The sentinel in use. */
class Session {
  /** Set once its first round was answered and state(true) told. */
  announced = false;
  poll: ReturnType<typeof setTimeout> | undefined;
  /** A round is running; `again`: refresh() asked for another one meanwhile. */
  polling = false;
  again = false;
  /** Names it answered nil for, warned once per session. */
  readonly unknown = new Set<string>();

  constructor(readonly address: string, readonly cmd: RespConnection, readonly sub: RespConnection) {}
}

export class SentinelWatcher {
  #sentinels: SentinelAddress[];
  readonly #masterNames: () => string[];
  readonly #events: SentinelEvents;
  readonly #opts: SentinelOptions;
  /** Index of the sentinel to try next. */
  #next = 0;
  #session: Session | null = null;
  #connecting: Promise<void> | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Failed attempts since the last answered round: the backoff, and when start() gives up waiting. */
  #failures = 0;
  #running = false;
  #stopped = false;
  /** A round has been answered: later rounds are "poll". */
  #started = false;
  #startWaiters: (() => void)[] = [];
  /**
   * +switch-master messages seen per master: an answer to a query sent before one of them is
   * stale (replies and messages come on two sockets, in no fixed order) and is dropped.
   */
  readonly #switches = new Map<string, number>();

  constructor(
    sentinels: SentinelAddress[],
    masterNames: () => string[],
    events: SentinelEvents,
    opts: SentinelOptions,
  ) {
    this.#sentinels = [...sentinels];
    this.#masterNames = masterNames;
    this.#events = events;
    this.#opts = opts;
  }

  /**
   * Starts; resolves once the first round of queries was answered, or once every sentinel failed
   * once (it keeps retrying in the background). Never rejects.
   */
  start(): Promise<void> {
    if (this.#running || this.#stopped) return Promise.resolve();
    this.#running = true;
    const ready = new Promise<void>((resolve) => this.#startWaiters.push(resolve));
    if (this.#sentinels.length === 0) {
      this.#events.log("warn", "no sentinels to ask");
      this.#wake();
    } else {
      this.#connect();
    }
    return ready;
  }

  /** Queries every master (and its replicas) now, e.g. after a reload changed the names. */
  refresh(): void {
    if (this.#session !== null) this.#poll(this.#session);
  }

  /** Replaces the sentinel list; the sentinel in use is kept when it is still in it. */
  setSentinels(sentinels: SentinelAddress[]): void {
    this.#sentinels = [...sentinels];
    if (!this.#running || this.#stopped) return;
    const session = this.#session;
    const kept = session === null ? -1 : this.#indexOf(session.address);
    if (kept >= 0) {
      this.#next = (kept + 1) % this.#sentinels.length;
      return;
    }
    this.#next = 0;
    if (session !== null) this.#drop(session, "notice", "no longer in the list of sentinels");
    if (this.#sentinels.length === 0) {
      clearTimeout(this.#retry);
      this.#retry = undefined;
      this.#events.log("warn", "no sentinels to ask");
    } else if (this.#connecting === null && this.#retry === undefined) {
      this.#connect();
    }
  }

  /** Closes everything: no timers or sockets are left once the promise settles (it never rejects). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const session = this.#session;
    this.#session = null;
    this.#wake();
    if (session !== null) {
      clearTimeout(session.poll);
      session.cmd.close();
      session.sub.close();
      await Promise.all([session.cmd.closed, session.sub.closed]);
    }
    await this.#connecting;
  }

  #indexOf(address: string): number {
    return this.#sentinels.findIndex((s) => `${s.host}:${s.port}` === address);
  }

  /** Resolves start(). */
  #wake(): void {
    for (const resolve of this.#startWaiters.splice(0)) resolve();
  }

  #connect(): void {
    const at = this.#sentinels[this.#next % this.#sentinels.length];
    this.#next = (this.#next + 1) % this.#sentinels.length;
    const opening: Promise<void> = this.#open(`${at.host}:${at.port}`, at).finally(() => {
      if (this.#connecting !== opening) return;
      this.#connecting = null;
      // Dropped while opening (setSentinels): nothing else moves on to the next sentinel.
      if (this.#session === null && this.#retry === undefined) this.#retryLater(0);
    });
    this.#connecting = opening;
  }

  /** Opens both connections to one sentinel, subscribes, then runs the first round. Never rejects. */
  async #open(address: string, at: SentinelAddress): Promise<void> {
    let cmd: RespConnection | null = null;
    let session: Session | null = null;
    try {
      cmd = await RespConnection.open(at.host, at.port, this.#opts.timeout);
      const sub = await RespConnection.open(at.host, at.port, this.#opts.timeout);
      if (this.#stopped || this.#indexOf(address) < 0) {
        cmd.close();
        sub.close();
        await Promise.all([cmd.closed, sub.closed]);
        return;
      }
      const s = session = this.#session = new Session(address, cmd, sub);
      for (const c of [cmd, sub]) c.closed.then(() => this.#lost(s, `connection ${c.closeReason}`));
      // Subscribed before the first round: a switch between the round's answers and the
      // subscription would otherwise go unseen until the next poll.
      await sub.subscribe(CHANNELS, (channel, message) => this.#message(s, channel, message));
      if (this.#session === s) this.#poll(s);
    } catch (e) {
      if (session !== null) {
        this.#lost(session, errorMessage(e));
      } else {
        cmd?.close();
        if (!this.#stopped) this.#failed(address, errorMessage(e));
      }
    }
  }

  /** The session failed: it is dropped and the next sentinel tried. */
  #lost(session: Session, why: string): void {
    if (this.#session !== session) return;
    this.#drop(session, "warn", why);
    this.#failed(null, why);
  }

  #drop(session: Session, level: "notice" | "warn", why: string): void {
    this.#session = null;
    clearTimeout(session.poll);
    session.cmd.close();
    session.sub.close();
    if (session.announced) this.#events.state(false, null);
    this.#events.log(level, `sentinel ${session.address}: ${why}`);
  }

  /** An attempt failed (`address`: not yet told, the session was); the next sentinel after a backoff. */
  #failed(address: string | null, why: string): void {
    this.#failures++;
    // The first retry after a sentinel that worked is immediate: the failover may be under way.
    const delay = this.#failures === 1
      ? 0
      : Math.min(BACKOFF_FIRST_MS * 2 ** (this.#failures - 2), BACKOFF_MAX_MS);
    const next = this.#sentinels[this.#next % this.#sentinels.length];
    if (address !== null) this.#events.log("warn", `sentinel ${address}: ${why}`);
    if (next !== undefined) {
      this.#events.log("info", `trying sentinel ${next.host}:${next.port} in ${delay} ms`);
    }
    if (this.#failures >= this.#sentinels.length) this.#wake();
    this.#retryLater(delay);
  }

  #retryLater(delay: number): void {
    if (this.#stopped || this.#sentinels.length === 0) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, delay);
  }

  /** Runs a round now (or right after the one running), then one every pollInterval. */
  #poll(session: Session): void {
    clearTimeout(session.poll);
    session.poll = undefined;
    if (session.polling) {
      session.again = true;
      return;
    }
    session.polling = true;
    this.#round(session).then(() => {
      session.polling = false;
      if (this.#session !== session) return;
      this.#failures = 0;
      if (!session.announced) {
        // Told once it answered: a server that takes SUBSCRIBE but is no sentinel never counts.
        session.announced = true;
        this.#events.state(true, session.address);
        this.#events.log("notice", `using sentinel ${session.address}`);
      }
      if (!this.#started) {
        this.#started = true;
        this.#wake();
      }
      if (session.again) {
        session.again = false;
        this.#poll(session);
      } else {
        session.poll = setTimeout(() => this.#poll(session), this.#opts.pollInterval);
      }
    }, (e) => {
      session.polling = false;
      this.#lost(session, errorMessage(e));
    });
  }

  /**
   * Asks where every master is, then (when wanted) the replicas of those it knows. A nil answer
   * means that sentinel does not monitor the name: warned once, the name skipped, the sentinel kept
   * (a name missing from the sentinels' configuration must not make the watcher leave a working
   * one). An error reply means it is not a usable sentinel: the round fails.
   */
  async #round(session: Session): Promise<void> {
    const cause = this.#started ? "poll" : "start";
    const names = this.#masterNames();
    const switches = names.map((n) => this.#switches.get(n) ?? 0);
    const answers = await Promise.all(
      names.map((n) => session.cmd.command("SENTINEL", "get-master-addr-by-name", n)),
    );
    if (this.#session !== session) return;
    const known: string[] = [];
    names.forEach((name, i) => {
      const answer = answers[i];
      if (answer === null) {
        if (!session.unknown.has(name)) {
          session.unknown.add(name);
          this.#events.log("warn", `sentinel ${session.address} does not know master ${name}`);
        }
        return;
      }
      const at = hostPort(answer);
      if (at === null) {
        throw new Error(`SENTINEL get-master-addr-by-name ${name} answered ${show(answer)}`);
      }
      session.unknown.delete(name);
      known.push(name);
      if ((this.#switches.get(name) ?? 0) === switches[i]) this.#events.master(name, at.host, at.port, cause);
    });
    if (this.#opts.wantReplicas()) await Promise.all(known.map((name) => this.#replicas(session, name)));
  }

  async #replicas(session: Session, name: string): Promise<void> {
    const switches = this.#switches.get(name) ?? 0;
    const answer = await session.cmd.command("SENTINEL", "replicas", name);
    if (this.#session !== session || (this.#switches.get(name) ?? 0) !== switches) return;
    if (answer instanceof RespError) throw new Error(`SENTINEL replicas ${name} answered -${answer.message}`);
    this.#events.replicas(name, usableReplicas(answer));
  }

  /** Queries replicas outside a round: a failure drops the session. */
  #requeryReplicas(session: Session, name: string): void {
    if (!this.#opts.wantReplicas()) return;
    this.#replicas(session, name).catch((e) => this.#lost(session, errorMessage(e)));
  }

  #message(session: Session, channel: string, message: string): void {
    if (this.#session !== session) return;
    const parts = message.split(" ");
    if (channel === "+switch-master") {
      // <name> <old ip> <old port> <new ip> <new port>
      const [name, , , host, port] = parts;
      if (parts.length !== 5 || !this.#masterNames().includes(name)) return;
      this.#switches.set(name, (this.#switches.get(name) ?? 0) + 1);
      this.#events.master(name, host, Number(port), "switch");
      this.#events.log("info", `sentinel ${session.address}: +switch-master ${message}`);
      this.#requeryReplicas(session, name);
      return;
    }
    // <instance type> <name> <ip> <port> @ <master name> <master ip> <master port>
    if (parts[0] === "slave" && parts[4] === "@" && this.#masterNames().includes(parts[5])) {
      this.#requeryReplicas(session, parts[5]);
    }
  }
}

/** A [host, port] answer, null when it is not one. */
function hostPort(answer: RespValue): { host: string; port: number } | null {
  if (!Array.isArray(answer) || answer.length !== 2) return null;
  const [host, port] = answer;
  if (typeof host !== "string" || typeof port !== "string" || !/^\d+$/.test(port)) return null;
  return { host, port: Number(port) };
}

/**
 * The replicas in a `SENTINEL replicas` answer (one flat field/value array per replica) that may
 * serve reads: none of the flags s_down, o_down, disconnected, and master-link-status ok.
 */
export function usableReplicas(answer: RespValue): ReplicaAddress[] {
  if (!Array.isArray(answer)) throw new Error(`SENTINEL replicas answered ${show(answer)}`);
  const out: ReplicaAddress[] = [];
  for (const entry of answer) {
    if (!Array.isArray(entry)) throw new Error(`SENTINEL replicas answered ${show(answer)}`);
    const fields = new Map<string, RespValue>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    const flags = String(fields.get("flags") ?? "").split(",");
    if (flags.some((f) => DOWN_FLAGS.includes(f)) || fields.get("master-link-status") !== "ok") continue;
    const at = hostPort([fields.get("ip") ?? null, fields.get("port") ?? null]);
    if (at !== null) out.push(at);
  }
  return out;
}

/**
 * What the fake backends share: listening on TCP or a unix socket, accepting connections, feeding
 * each connection's bytes to a protocol session, writing replies in request order, counting, and
 * acting out the injected faults. A fake only supplies its protocol's `Session`.
 */
import { ByteQueue, fromLatin1 } from "./bytes.ts";
import { type Fault, Faults, GARBAGE } from "./faults.ts";

/** What executing one request produced. */
export interface Outcome {
  /** Bytes to send back; absent when the request gets no reply (memcache noreply, redis `*0`). */
  reply?: Uint8Array;
  /** Hang up once this reply and every earlier one is written (quit, protocol error). */
  close?: boolean;
}

/** One complete request found at the head of a connection's unread bytes. */
export interface Framed {
  /** Bytes it occupies. */
  length: number;
  /** Executes it; not called when a fault swallows the request. */
  run(): Outcome;
}

/** A protocol's per-connection state. */
export interface Session {
  /**
   * The request at the start of `buf`, or null while more bytes are needed. `buf` stays valid until
   * the returned request's `run()` has returned; anything kept longer must be copied.
   */
  frame(buf: Uint8Array): Framed | null;
}

/** Where a fake listens. */
export interface ListenOptions {
  /** Interface for TCP; default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 or absent picks a free one (read it back from `port`). */
  port?: number;
  /** Unix socket path; when set, host and port are ignored. */
  path?: string;
}

/** Counters a test can assert on. */
export interface FakeStats {
  /** Complete requests read, whatever the fault in force did with them (a multi-key get is one). */
  requests: number;
  /** Connections accepted since start. */
  connections: number;
}

/** A fake backend server; subclasses add `static start(...)` and the protocol. */
export abstract class FakeServer {
  /** The fault in force (`faults.set({ mode: "silent" })`, `faults.clear()`); see faults.ts. */
  readonly faults: Faults = new Faults();
  /** Request and connection counters. */
  readonly stats: FakeStats = { requests: 0, connections: 0 };
  readonly #opts: ListenOptions;
  #port: number;
  #listener: Deno.Listener | null = null;
  #accepting: Promise<void> = Promise.resolve();
  readonly #peers = new Set<Peer>();

  protected constructor(opts: ListenOptions) {
    this.#opts = opts;
    this.#port = opts.port ?? 0;
  }

  /** A fresh protocol session for a new connection. */
  protected abstract session(): Session;

  /** The TCP port listened on (kept across refuse/restore); 0 for a unix socket. */
  get port(): number {
    return this.#port;
  }

  /** `host:port`, or the unix socket path: the address part of a nutcracker `servers:` entry. */
  get address(): string {
    return this.#opts.path ?? `${this.#opts.host ?? "127.0.0.1"}:${this.#port}`;
  }

  /** Connections open right now (the proxy's side of them may already be gone). */
  get openConnections(): number {
    return this.#peers.size;
  }

  /** Starts listening (again): on the port first bound, so a restored server has its old address. */
  protected async open(): Promise<void> {
    // A refuse() in progress must have released the address first.
    await this.#accepting;
    const o = this.#opts;
    const listener = o.path !== undefined
      ? Deno.listen({ transport: "unix", path: o.path })
      : Deno.listen({ hostname: o.host ?? "127.0.0.1", port: this.#port });
    if (o.path === undefined) this.#port = (listener.addr as Deno.NetAddr).port;
    this.#listener = listener;
    this.#accepting = this.#accept(listener);
  }

  /**
   * Stops listening, so new connects are refused (on a unix socket Deno removes the socket file:
   * connects then fail with ENOENT), and ends every open connection unless `keepConnections`.
   * Stored data survives; `restore()` listens again.
   */
  async refuse(opts: { keepConnections?: boolean } = {}): Promise<void> {
    this.#listener?.close();
    this.#listener = null;
    await this.#accepting;
    if (!opts.keepConnections) {
      const peers = [...this.#peers];
      for (const p of peers) p.kill();
      await Promise.all(peers.map((p) => p.done));
    }
  }

  /** Listens again on the same port or path after `refuse()`; a no-op while listening. */
  async restore(): Promise<void> {
    if (!this.#listener) await this.open();
  }

  /** Stops listening and ends every connection; resolves once all of them are closed. */
  close(): Promise<void> {
    return this.refuse();
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.stats.connections++;
        // Pipelined replies are separate writes: Nagle would hold them back behind delayed ACKs.
        if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
        const peer = new Peer(conn, this.session(), this.faults, this.stats);
        this.#peers.add(peer);
        peer.done.then(() => this.#peers.delete(peer));
      }
    } catch {
      // The listener was closed under a pending accept.
    }
  }
}

/** One accepted connection: its reader, its ordered reply queue and its faults. */
class Peer {
  /** Settles once the connection is closed and nothing of it is pending. */
  readonly done: Promise<void>;
  readonly #conn: Deno.Conn;
  readonly #session: Session;
  readonly #faults: Faults;
  readonly #stats: FakeStats;
  readonly #stop = new AbortController();
  #tail: Promise<void> = Promise.resolve();

  constructor(conn: Deno.Conn, session: Session, faults: Faults, stats: FakeStats) {
    this.#conn = conn;
    this.#session = session;
    this.#faults = faults;
    this.#stats = stats;
    this.done = this.#serve();
  }

  /** Closes the connection now, dropping replies not yet written. */
  kill(): void {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #serve(): Promise<void> {
    const queue = new ByteQueue();
    const buf = new Uint8Array(64 * 1024);
    let hangup = false;
    try {
      while (!hangup) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        queue.push(buf.subarray(0, n));
        while (!hangup) {
          const req = this.#session.frame(queue.bytes);
          if (!req) break;
          this.#stats.requests++;
          hangup = this.#handle(req, this.#faults.take());
          queue.drop(req.length);
        }
      }
      await this.#tail;
      if (hangup) {
        // FIN rather than RST: the peer must see a clean EOF with its request unanswered.
        await this.#conn.closeWrite();
        while (await this.#conn.read(buf) !== null) {
          // Discard until the peer closes too.
        }
      }
    } catch {
      // Reset by the peer, or closed by kill().
    }
    this.kill();
  }

  /** Serves one request under `fault`; true when the connection must hang up after it. */
  #handle(req: Framed, fault: Fault | null): boolean {
    switch (fault?.mode) {
      case "silent":
        return false;
      case "close":
        return true;
      case "garbage":
        this.#send(fromLatin1(GARBAGE), 0);
        return false;
      case "reply":
        this.#send(typeof fault.raw === "string" ? fromLatin1(fault.raw) : fault.raw, 0);
        return false;
    }
    const out = req.run();
    if (out.reply) this.#send(out.reply, fault?.mode === "delay" ? fault.ms : 0);
    return out.close === true;
  }

  /** Queues a reply behind the earlier ones; a delay counts from now, not from the previous write. */
  #send(bytes: Uint8Array, delayMs: number): void {
    const due = Date.now() + delayMs;
    const signal = this.#stop.signal;
    this.#tail = this.#tail
      .then(async () => {
        if (delayMs > 0) await sleep(due - Date.now(), signal);
        for (let at = 0; at < bytes.length && !signal.aborted;) {
          at += await this.#conn.write(bytes.subarray(at));
        }
      })
      .catch(() => this.kill());
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (clearing the timer, for test sanitizers). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

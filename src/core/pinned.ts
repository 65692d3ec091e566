/**
 * One client's pinned server connections: the core's side of a protocol's pinned mode (transactions,
 * subscriptions, blocking commands). Requests go out on connections no other client uses; their
 * replies come back in the client's order through its reply queue.
 */
import { type ExpectedReply, type PinHost, type PinnedSession, PinReply } from "../protocol/types.ts";
import type { Pool, Server } from "./pool.ts";
import { ClientRequest } from "./request.ts";
import type { PinLink, ServerConnection } from "./server_connection.ts";

/** What the client connection does for its pinned mode. */
export interface PinClient {
  /** A reply the proxy gives itself, queued in order. */
  answer(bytes: Uint8Array): void;
  /** A request queued in order, for a reply to come. */
  expect(): ClientRequest;
  /** Stops reading until every request read so far is answered. */
  hold(): void;
  /** The error reply for `reason` after the earlier replies, then the client is closed. */
  close(reason: string): void;
}

/** The reply of a request the proxy added: dropped, whatever it is. */
const DROPPED = new ClientRequest({
  replied: () => {},
  settled: () => {},
  streamReply: () => true,
  whenWritable: () => Promise.resolve(),
}, null);

export class PinnedConnections implements PinHost {
  /** By server, at most one first-in first-out connection and one raw one. */
  readonly #pins = new Map<Server, ServerConnection>();
  readonly #raw = new Map<Server, ServerConnection>();
  #releasing = false;

  constructor(
    private readonly client: PinClient,
    private readonly pool: Pool,
    private readonly session: PinnedSession,
  ) {}

  get servers(): number {
    return this.pool.servers.length;
  }

  route(msg: Uint8Array, start: number, end: number): number {
    return this.pool.route(msg, start, end);
  }

  answer(bytes: Uint8Array): void {
    this.client.answer(bytes);
  }

  expect(): ExpectedReply {
    return this.client.expect();
  }

  send(server: number, bytes: Uint8Array, use: PinReply): string | null {
    const conn = this.#connection(server, this.#pins, null);
    if (typeof conn === "string") return conn;
    if (use === PinReply.Drop) conn.send(bytes, DROPPED);
    else {
      const req = this.client.expect();
      if (use === PinReply.Blocking) conn.sendUntimed(bytes, req);
      else conn.send(bytes, req);
    }
    return null;
  }

  sendRaw(server: number, bytes: Uint8Array): string | null {
    const conn = this.#connection(server, this.#raw, (reply) => this.session.frame(server, reply, this));
    if (typeof conn === "string") return conn;
    conn.send(bytes, null);
    return null;
  }

  hold(): void {
    this.client.hold();
  }

  close(reason: string): void {
    this.client.close(reason);
  }

  release(): void {
    this.#releasing = true;
  }

  /** Whether a request waits for its reply on a pinned connection (a blocking command, say). */
  get busy(): boolean {
    for (const conn of this.#pins.values()) if (conn.busy) return true;
    return false;
  }

  /** Every request read so far is answered: a released state gives its connections back. */
  settle(): void {
    if (!this.#releasing) return;
    this.#releasing = false;
    this.#giveBack(!this.session.active);
  }

  /** The client is gone: its connections go back when the state is clean, else close. */
  clientClosed(): void {
    this.#giveBack(!this.session.active);
  }

  #giveBack(clean: boolean): void {
    const pins = [...this.#pins];
    const raw = [...this.#raw];
    this.#pins.clear();
    this.#raw.clear();
    for (const [server, conn] of pins) server.parkPinned(conn, clean);
    for (const [server, conn] of raw) server.parkPinned(conn, false);
  }

  /** The client's connection to server index `server` in `pins`, opened when there is none yet. */
  #connection(
    server: number,
    pins: Map<Server, ServerConnection>,
    frame: PinLink["frame"],
  ): ServerConnection | string {
    const target = this.pool.servers[server];
    if (target === undefined) return "no such server";
    const pinned = pins.get(target);
    if (pinned !== undefined) return pinned;
    const link: PinLink = {
      frame,
      closed: (conn) => {
        if (pins.get(target) !== conn) return; // given back already
        pins.delete(target);
        this.session.lost(this.pool.servers.indexOf(target), this);
      },
    };
    const conn = target.takePinned(link);
    if (typeof conn !== "string") pins.set(target, conn);
    return conn;
  }
}

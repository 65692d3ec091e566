/**
 * One connection to a backend server, shared by every client of the pool: requests are written in
 * the order they come, replies are matched to them first-in first-out, and a request that times out
 * fails the whole connection, as nutcracker does.
 */
import type { ServerConfig } from "../config/types.ts";
import { Level, logEvent } from "../log.ts";
import type { HandshakeRequest, Protocol, ReplyParser } from "../protocol/types.ts";
import { connectionCounts, type ServerStats } from "../stats/counters.ts";
import { logBug, nextMessageId } from "./bugs.ts";
import type { Histogram } from "../metrics/histogram.ts";
import { hrNow, now } from "./clock.ts";
import { connectServer } from "./connect.ts";
import {
  EOF_REASON,
  errorMessage,
  INTERNAL_REASON,
  INVALID_REASON,
  socketErrorReason,
  TIMEOUT_REASON,
} from "./errors.ts";
import { Queue } from "./queue.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { BatchableRequest, type ReplySlot, ServerRequest } from "./request.ts";
import { WriteBuffer } from "./write_buffer.ts";

/** The pool's view of one backend server, which its connections report to. */
export interface ServerOwner {
  readonly config: ServerConfig;
  readonly stats: ServerStats;
  /** The server as log lines name it. */
  readonly label: string;
  /** Where round trips are recorded; null while metrics are off. */
  readonly latency: Histogram | null;
  /** The pool's name, for log lines. */
  readonly pool: { readonly config: { readonly name: string } };
  /** A reply arrived: the server is healthy again. */
  replied(): void;
  /** The connection is gone; `failed` when it closed for an error (counts towards ejection). */
  connectionClosed(conn: ServerConnection, failed: boolean): void;
}

/** Tunables shared by all server connections of a pool. */
export interface ServerConnectionOptions {
  protocol: Protocol;
  /** Request timeout in ms; 0 for none. */
  timeout: number;
  mbufSize: number;
}

/**
 * What a connection pinned to one client (see PinHost) tells that client: every reply of a raw one
 * (`frame`), and its close.
 */
export interface PinLink {
  /** Takes every reply (valid during the call only), for a raw connection; null: replies are matched first in, first out. */
  readonly frame: ((bytes: Uint8Array) => void) | null;
  closed(conn: ServerConnection): void;
}

/**
 * `shared`: the pool's connections, shared by every client. `stream`: carries one streamed request of
 * one client and nothing else (a client that breaks its request off then harms nobody), and closes
 * once it is answered. `pinned`: belongs to one client at a time (see Server.takePinned).
 */
export type ConnectionMode = "shared" | "stream" | "pinned";

const INITIAL_READ = 4096;
/** A server as log lines name it: its `host:port:weight` (nutcracker's pname, without the name). */
export function labelOf(config: ServerConfig): string {
  return config.raw.trim().split(/\s+/)[0];
}

/** How long requests written to a server's old address may take once its master moved (no pool timeout). */
const CUT_OFF_GRACE_MS = 1000;
/** Bytes written ahead of a slow reader before a streamed value waits for it. */
export const STREAM_BACKLOG = 1 << 20;
/** Messages larger than this are streamed through instead of being buffered whole. */
export const streamThreshold = (mbufSize: number): number => Math.max(256 * 1024, mbufSize);

export class ServerConnection {
  #conn: Deno.Conn | null = null;
  readonly #out: WriteBuffer;
  readonly #read: ReadBuffer;
  readonly #parser: ReplyParser;
  /** Requests sent or queued to send that expect a reply, oldest first. */
  readonly #waiting = new Queue<ServerRequest>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set by cutOff: the written requests' last chance to be answered by the old address. */
  #cutTimer: ReturnType<typeof setTimeout> | undefined;
  /** A request whose bytes are still arriving streams through (on a stream connection). */
  #streaming = false;
  /** What waits for the streaming request's reply (null for noreply). */
  #streamed: ServerRequest | null = null;
  /** Ends #waitForReader when a request is queued behind the reply being streamed. */
  #requestBehind: (() => void) | null = null;
  /** The handshake requests whose replies are still to come, in order: they come before any other. */
  #handshake: HandshakeRequest[];
  /** Bytes of the pending reply already streamed to its client and dropped from the read buffer. */
  #replyDropped = 0;
  /** Requests appended but not handed to the socket yet (the in_queue gauge), and the noreply ones among them. */
  #unsent = 0;
  #unsentBytes = 0;
  #unsentNoreply = 0;
  #unsentNoreplyBytes = 0;
  /** The batch still open to more requests: the last request appended, while it is not sent yet. */
  #open: BatchableRequest | null = null;
  #openKind = -1;
  /** Bytes and members of the open batch. */
  #openBytes = 0;
  #openMembers = 0;
  #closed = false;
  /** Its server left the pool: the connection closes once its requests are answered. */
  #retiring = false;
  /** The connection's number in log lines (s <id>), unique in the process. */
  readonly id: number;
  /** Where it connects: its server's address when it was made (a failover moves the server, not it). */
  readonly target: ServerConfig;

  constructor(
    private readonly owner: ServerOwner,
    private readonly opts: ServerConnectionOptions,
    readonly mode: ConnectionMode = "shared",
    /** The client a pinned connection is serving, or null while it is idle. */
    public link: PinLink | null = null,
  ) {
    this.#out = new WriteBuffer(opts.mbufSize);
    this.#out.onError = (err) => {
      logEvent(Level.ERR, "server", "send", `sendv on sd ${this.id} failed: ${errorMessage(err)}`);
      this.fail(socketErrorReason(err), "err");
    };
    if (mode === "stream") this.#out.onDrain = () => this.#closeIfIdle();
    this.#out.onSend = () => this.#sent();
    this.#read = new ReadBuffer(INITIAL_READ, opts.mbufSize);
    this.#parser = opts.protocol.newReplyParser();
    this.id = ++connectionCounts.total;
    this.target = owner.config;
    this.#handshake = opts.protocol.handshake();
    for (const h of this.#handshake) this.#out.append(h.bytes);
    this.#run();
  }

  /** `<pool> | <server>`, as log lines name a server connection's place. */
  get #where(): string {
    // The address it was made to: after a failover the server itself is elsewhere.
    return `pool ${this.owner.pool.config.name} server '${labelOf(this.target)}'`;
  }

  /**
   * Queues a request (or a fragment) for the server. `slot` null means no reply is expected
   * (memcache noreply): the bytes are written and nothing waits.
   */
  send(bytes: Uint8Array, slot: ReplySlot | null): void {
    this.#enqueue(bytes, slot, this.opts.timeout > 0 ? now() + this.opts.timeout : Infinity);
  }

  /** Queues a request that waits for its reply as long as it takes (a blocking command). */
  sendUntimed(bytes: Uint8Array, slot: ReplySlot): void {
    this.#enqueue(bytes, slot, Infinity);
  }

  /** Whether requests are waiting for their replies here. */
  get busy(): boolean {
    return this.#waiting.length > 0 || this.#streaming;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts a request whose value is still arriving from its client (on a stream connection): its
   * first bytes now, the rest through streamChunk and endStream. Its timeout starts when it is
   * whole, as nutcracker's does.
   */
  beginStream(bytes: Uint8Array, slot: ReplySlot | null): void {
    this.#streaming = true;
    this.#streamed = this.#enqueue(bytes, slot, Infinity);
  }

  /** More bytes of the streaming request. */
  streamChunk(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#open = null;
    const stats = this.owner.stats;
    stats.request_bytes += bytes.length;
    stats.in_queue_bytes += bytes.length;
    this.#unsentBytes += bytes.length;
    if (this.#streamed === null) this.#unsentNoreplyBytes += bytes.length;
    else this.#streamed.size += bytes.length;
    this.#out.append(bytes);
  }

  /** The last bytes of the streaming request. */
  endStream(bytes: Uint8Array): void {
    this.streamChunk(bytes);
    this.#streaming = false;
    if (this.#closed) return;
    if (this.#streamed !== null && this.opts.timeout > 0) {
      this.#streamed.deadline = Date.now() + this.opts.timeout;
      if (this.#timer === undefined) this.#armTimer();
    }
    this.#streamed = null;
  }

  /**
   * Closes the connection once nothing is in flight on it: no more requests come to it (its server
   * left the pool on a reload), and the requests already sent are answered first.
   */
  retire(): void {
    this.#retiring = true;
    this.#out.onDrain = () => this.#closeIfIdle();
    this.#closeIfIdle();
  }

  /**
   * Its server moved elsewhere (a failover): nothing more is written here. Requests not handed to
   * the socket yet fail now with `reason` (the old address never saw them); the ones written are
   * answered (or fail as usual), then it closes. A large value being written cannot be cut cleanly:
   * the connection then closes at once, failing what is in flight.
   */
  cutOff(reason: string): void {
    if (this.#closed) return;
    if (this.#streaming || !this.#out.dropUnsent()) {
      this.fail(reason, "done");
      return;
    }
    // The requests appended since the last onSend are the newest ones waiting (noreply ones never wait).
    let unsent = this.#unsent - this.#unsentNoreply;
    const dropped: ServerRequest[] = [];
    while (unsent > 0) {
      const members = membersOf(this.#waiting.pop()!);
      unsent -= members.length;
      dropped.push(...members);
    }
    this.#sent(); // settle the queue gauges as if they went out, then take the dropped ones back
    for (const sreq of dropped) this.#unqueue(sreq);
    this.retire();
    for (const sreq of dropped) this.#failSlot(sreq.slot, reason);
    if (this.#closed) return;
    // A blocking command may never be answered there (its keys are written to the new master now),
    // nor anything by an old master that hangs: what was written has a bounded time left.
    const grace = this.opts.timeout > 0 ? this.opts.timeout : CUT_OFF_GRACE_MS;
    this.#cutTimer = setTimeout(() => {
      logEvent(
        Level.WARN,
        "server",
        "timeout",
        `requests to ${this.#where} not answered ${grace} ms after its master moved elsewhere`,
      );
      this.fail(TIMEOUT_REASON, "done");
    }, grace);
  }

  /** A stream or retiring connection whose requests are answered (or written, for noreply) closes. */
  #closeIfIdle(): void {
    if (this.mode !== "stream" && !this.#retiring) return;
    if (!this.#streaming && this.#waiting.length === 0 && !this.#out.busy) this.fail("done", "done");
  }

  /** Resolves once most of what was queued has been written (backpressure for streamed values). */
  whenWritable(): Promise<void> {
    return this.#out.whenBelow(STREAM_BACKLOG);
  }

  /** Writes a request (joining the open batch when it can); what waits for its reply, if anything. */
  #enqueue(bytes: Uint8Array, slot: ReplySlot | null, deadline: number): ServerRequest | null {
    const stats = this.owner.stats;
    stats.requests++;
    stats.request_bytes += bytes.length;
    stats.in_queue++;
    stats.in_queue_bytes += bytes.length;
    this.#unsent++;
    this.#unsentBytes += bytes.length;
    if (slot === null) {
      this.#out.append(bytes);
      this.#open = null;
      this.#unsentNoreply++;
      this.#unsentNoreplyBytes += bytes.length;
      return null;
    }
    this.#requestBehind?.();
    const at = this.owner.latency === null ? 0 : hrNow();
    const batching = this.opts.protocol.batching;
    // Only whole requests join batches (a fragment is its own request's part, merged elsewhere).
    const info = slot.request === slot ? slot.request.info : null;
    const kind = batching !== null && info !== null ? batching.kind(info, bytes) : -1;
    let sreq: ServerRequest;
    if (kind < 0) {
      sreq = new ServerRequest(slot, bytes.length, deadline);
      sreq.at = at;
      this.#open = null;
    } else {
      const member = new BatchableRequest(slot, bytes.length, deadline, batching!.key(info!, bytes));
      member.at = at;
      if (this.#join(kind, bytes, member)) return member;
      sreq = this.#open = member;
      this.#openKind = kind;
      this.#openBytes = bytes.length;
      this.#openMembers = 1;
    }
    this.#out.append(bytes);
    this.#waiting.push(sreq);
    if (deadline !== Infinity && this.#timer === undefined) this.#armTimer();
    return sreq;
  }

  /**
   * Adds a request to the open batch of its kind (its bytes extend the batch's, and its reply comes
   * out of the batch's one reply); false when no batch can take it.
   */
  #join(kind: number, bytes: Uint8Array, member: BatchableRequest): boolean {
    const head = this.#open;
    const batching = this.opts.protocol.batching!;
    if (head === null || this.#openKind !== kind || this.#openMembers >= batching.maxMembers) return false;
    const tail = batching.tail(member.slot.request.info!, bytes);
    const size = this.#openBytes - batching.retract + tail.length;
    if (size > batching.maxBytes) return false;
    this.#out.retract(batching.retract);
    this.#out.append(tail);
    this.#openBytes = size;
    this.#openMembers++;
    (head.joined ??= []).push(member);
    return true;
  }

  /**
   * Closes the connection: every request still waiting gets `reason`. Kinds "abort" (a client left
   * in the middle of a streamed request), "bug" (the proxy's own reply handling failed) and "done" (a
   * stream or retiring connection has nothing left in flight) are closes the server is not to blame for: neither
   * counted as its errors nor towards its ejection.
   */
  fail(reason: string, kind: "eof" | "err" | "timeout" | "abort" | "bug" | "done"): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    clearTimeout(this.#cutTimer);
    this.#out.close();
    const stats = this.owner.stats;
    if (this.#conn !== null) {
      try {
        this.#conn.close();
      } catch { /* already closed by the peer */ }
      stats.server_connections--;
      connectionCounts.current--;
    }
    this.#sent(); // settle the queue gauges: everything still queued is dropped below
    const waiting = this.#waiting.drain().flatMap((sreq) => membersOf(sreq));
    for (const sreq of waiting) {
      stats.out_queue--;
      stats.out_queue_bytes -= sreq.size;
    }
    if (kind === "eof") stats.server_eof++;
    else if (kind === "timeout") stats.server_timedout++;
    else if (kind === "err") stats.server_err++;
    this.owner.connectionClosed(this, kind === "eof" || kind === "err" || kind === "timeout");
    logEvent(
      Level.INFO,
      "server",
      "close",
      `closed s ${this.id} to ${this.#where}: ${kind === "eof" ? "eof" : reason}` +
        (waiting.length > 0 ? `, failing ${waiting.length} requests in flight` : ""),
    );
    for (const sreq of waiting) this.#failSlot(sreq.slot, reason);
    this.link?.closed(this);
  }

  /** A request failed without a reply; a bug while failing it is the proxy's and is only logged. */
  #failSlot(slot: ReplySlot, reason: string): void {
    try {
      slot.fail(reason);
    } catch (err) {
      logBug(this.opts.protocol, slot.request.info, `failing a request of ${this.#where}`, err);
    }
  }

  async #run(): Promise<void> {
    let conn: Deno.Conn;
    try {
      conn = await connectServer(this.target);
    } catch (err) {
      this.fail(socketErrorReason(err), "err");
      return;
    }
    if (this.#closed) { // timed out while connecting
      conn.close();
      return;
    }
    this.#conn = conn;
    this.owner.stats.server_connections++;
    connectionCounts.current++;
    logEvent(Level.INFO, "server", "connect", `connected s ${this.id} to ${this.#where}`);
    this.#out.attach(conn);
    const rb = this.#read;
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(rb.space(this.#replyDropped > 0 ? 0 : this.#parser.need));
      } catch (err) {
        if (this.#closed) return;
        logEvent(Level.ERR, "server", "recv", `recv on sd ${this.id} failed: ${errorMessage(err)}`);
        this.fail(socketErrorReason(err), "err");
        return;
      }
      if (this.#closed) return;
      if (n === null) {
        const partial = rb.end - rb.start + this.#replyDropped;
        if (partial > 0) {
          logEvent(
            Level.ERR,
            "server",
            "eof",
            `eof s ${this.id} discarding incomplete rsp ${nextMessageId()} len ${partial}`,
          );
        }
        this.fail(EOF_REASON, "eof");
        return;
      }
      rb.filled(n);
      if (!this.#takeReplies()) return;
      this.#closeIfIdle();
      if (this.#replyDropped > 0 && this.#waiting.length === 1) await this.#waitForReader();
    }
  }

  /**
   * While a large reply streams to the only request in flight here, reading waits for its client to
   * take what it was sent (so a slow reader makes the proxy hold nothing), but only until another
   * request comes to wait behind it: from then on the rest is read and held for the slow client (up
   * to its client_output_limit), so the others never wait for it.
   */
  async #waitForReader(): Promise<void> {
    const behind = new Promise<void>((resolve) => this.#requestBehind = resolve);
    await Promise.race([this.#waiting.peek()!.slot.whenWritable(), behind]);
    this.#requestBehind = null;
  }

  /** Matches every complete reply in the read buffer to its request; false once the connection failed. */
  #takeReplies(): boolean {
    const rb = this.#read;
    const buf = rb.buf;
    const end = rb.end;
    let start = rb.start;
    const parser = this.#parser;
    while (start < end) {
      const dropped = this.#replyDropped;
      let len: number;
      try {
        len = parser.parse(buf, start - dropped, end);
      } catch (err) {
        // The proxy's own parser failed: the byte stream is out of step, but the server did nothing wrong.
        logBug(
          this.opts.protocol,
          this.#waiting.peek()?.slot.request.info ?? null,
          `parsing a reply of ${this.#where}`,
          err,
        );
        this.fail(INTERNAL_REASON, "bug");
        return false;
      }
      if (len === 0) {
        start = this.#streamReply(buf, start);
        break;
      }
      const frame = this.link?.frame;
      if (frame && len > 0 && !parser.failure && this.#handshake.length === 0) {
        this.#frame(frame, buf.subarray(start, start - dropped + len));
        start += len - dropped;
        this.#replyDropped = 0;
        continue;
      }
      const sreq = len < 0 || parser.failure || this.#handshake.length > 0
        ? undefined
        : this.#waiting.shift();
      if (len < 0 || parser.failure || (sreq === undefined && this.#handshake.length === 0)) {
        this.fail(INVALID_REASON, "err"); // garbage, a stray reply, or -LOADING/-BUSY/-OOM
        return false;
      }
      const reply = buf.subarray(start, start - dropped + len);
      if (sreq instanceof BatchableRequest && sreq.joined !== null) {
        if (!this.#deliverBatch(sreq, sreq.joined, reply)) {
          this.#waiting.unshift(sreq); // nothing was delivered: its requests fail with the rest
          this.fail(INVALID_REASON, "err");
          return false;
        }
        this.owner.replied();
      } else {
        this.owner.replied();
        if (sreq === undefined) this.#handshakeReplied(reply);
        else this.#answer(sreq, reply);
      }
      start += len - dropped;
      this.#replyDropped = 0;
    }
    rb.consumed(start);
    return true;
  }

  /** A raw pinned connection's reply, counted and handed over whole. */
  #frame(frame: (bytes: Uint8Array) => void, reply: Uint8Array): void {
    this.owner.replied();
    const stats = this.owner.stats;
    stats.responses++;
    stats.response_bytes += reply.length;
    try {
      frame(reply);
    } catch (err) {
      logBug(this.opts.protocol, null, `handing over a reply of ${this.#where}`, err);
    }
  }

  /** A handshake request's reply: a refusal is logged (nutcracker's line) and the connection goes on. */
  #handshakeReplied(reply: Uint8Array): void {
    const h = this.#handshake[0];
    this.#handshake = this.#handshake.slice(1);
    if (!this.opts.protocol.isError(reply)) return;
    const text = String.fromCharCode(...reply.subarray(1, Math.min(reply.length - 2, 201)));
    logEvent(
      Level.WARN,
      "server",
      "handshake",
      `${h.what} failed on ${this.owner.pool.config.name} | ${this.owner.config.name}: ${text}`,
    );
  }

  /**
   * Hands each request of a batch its part of the batch's reply; false when the reply does not fit
   * them. A bug while cutting it fails the members not answered yet, and only them.
   */
  #deliverBatch(head: BatchableRequest, joined: BatchableRequest[], reply: Uint8Array): boolean {
    const members = [head, ...joined];
    let answered = 0;
    try {
      return this.opts.protocol.batching!.splitReply(
        reply,
        members.map((m) => m.key),
        (m, bytes) => {
          answered = m + 1;
          this.#answer(members[m], bytes);
        },
      );
    } catch (err) {
      logBug(this.opts.protocol, head.slot.request.info, `cutting a batch reply of ${this.#where}`, err);
      for (const m of members.slice(answered)) {
        this.#unqueue(m);
        this.#failSlot(m.slot, INTERNAL_REASON);
      }
      return true;
    }
  }

  /** A request is answered: out of the out_queue gauge. */
  #unqueue(sreq: ServerRequest): void {
    const stats = this.owner.stats;
    stats.out_queue--;
    stats.out_queue_bytes -= sreq.size;
  }

  /**
   * A client's request got its reply: out of the out_queue gauge, counted, handed to the client. A
   * bug in handing it over fails that request alone (with an error reply and a log line).
   */
  #answer(sreq: ServerRequest, reply: Uint8Array): void {
    this.#unqueue(sreq);
    const stats = this.owner.stats;
    stats.responses++;
    stats.response_bytes += reply.length;
    this.owner.latency?.observe((hrNow() - sreq.at) / 1000);
    const slot = sreq.slot;
    try {
      slot.reply(reply);
    } catch (err) {
      logBug(this.opts.protocol, slot.request.info, `delivering a reply of ${this.#where}`, err);
      this.#failSlot(slot, INTERNAL_REASON);
    }
  }

  /**
   * A large whole reply still arriving goes to its client as it comes, when its client is next in
   * line for it; returns where the bytes kept in the read buffer now start.
   */
  #streamReply(buf: Uint8Array, start: number): number {
    const fresh = this.#parser.settled - this.#replyDropped;
    if (fresh <= 0) return start;
    const head = this.#waiting.peek();
    // Batches are buffered whole, to be cut up (fragments refuse to stream: they are merged).
    if (head === undefined || this.#handshake.length > 0) return start;
    if (head instanceof BatchableRequest && head.joined !== null) return start;
    const slot = head.slot;
    if (this.#replyDropped === 0 && this.#parser.need <= streamThreshold(this.opts.mbufSize)) return start;
    if (!slot.stream(buf.subarray(start, start + fresh))) return start;
    this.#replyDropped += fresh;
    return start + fresh;
  }

  /** Queued requests went to the socket: from the in_queue gauge to out_queue (noreply ones just leave). */
  #sent(): void {
    this.#open = null; // its bytes are on their way: nothing can join it any more
    const stats = this.owner.stats;
    stats.in_queue -= this.#unsent;
    stats.in_queue_bytes -= this.#unsentBytes;
    stats.out_queue += this.#unsent - this.#unsentNoreply;
    stats.out_queue_bytes += this.#unsentBytes - this.#unsentNoreplyBytes;
    this.#unsent =
      this.#unsentBytes =
      this.#unsentNoreply =
      this.#unsentNoreplyBytes =
        0;
  }

  #armTimer(): void {
    // Deadlines grow with the queue (one timeout per pool), so the oldest timed request expires first.
    for (let i = 0; i < this.#waiting.length; i++) {
      const deadline = this.#waiting.at(i)!.deadline;
      if (deadline === Infinity) continue;
      const wait = deadline - Date.now();
      if (wait <= 0) {
        this.#timer = undefined;
        logEvent(
          Level.WARN,
          "server",
          "timeout",
          `request to ${this.#where} timed out after ${this.opts.timeout} ms`,
        );
        this.fail(TIMEOUT_REASON, "timeout");
        return;
      }
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#closed) this.#armTimer();
      }, wait);
      return;
    }
    this.#timer = undefined;
  }
}

/** A request and, for the head of a batch, the requests that joined it. */
function membersOf(sreq: ServerRequest): ServerRequest[] {
  return sreq instanceof BatchableRequest && sreq.joined !== null ? [sreq, ...sreq.joined] : [sreq];
}

/**
 * One connection to a backend server, shared by every client of the pool: requests are written in
 * the order they come, replies are matched to them first-in first-out, and a request that times out
 * fails the whole connection, as nutcracker does.
 */
import type { ServerConfig } from "../config/types.ts";
import type { Protocol, ReplyParser } from "../protocol/types.ts";
import { connectionCounts, type ServerStats } from "../stats/counters.ts";
import { now } from "./clock.ts";
import { connectServer } from "./connect.ts";
import { EOF_REASON, INVALID_REASON, socketErrorReason, TIMEOUT_REASON } from "./errors.ts";
import { Queue } from "./queue.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { type ClientRequest, ServerRequest } from "./request.ts";
import { WriteBuffer } from "./write_buffer.ts";

/** The pool's view of one backend server, which its connections report to. */
export interface ServerOwner {
  readonly config: ServerConfig;
  readonly stats: ServerStats;
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

const INITIAL_READ = 4096;
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
  /** A request is streaming through: others wait in #held. */
  #streaming = false;
  /** The streaming request's reply slot (null for noreply). */
  #streamed: ServerRequest | null = null;
  #held: { bytes: Uint8Array; req: ClientRequest | null; fragment: number }[] = [];
  /** Bytes of the pending reply already streamed to its client and dropped from the read buffer. */
  #replyDropped = 0;
  /** Requests appended but not handed to the socket yet (the in_queue gauge), and the noreply ones among them. */
  #unsent = 0;
  #unsentBytes = 0;
  #unsentNoreply = 0;
  #unsentNoreplyBytes = 0;
  /** The batch still open to more requests: the last request appended, while it is not sent yet. */
  #open: ServerRequest | null = null;
  #openKind = -1;
  /** Bytes and members of the open batch. */
  #openBytes = 0;
  #openMembers = 0;
  #closed = false;

  constructor(private readonly owner: ServerOwner, private readonly opts: ServerConnectionOptions) {
    this.#out = new WriteBuffer(opts.mbufSize);
    this.#out.onError = (err) => this.fail(socketErrorReason(err), "err");
    this.#out.onSend = () => this.#sent();
    this.#read = new ReadBuffer(INITIAL_READ, opts.mbufSize);
    this.#parser = opts.protocol.newReplyParser();
    connectionCounts.total++;
    for (const bytes of opts.protocol.handshake()) {
      this.#out.append(bytes);
      this.#waiting.push(new ServerRequest(null, -1, 0, Infinity));
    }
    this.#run();
  }

  /**
   * Queues a request (or a fragment) for the server. `req` null means no reply is expected
   * (memcache noreply): the bytes are written and nothing waits. While a large request streams
   * through, other requests wait (copied) behind it.
   */
  send(bytes: Uint8Array, req: ClientRequest | null, fragment: number): void {
    if (this.#streaming) {
      this.#held.push({ bytes: bytes.slice(), req, fragment });
      return;
    }
    this.#enqueue(bytes, req, fragment, this.opts.timeout > 0 ? now() + this.opts.timeout : Infinity);
  }

  /**
   * Starts a request whose value is still arriving from its client: its first bytes now, the rest
   * through streamChunk and endStream. Its timeout starts when it is whole, as nutcracker's does.
   */
  beginStream(bytes: Uint8Array, req: ClientRequest | null): void {
    this.#enqueue(bytes, req, -1, Infinity);
    this.#streaming = true;
    this.#streamed = req === null ? null : this.#waiting.at(this.#waiting.length - 1)!;
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

  /** The last bytes of the streaming request; requests held behind it go out now. */
  endStream(bytes: Uint8Array): void {
    this.streamChunk(bytes);
    this.#streaming = false;
    if (this.#closed) return;
    if (this.#streamed !== null && this.opts.timeout > 0) {
      this.#streamed.deadline = Date.now() + this.opts.timeout;
      if (this.#timer === undefined) this.#armTimer();
    }
    this.#streamed = null;
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.send(h.bytes, h.req, h.fragment);
  }

  /** Resolves once most of what was queued has been written (backpressure for streamed values). */
  whenWritable(): Promise<void> {
    return this.#out.whenBelow(STREAM_BACKLOG);
  }

  #enqueue(bytes: Uint8Array, req: ClientRequest | null, fragment: number, deadline: number): void {
    const stats = this.owner.stats;
    stats.requests++;
    stats.request_bytes += bytes.length;
    stats.in_queue++;
    stats.in_queue_bytes += bytes.length;
    this.#unsent++;
    this.#unsentBytes += bytes.length;
    const batching = this.opts.protocol.batching;
    const kind = batching !== null && req !== null && fragment < 0 && req.info !== null
      ? batching.kind(req.info, bytes)
      : -1;
    if (kind >= 0 && this.#join(kind, bytes, req!, deadline)) return;
    this.#out.append(bytes);
    this.#open = null;
    if (req === null) {
      this.#unsentNoreply++;
      this.#unsentNoreplyBytes += bytes.length;
      return;
    }
    const sreq = new ServerRequest(req, fragment, bytes.length, deadline);
    this.#waiting.push(sreq);
    if (kind >= 0) {
      sreq.key = batching!.key(req.info!, bytes);
      this.#open = sreq;
      this.#openKind = kind;
      this.#openBytes = bytes.length;
      this.#openMembers = 1;
    }
    if (deadline !== Infinity && this.#timer === undefined) this.#armTimer();
  }

  /**
   * Adds a request to the open batch of its kind (its bytes extend the batch's, and its reply comes
   * out of the batch's one reply); false when no batch can take it.
   */
  #join(kind: number, bytes: Uint8Array, req: ClientRequest, deadline: number): boolean {
    const head = this.#open;
    const batching = this.opts.protocol.batching!;
    if (head === null || this.#openKind !== kind || this.#openMembers >= batching.maxMembers) return false;
    const info = req.info!;
    const tail = batching.tail(info, bytes);
    const size = this.#openBytes - batching.retract + tail.length;
    if (size > batching.maxBytes) return false;
    this.#out.retract(batching.retract);
    this.#out.append(tail);
    this.#openBytes = size;
    this.#openMembers++;
    const member = new ServerRequest(req, -1, bytes.length, deadline);
    member.key = batching.key(info, bytes);
    (head.joined ??= []).push(member);
    return true;
  }

  /**
   * Closes the connection: every request still waiting gets `reason`. Kind "abort" is a close the
   * server is not to blame for (a client left in the middle of a streamed request).
   */
  fail(reason: string, kind: "eof" | "err" | "timeout" | "abort"): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
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
    for (let i = 0; i < this.#waiting.length; i++) {
      const sreq = this.#waiting.at(i)!;
      if (sreq.owner === null) continue;
      stats.out_queue--;
      stats.out_queue_bytes -= sreq.size;
      for (const r of sreq.joined ?? []) {
        stats.out_queue--;
        stats.out_queue_bytes -= r.size;
      }
    }
    if (kind === "eof") stats.server_eof++;
    else if (kind === "timeout") stats.server_timedout++;
    else if (kind === "err") stats.server_err++;
    this.owner.connectionClosed(this, kind !== "abort");
    for (const sreq of this.#waiting.drain()) {
      const owner = sreq.owner;
      if (owner !== null) owner.sink.deliver(owner, sreq.fragment, null, reason);
      for (const r of sreq.joined ?? []) r.owner!.sink.deliver(r.owner!, -1, null, reason);
    }
    for (const h of this.#held.splice(0)) {
      if (h.req !== null) h.req.sink.deliver(h.req, h.fragment, null, reason);
    }
  }

  async #run(): Promise<void> {
    let conn: Deno.Conn;
    try {
      conn = await connectServer(this.owner.config);
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
    this.#out.attach(conn);
    const rb = this.#read;
    try {
      for (;;) {
        const n = await conn.read(rb.space(this.#replyDropped > 0 ? 0 : this.#parser.need));
        if (this.#closed) return;
        if (n === null) {
          this.fail(EOF_REASON, "eof");
          return;
        }
        rb.filled(n);
        if (!this.#takeReplies()) return;
        if (this.#replyDropped > 0) await this.#waiting.peek()?.owner?.sink.whenWritable();
      }
    } catch (err) {
      this.fail(socketErrorReason(err), "err");
    }
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
      const len = parser.parse(buf, start - dropped, end);
      if (len === 0) {
        start = this.#streamReply(buf, start);
        break;
      }
      const sreq = len > 0 && !parser.failure ? this.#waiting.shift() : undefined;
      if (sreq === undefined) { // garbage, a stray reply, or -LOADING/-BUSY/-OOM
        this.fail(INVALID_REASON, "err");
        return false;
      }
      const reply = buf.subarray(start, start - dropped + len);
      if (sreq.joined !== null && !this.#deliverBatch(sreq, reply)) {
        this.#waiting.unshift(sreq); // nothing was delivered: its requests fail with the rest
        this.fail(INVALID_REASON, "err");
        return false;
      }
      this.owner.replied();
      if (sreq.owner !== null && sreq.joined === null) this.#answer(sreq, reply);
      start += len - dropped;
      this.#replyDropped = 0;
    }
    rb.consumed(start);
    return true;
  }

  /** Hands each request of a batch its part of the batch's reply; false when the reply does not fit them. */
  #deliverBatch(head: ServerRequest, reply: Uint8Array): boolean {
    const members = [head, ...head.joined!];
    return this.opts.protocol.batching!.splitReply(
      reply,
      members.map((m) => m.key!),
      (m, bytes) => this.#answer(members[m], bytes),
    );
  }

  /** A client's request got its reply: out of the out_queue gauge, counted, handed to the client. */
  #answer(sreq: ServerRequest, reply: Uint8Array): void {
    const stats = this.owner.stats;
    stats.out_queue--;
    stats.out_queue_bytes -= sreq.size;
    stats.responses++;
    stats.response_bytes += reply.length;
    const owner = sreq.owner!;
    owner.sink.deliver(owner, sreq.fragment, reply, "");
  }

  /**
   * A large whole reply still arriving goes to its client as it comes, when its client is next in
   * line for it; returns where the bytes kept in the read buffer now start.
   */
  #streamReply(buf: Uint8Array, start: number): number {
    const fresh = this.#parser.settled - this.#replyDropped;
    if (fresh <= 0) return start;
    const head = this.#waiting.peek();
    const owner = head?.owner;
    // Batches and fragments are buffered whole: their replies are cut up or merged.
    if (owner === undefined || owner === null || head!.fragment >= 0 || head!.joined !== null) return start;
    if (this.#replyDropped === 0 && this.#parser.need <= streamThreshold(this.opts.mbufSize)) return start;
    if (!owner.sink.streamReply(owner, buf.subarray(start, start + fresh))) return start;
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

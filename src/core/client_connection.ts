/**
 * One client connection: frames its requests, routes them to the pool's shared server connections
 * (splitting multi-key requests), and writes the replies back strictly in request order.
 */
import {
  Action,
  type Protocol,
  ProtocolError,
  type RequestInfo,
  type RequestParser,
  type Session,
} from "../protocol/types.ts";
import { connectionCounts } from "../stats/counters.ts";
import { EOF_REASON, INVALID_REASON, REFUSED_REASON } from "./errors.ts";
import { type ServerConnection, STREAM_BACKLOG, streamThreshold } from "./server_connection.ts";
import type { Pool } from "./pool.ts";
import { Queue } from "./queue.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { ClientRequest, type ReplyTarget } from "./request.ts";
import { WriteBuffer } from "./write_buffer.ts";

const INITIAL_READ = 1024;

export class ClientConnection implements ReplyTarget {
  /** Requests whose replies are not written yet, in request order. */
  readonly #queue = new Queue<ClientRequest>();
  readonly #out: WriteBuffer;
  readonly #read: ReadBuffer;
  readonly #parser: RequestParser;
  readonly #session: Session;
  readonly #protocol: Protocol;
  /** False once the client sent quit, EOF, or bytes that cannot be trusted: no more requests are taken. */
  #reading = true;
  #closed = false;
  /** Whether the close is counted as client_eof (else client_err). */
  #eof = false;
  /** A reply that closes the client was written: later replies wait for #writeFatal. */
  #fatal = false;
  /** A large request being forwarded while it arrives; `dropped` of its bytes are gone from the read buffer. */
  #stream: { conn: ServerConnection; dropped: number } | null = null;

  constructor(
    private readonly conn: Deno.Conn,
    private readonly pool: Pool,
    private readonly mbufSize: number,
    private readonly onClose: () => void,
  ) {
    this.#protocol = pool.protocol;
    this.#parser = this.#protocol.newRequestParser();
    this.#session = this.#protocol.newSession();
    this.#read = new ReadBuffer(INITIAL_READ, mbufSize);
    this.#out = new WriteBuffer(mbufSize);
    this.#out.onError = () => this.#close();
    this.#out.onDrain = () => {
      if (!this.#reading && this.#queue.length === 0) this.#close();
    };
    this.#out.attach(conn);
    pool.stats.client_connections++;
    connectionCounts.total++;
    connectionCounts.current++;
  }

  /** Reads and serves requests until the client leaves or is closed. */
  async run(): Promise<void> {
    const rb = this.#read;
    try {
      while (this.#reading) {
        const n = await this.conn.read(rb.space(this.#stream === null ? this.#parser.need : 0));
        if (n === null) {
          this.#eof = true;
          break;
        }
        rb.filled(n);
        this.#takeRequests();
        if (this.#stream !== null) await this.#stream.conn.whenWritable();
      }
    } catch {
      if (this.#closed) return;
      this.#close(); // reset or other socket error: nothing more can be written
      return;
    }
    this.#reading = false;
    if (this.#stream !== null) this.#abortStream(); // EOF in the middle of a streamed request
    this.#finishIfDone();
  }

  deliver(req: ClientRequest, fragment: number, bytes: Uint8Array | null, reason: string): void {
    if (this.#closed) return; // the client left; its late replies are dropped
    if (fragment < 0) {
      if (bytes === null && req.streamed) {
        this.#close(); // part of the reply is out already: the client cannot be given a clean answer
        return;
      }
      if (bytes === null) this.#fail(req, reason);
      else if (this.#queue.peek() === req && !this.#fatal) {
        // The common case: the oldest request's reply goes straight to the socket buffer.
        this.#queue.shift();
        this.#out.append(bytes);
      } else {
        req.reply = bytes.slice();
      }
    } else {
      // Replies are kept until the last fragment's; that one is merged at once, so needs no copy.
      if (bytes !== null) req.fragmentReplies![fragment] = req.waiting === 1 ? bytes : bytes.slice();
      else if (req.failure === null) req.failure = reason;
      if (--req.waiting > 0) return;
      this.#merge(req);
      // A merge may be the last reply itself: copy it if it cannot be written right now.
      if (req.reply === bytes && (this.#queue.peek() !== req || this.#fatal)) req.reply = bytes!.slice();
    }
    this.#writeReady();
  }

  streamReply(req: ClientRequest, bytes: Uint8Array): boolean {
    if (this.#closed || this.#fatal) return true; // nobody will read it
    if (this.#queue.peek() !== req) return false;
    req.streamed = true;
    this.#out.append(bytes);
    return true;
  }

  whenWritable(): Promise<void> {
    return this.#out.whenBelow(STREAM_BACKLOG);
  }

  #takeRequests(): void {
    const rb = this.#read;
    const buf = rb.buf;
    const end = rb.end;
    let start = rb.start;
    while (start < end && this.#reading) {
      const stream = this.#stream;
      const dropped = stream === null ? 0 : stream.dropped;
      let info: RequestInfo | null;
      try {
        info = this.#parser.parse(buf, start - dropped, end);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        if (stream !== null) this.#abortStream();
        const req = this.#answer(err.reply ?? this.#protocol.clientErrorReply(err.message));
        if (err.skip >= 0) {
          start += err.skip;
          continue;
        }
        req.closeAfter = true;
        this.#reading = false;
        break;
      }
      if (info === null) {
        start = this.#streamRequest(buf, start);
        break;
      }
      const msgEnd = start - dropped + info.length;
      if (stream === null) this.#handle(info, buf.subarray(start, msgEnd));
      else {
        stream.conn.endStream(buf.subarray(start, msgEnd));
        this.#stream = null;
      }
      start = msgEnd;
    }
    rb.consumed(start);
    this.#writeReady();
  }

  /**
   * A large request still arriving is forwarded as it comes once its routing is known (its bytes
   * the parser has settled go out and are dropped); returns where the kept bytes now start.
   */
  #streamRequest(buf: Uint8Array, start: number): number {
    const parser = this.#parser;
    const settled = parser.settled;
    let stream = this.#stream;
    if (stream === null) {
      if (parser.need <= streamThreshold(this.mbufSize) || settled === 0) return start;
      const info = parser.pending();
      if (info === null) return start;
      const head = buf.subarray(start, start + settled);
      if (this.#protocol.intercept(info, head, this.#session) !== null) return start; // answered when whole
      const keys = info.keys;
      const server = keys.length === 0
        ? this.pool.pick(head, -1, -1)
        : this.pool.pick(head, keys[0], keys[1]);
      const conn = server < 0 ? REFUSED_REASON : this.pool.servers[server].connection();
      if (typeof conn === "string") return start; // fails with nutcracker's error once whole
      const req = info.noreply ? null : new ClientRequest(this, info);
      if (req !== null) this.#queue.push(req);
      conn.beginStream(head, req);
      stream = this.#stream = { conn, dropped: settled };
      return start + settled;
    }
    const fresh = settled - stream.dropped;
    if (fresh <= 0) return start;
    stream.conn.streamChunk(buf.subarray(start, start + fresh));
    stream.dropped += fresh;
    return start + fresh;
  }

  /** The client broke off a streamed request: the server connection carrying its first part cannot be used again. */
  #abortStream(): void {
    const conn = this.#stream?.conn;
    this.#stream = null;
    conn?.fail(EOF_REASON, "abort");
  }

  #handle(info: RequestInfo, msg: Uint8Array): void {
    const local = this.#protocol.intercept(info, msg, this.#session);
    if (local !== null) {
      this.#answer(local);
      return;
    }
    const pool = this.pool;
    const keys = info.keys;
    switch (info.action) {
      case Action.Quit:
        this.#reading = false;
        return;
      case Action.Forward: {
        const server = keys.length === 0 ? pool.pick(msg, -1, -1) : pool.pick(msg, keys[0], keys[1]);
        if (info.noreply) {
          const conn = server >= 0 ? pool.servers[server].connection() : null;
          if (typeof conn === "object" && conn !== null) conn.send(msg, null, -1);
          return;
        }
        const req = new ClientRequest(this, info);
        this.#queue.push(req);
        const conn = server < 0 ? REFUSED_REASON : pool.servers[server].connection();
        if (typeof conn === "string") this.#fail(req, conn);
        else conn.send(msg, req, -1);
        return;
      }
      case Action.Split: {
        const owners: number[] = [];
        for (let i = 0; i < keys.length; i += 2) {
          const server = pool.pick(msg, keys[i], keys[i + 1]);
          if (server < 0) {
            // No live server. Where a failed fragment closes the client, nutcracker closes it with this
            // request's error only when earlier replies are still to be written (they go out
            // together), else with nothing.
            const closes = this.#protocol.closesOnFragmentFailure(info);
            if (closes && this.#queue.length === 0) {
              this.#reading = false;
              return;
            }
            const failed = new ClientRequest(this, info);
            this.#queue.push(failed);
            failed.failure = REFUSED_REASON;
            this.#merge(failed);
            return;
          }
          owners.push(server);
        }
        const req = new ClientRequest(this, info);
        this.#queue.push(req);
        const fragments = this.#protocol.split(info, msg, owners);
        req.fragments = fragments;
        req.fragmentReplies = new Array(fragments.length).fill(null);
        req.waiting = fragments.length;
        pool.stats.fragments += fragments.length;
        for (let i = 0; i < fragments.length; i++) {
          const conn = pool.servers[fragments[i].server].connection();
          if (typeof conn === "string") this.deliver(req, i, null, conn);
          else conn.send(fragments[i].bytes, req, i);
        }
        return;
      }
    }
  }

  /** Queues a reply the proxy gives itself. */
  #answer(reply: Uint8Array): ClientRequest {
    const req = new ClientRequest(this, null);
    req.reply = reply;
    this.#queue.push(req);
    return req;
  }

  /** A request failed without a reply: nutcracker's error reply, counted as a forwarding error. */
  #fail(req: ClientRequest, reason: string): void {
    req.reply = this.#protocol.errorReply(reason);
    this.pool.stats.forward_error++;
  }

  /** All fragments are in (or failed): the merged reply, or the error of the first failed fragment. */
  #merge(req: ClientRequest): void {
    if (req.failure !== null) {
      this.#fail(req, req.failure);
      req.closeAfter = this.#protocol.closesOnFragmentFailure(req.info!);
      return;
    }
    const merged = this.#protocol.merge(req.info!, req.fragments!, req.fragmentReplies as Uint8Array[]);
    if (merged === null) this.#fail(req, INVALID_REASON);
    else req.reply = merged;
  }

  /** Writes the replies that are ready, in order, up to the first still missing. */
  #writeReady(): void {
    if (this.#fatal) return; // the rest is settled by #writeFatal
    const q = this.#queue;
    for (let req = q.peek(); req !== undefined && req.reply !== null; req = q.peek()) {
      q.shift();
      this.#out.append(req.reply);
      if (req.closeAfter) {
        this.#reading = false;
        this.#fatal = true;
        queueMicrotask(() => this.#writeFatal());
        return;
      }
    }
    this.#finishIfDone();
  }

  /**
   * After a reply that closes the client: nutcracker's closing write carries the replies done in
   * the same event-loop turn (a failed server connection fails all its requests at once); the rest
   * are dropped.
   */
  #writeFatal(): void {
    const q = this.#queue;
    for (let req = q.peek(); req !== undefined && req.reply !== null; req = q.peek()) {
      q.shift();
      this.#out.append(req.reply);
    }
    q.drain();
    this.#finishIfDone();
  }

  /** Closes once reading stopped and every reply is written. */
  #finishIfDone(): void {
    if (!this.#reading && this.#queue.length === 0 && !this.#out.busy) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream !== null) this.#abortStream();
    this.#reading = false;
    this.#out.close();
    try {
      this.conn.close();
    } catch { /* already closed */ }
    const stats = this.pool.stats;
    stats.client_connections--;
    if (this.#eof) stats.client_eof++;
    else stats.client_err++;
    connectionCounts.current--;
    this.onClose();
  }
}

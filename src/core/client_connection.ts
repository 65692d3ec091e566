/**
 * One client connection: frames its requests, routes them to the pool's shared server connections
 * (splitting multi-key requests), and writes the replies back strictly in request order.
 */
import { Level, logEvent, logs } from "../log.ts";
import {
  Action,
  type Protocol,
  ProtocolError,
  type RequestInfo,
  type RequestParser,
  type Session,
} from "../protocol/types.ts";
import { connectionCounts } from "../stats/counters.ts";
import { logBug, nextMessageId } from "./bugs.ts";
import { EOF_REASON, errorMessage, INTERNAL_REASON, INVALID_REASON, REFUSED_REASON } from "./errors.ts";
import { hrNow } from "./clock.ts";
import { type ServerConnection, STREAM_BACKLOG, streamThreshold } from "./server_connection.ts";
import type { Pool } from "./pool.ts";
import { Queue } from "./queue.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { type PinClient, PinnedConnections } from "./pinned.ts";
import { ClientRequest, type RequestOwner, SplitRequest } from "./request.ts";
import { WriteBuffer } from "./write_buffer.ts";

const INITIAL_READ = 1024;
/**
 * Bytes read ahead while a client waits for a pinned reply (a blocking command): reading goes on so a
 * client that hangs up is noticed (and its pinned connection closed) before the reply comes.
 */
const PAUSED_READ_LIMIT = 64 * 1024;

/**
 * Test seam: called as each whole request's reply reaches its client, so a test can stand in for a
 * bug in that step. Never set outside tests.
 */
export const replySeam: { beforeReply: ((req: ClientRequest) => void) | null } = { beforeReply: null };

/** How a client address reads in log lines. */
function peerOf(conn: Deno.Conn): string {
  const a = conn.remoteAddr;
  return a.transport === "tcp" || a.transport === "udp" ? `${a.hostname}:${a.port}` : "unix socket";
}

export class ClientConnection implements RequestOwner {
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
  /** Whether the close is counted as client_eof (else client_err, unless draining). */
  #eof = false;
  /**
   * The proxy is stopping: the client is closed as soon as every request it sent is answered, and
   * that close is neither its eof nor an error.
   */
  #draining = false;
  /** A reply that closes the client was written: later replies wait for #writeFatal. */
  #fatal = false;
  /** A large request being forwarded while it arrives; `dropped` of its bytes are gone from the read buffer. */
  #stream: { conn: ServerConnection; dropped: number } | null = null;
  /** The connection's number in log lines (c <id>), unique in the process. */
  readonly id: number;
  /** Bytes of replies kept in the queue for their turn (client_output_limit counts them). */
  #heldBytes = 0;
  /**
   * Reading and framing wait for the client's replies to be in: a large request is streamed (on a
   * server connection of its own) only when nothing of the client is in flight, and nothing after it
   * is sent before its reply, so the server sees the client's requests in the order they came.
   */
  #paused = false;
  /** Resolves the wait for the queue to empty (see #paused). */
  #onQueueEmpty: (() => void) | null = null;
  /**
   * Requests just read are being served: replies settled meanwhile (a request failed at once) are
   * written when the whole read is served, together, as nutcracker writes them.
   */
  #taking = false;
  /** The client's pinned server connections, once it used a pinned mode (see Session.pinned). */
  #pins: PinnedConnections | null = null;
  /** A read is outstanding (requests may be served meanwhile, after a pause: see #resume). */
  #readPending = false;
  /** The request the pinned session is serving, for the metrics of the replies it queues. */
  #current: RequestInfo | null = null;

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
    this.#out.onError = (err) => {
      logEvent(Level.ERR, "client", "send", `sendv on sd ${this.id} failed: ${errorMessage(err)}`);
      this.#close("send failed");
    };
    this.#out.onDrain = () => {
      if (this.#ending && this.#queue.length === 0) this.#close("done");
    };
    this.#out.attach(conn);
    pool.stats.client_connections++;
    this.id = ++connectionCounts.total;
    connectionCounts.current++;
    if (logs(Level.INFO)) {
      logEvent(
        Level.INFO,
        "client",
        "accept",
        `accepted c ${this.id} from ${peerOf(conn)} on pool ${pool.config.name}`,
      );
    }
  }

  /** Reads and serves requests until the client leaves or is closed. */
  async run(): Promise<void> {
    const rb = this.#read;
    let hungUp = false;
    while (this.#reading) {
      if (this.#paused && !(this.#pins?.busy && rb.end - rb.start < PAUSED_READ_LIMIT)) {
        await this.#queueEmpty();
        if (this.#closed) return;
        this.#resume();
        continue;
      }
      let n: number | null;
      try {
        this.#readPending = true;
        n = await this.conn.read(rb.space(this.#stream === null ? this.#parser.need : 0));
      } catch (err) {
        if (this.#closed) return;
        // A reset or other socket error: nothing more can be written.
        logEvent(Level.ERR, "client", "recv", `recv on sd ${this.id} failed: ${errorMessage(err)}`);
        this.#close("recv failed");
        return;
      } finally {
        this.#readPending = false;
      }
      if (n === null) {
        this.#eof = hungUp = true;
        break;
      }
      rb.filled(n);
      if (!this.#paused) this.#takeRequests();
      if (this.#stream !== null) await this.#stream.conn.whenWritable();
    }
    if (this.#closed) return;
    this.#reading = false;
    const partial = rb.end - rb.start + (this.#stream?.dropped ?? 0);
    if (hungUp && partial > 0) {
      logEvent(
        Level.ERR,
        "client",
        "eof",
        `eof c ${this.id} discarding incomplete req ${nextMessageId()} len ${partial}`,
      );
    }
    if (this.#stream !== null) this.#abortStream(); // EOF in the middle of a streamed request
    if (hungUp && this.#pins?.busy) {
      // Nobody will read the reply of its blocking command: closing its connection ends the wait,
      // so the data it would take stays for others.
      this.#close("eof");
      return;
    }
    this.#finishIfDone();
  }

  /** After a pause (see #paused): every earlier reply is in, the requests read meanwhile are served. */
  #resume(): void {
    if (this.#closed || !this.#paused || this.#queue.length > 0) return;
    this.#pins?.settle();
    this.#paused = false;
    this.#takeRequests();
  }

  replied(req: ClientRequest, bytes: Uint8Array): void {
    if (this.#closed || req.answer !== null) return; // the client left, or the request was failed already
    replySeam.beforeReply?.(req);
    if (this.#queue.peek() === req && !this.#fatal) {
      // The common case: the oldest request's reply goes straight to the socket buffer.
      this.#queue.shift();
      this.#out.append(bytes);
      this.#written(req, bytes);
    } else {
      this.#hold(req, bytes.slice());
    }
    this.#writeReady();
    this.#checkOutput();
  }

  settled(req: ClientRequest, reason: string | null): void {
    if (this.#closed || req.answer !== null) return;
    try {
      if (reason !== null && req.streamed) {
        this.#close("reply broken off"); // part of the reply is out already: no clean answer can follow
        return;
      }
      if (!(req instanceof SplitRequest)) this.#fail(req, reason ?? INVALID_REASON);
      else if (reason !== null) {
        this.#fail(req, reason);
        req.closeAfter = this.#protocol.closesOnFragmentFailure(req.info!);
      } else {
        this.#merge(req);
        // A merge may be the last fragment's reply itself, a view into a read buffer: copy it if it
        // cannot be written right now.
        const answer = req.answer!;
        if ((this.#queue.peek() !== req || this.#fatal) && req.replies.includes(answer)) {
          req.answer = answer.slice();
        }
      }
      if (!this.#taking) this.#writeReady();
      this.#checkOutput();
    } catch (err) {
      // The reply path itself is broken for this client: it cannot be answered in order any more.
      logBug(this.#protocol, req.info, `answering c ${this.id} on pool ${this.pool.config.name}`, err);
      this.#close("internal error");
    }
  }

  streamReply(req: ClientRequest, bytes: Uint8Array): boolean {
    if (this.#closed || this.#fatal) return true; // nobody will read it
    if (this.#queue.peek() !== req) return false;
    req.streamed = true;
    this.#out.append(bytes);
    this.#checkOutput();
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
    this.pool.readmitDue();
    this.#taking = true;
    while (start < end && this.#reading && !this.#paused) {
      const stream = this.#stream;
      const dropped = stream === null ? 0 : stream.dropped;
      let info: RequestInfo | null;
      try {
        info = this.#parser.parse(buf, start - dropped, end);
        if (info === null) start = this.#streamRequest(buf, start);
      } catch (err) {
        if (stream !== null) this.#abortStream();
        if (!(err instanceof ProtocolError)) {
          // The proxy's own framing failed: this client's stream is out of step, so it alone is closed.
          logBug(
            this.#protocol,
            null,
            `reading a request of c ${this.id} on pool ${this.pool.config.name}`,
            err,
          );
          this.#answer(this.#protocol.errorReply(INTERNAL_REASON)).closeAfter = true;
          this.#reading = false;
          break;
        }
        if (err.log !== null) logEvent(Level.ERR, "client", "parse", err.log(nextMessageId()));
        const req = this.#answer(this.#protocol.clientErrorReply(err.message));
        if (err.skip >= 0) {
          if (this.#session.pinned?.active) this.#session.pinned.refused();
          start += err.skip;
          continue;
        }
        req.closeAfter = true;
        this.#reading = false;
        break;
      }
      if (info === null) break;
      if (info.action === Action.Pin && this.#queue.length > 0 && !this.#session.pinned?.active) {
        // Entering a pinned state waits for the earlier replies: the servers see the client's
        // requests in the order they came.
        this.#paused = true;
        break;
      }
      const msgEnd = start - dropped + info.length;
      if (stream === null) this.#take(info, buf.subarray(start, msgEnd));
      else {
        stream.conn.endStream(buf.subarray(start, msgEnd));
        this.#stream = null;
        this.#paused = true; // nothing after it goes out before its reply
      }
      start = msgEnd;
    }
    this.#taking = false;
    if (start < end && this.#stream === null && !this.#paused && this.#reading) this.#checkInput(end - start);
    rb.consumed(start, this.#readPending);
    this.#writeReady();
  }

  /**
   * A request still arriving that is buffered whole (not streamed) may hold at most
   * client_input_limit bytes: past it (or when it announces more) its client is refused and closed.
   */
  #checkInput(buffered: number): void {
    const limit = this.pool.config.clientInputLimit;
    const size = Math.max(buffered, this.#parser.need);
    if (limit === 0 || size <= limit) return;
    logEvent(
      Level.WARN,
      "client",
      "input-limit",
      `closing c ${this.id} on pool ${this.pool.config.name}: a request of ${size} bytes is over ` +
        `client_input_limit ${limit}`,
    );
    this.#answer(this.#protocol.clientErrorReply(`request too large (over ${limit} bytes)`)).closeAfter =
      true;
    this.#reading = false;
  }

  /** Resolves once every request of the client is answered (or the client is closed). */
  #queueEmpty(): Promise<void> {
    if (this.#queue.length === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#onQueueEmpty = resolve);
  }

  /**
   * Serves one framed request. A bug in doing so fails that request alone: it is answered with an
   * error reply (unless it expects none) and the client's later requests go on.
   */
  #take(info: RequestInfo, msg: Uint8Array): void {
    const queued = this.#queue.length;
    const metrics = this.pool.metrics;
    if (metrics !== null) metrics.commands[info.cmd]++;
    try {
      this.#handle(info, msg);
    } catch (err) {
      logBug(
        this.#protocol,
        info,
        `forwarding a request of c ${this.id} on pool ${this.pool.config.name}`,
        err,
      );
      const req = this.#queue.at(queued);
      if (req !== undefined) {
        if (req.answer === null) this.#fail(req, INTERNAL_REASON);
      } else if (!info.noreply && info.action !== Action.Quit) {
        this.#answer(this.#protocol.errorReply(INTERNAL_REASON));
      }
    }
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
      if (this.#session.pinned?.active) return start; // it belongs to the pinned state: whole
      const info = parser.pending();
      if (info === null) return start;
      if (this.#queue.length > 0) { // earlier requests first: see #paused
        this.#paused = true;
        return start;
      }
      const head = buf.subarray(start, start + settled);
      if (this.#session.intercept(info, head) !== null) return start; // answered when whole
      const keys = info.keys;
      const server = keys.length === 0
        ? this.pool.route(head, -1, -1)
        : this.pool.route(head, keys[0], keys[1]);
      if (server < 0) return start; // fails with nutcracker's error once whole
      const req = info.noreply ? null : new ClientRequest(this, info);
      const conn = this.pool.servers[server].beginStream(head, req);
      if (conn === null) return start;
      if (req !== null) this.#track(req);
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
    const local = this.#session.intercept(info, msg);
    if (local !== null) {
      this.#answer(local, info);
      return;
    }
    const pool = this.pool;
    const keys = info.keys;
    const pinned = this.#session.pinned;
    if (
      pinned !== undefined && info.action !== Action.Quit && (info.action === Action.Pin || pinned.active)
    ) {
      this.#current = info;
      try {
        pinned.request(info, msg, this.#pins ??= new PinnedConnections(this.#pinClient(), pool, pinned));
      } finally {
        this.#current = null;
      }
      return;
    }
    switch (info.action) {
      case Action.Quit:
        // nutcracker marks a quitting client as at EOF: its close counts one client_eof.
        this.#reading = false;
        this.#eof = true;
        return;
      case Action.Fanout:
        this.#sendSplit(info, msg, pool.servers.map((_, i) => i));
        return;
      case Action.Forward: {
        const server = keys.length === 0 ? pool.route(msg, -1, -1) : pool.route(msg, keys[0], keys[1]);
        if (info.noreply) {
          pool.send(server, msg, null);
          return;
        }
        const req = new ClientRequest(this, info);
        this.#track(req);
        pool.send(server, msg, req, info);
        return;
      }
      case Action.Split: {
        const owners: number[] = [];
        for (let i = 0; i < keys.length; i += 2) {
          const server = pool.route(msg, keys[i], keys[i + 1]);
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
            this.#track(failed);
            this.#fail(failed, REFUSED_REASON);
            failed.closeAfter = closes;
            return;
          }
          owners.push(server);
        }
        this.#sendSplit(info, msg, owners);
        return;
      }
    }
  }

  /** Sends a request's fragments, one per server of `owners` the protocol's split picks. */
  #sendSplit(info: RequestInfo, msg: Uint8Array, owners: readonly number[]): void {
    const fragments = this.#protocol.split(info, msg, owners);
    const req = new SplitRequest(this, info, fragments);
    this.#track(req);
    this.pool.stats.fragments += fragments.length;
    for (let i = 0; i < fragments.length; i++) {
      this.pool.send(fragments[i].server, fragments[i].bytes, req.slot(i), info);
    }
  }

  /** How the pinned connections queue the client's replies (see PinnedConnections). */
  #pinClient(): PinClient {
    return {
      answer: (bytes) => {
        this.#answer(bytes, this.#current);
        if (!this.#taking) this.#writeReady();
        this.#checkOutput();
      },
      expect: () => {
        const req = new ClientRequest(this, this.#current);
        this.#track(req);
        return req;
      },
      hold: () => this.#paused = true,
      close: (reason) => {
        this.#answer(this.#protocol.errorReply(reason)).closeAfter = true;
        this.#reading = false;
        if (!this.#taking) this.#writeReady();
      },
    };
  }

  /** Queues a reply the proxy gives itself (`info`: to a well-formed request, counted in metrics). */
  #answer(reply: Uint8Array, info: RequestInfo | null = null): ClientRequest {
    const req = new ClientRequest(this, info);
    this.#hold(req, reply);
    this.#track(req);
    return req;
  }

  /** Queues a request for its reply, noting when it came while metrics are on. */
  #track(req: ClientRequest): void {
    if (this.pool.metrics !== null) req.at = hrNow();
    this.#queue.push(req);
  }

  /** A request's reply (or its last part) is written: its latency and, if an error, its command's errors. */
  #written(req: ClientRequest, bytes: Uint8Array): void {
    const metrics = this.pool.metrics;
    if (metrics === null || req.info === null) return;
    metrics.replied(req.info.cmd, hrNow() - req.at, !req.streamed && this.#protocol.isError(bytes));
  }

  /** A request failed without a reply: nutcracker's error reply, counted as a forwarding error. */
  #fail(req: ClientRequest, reason: string): void {
    this.#hold(req, this.#protocol.errorReply(reason));
    this.pool.stats.forward_error++;
  }

  /** Every fragment replied: the merged reply, or an error when the replies do not merge. */
  #merge(req: SplitRequest): void {
    let merged: Uint8Array | null;
    try {
      merged = this.#protocol.merge(req.info!, req.fragments, req.replies as Uint8Array[]);
    } catch (err) {
      logBug(
        this.#protocol,
        req.info,
        `merging replies for c ${this.id} on pool ${this.pool.config.name}`,
        err,
      );
      this.#fail(req, INTERNAL_REASON);
      return;
    }
    if (merged === null) this.#fail(req, INVALID_REASON);
    else this.#hold(req, merged);
  }

  /** Keeps a request's reply until its turn to be written; it counts towards the output limit. */
  #hold(req: ClientRequest, answer: Uint8Array): void {
    req.answer = answer;
    this.#heldBytes += answer.length;
  }

  /**
   * Closes a client that holds more unread replies than client_output_limit allows (it does not
   * read, or reads far slower than it asks): its replies are dropped as they come, so the server
   * connections it shares never wait for it.
   */
  #checkOutput(): void {
    const limit = this.pool.config.clientOutputLimit;
    const held = this.#out.backlog + this.#heldBytes;
    if (limit === 0 || held <= limit || this.#closed) return;
    logEvent(
      Level.WARN,
      "client",
      "output-limit",
      `closing c ${this.id} on pool ${this.pool.config.name}: ${held} bytes of replies not read, ` +
        `over client_output_limit ${limit}`,
    );
    this.#close("output limit");
  }

  /** Writes the replies that are ready, in order, up to the first still missing. */
  #writeReady(): void {
    if (this.#fatal) return; // the rest is settled by #writeFatal
    const q = this.#queue;
    for (let req = q.peek(); req !== undefined && req.answer !== null; req = q.peek()) {
      q.shift();
      this.#heldBytes -= req.answer.length;
      this.#out.append(req.answer);
      this.#written(req, req.answer);
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
    for (let req = q.peek(); req !== undefined && req.answer !== null; req = q.peek()) {
      q.shift();
      this.#out.append(req.answer);
      this.#written(req, req.answer);
    }
    q.drain();
    this.#heldBytes = 0;
    this.#finishIfDone();
  }

  /** Requests read and not answered yet (or whose replies are still to be written). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Graceful stop: the client is closed once every request it sent is answered. */
  drain(): void {
    this.#draining = true;
    this.#finishIfDone();
  }

  /**
   * Past the drain deadline: each request still unanswered gets the error reply for `reason`, and
   * the client is closed once they are written. Returns how many were failed.
   */
  abort(reason: string): number {
    if (this.#closed) return 0;
    this.#reading = false;
    const q = this.#queue;
    let failed = 0;
    for (let i = 0; i < q.length; i++) {
      const req = q.at(i)!;
      if (req.answer !== null) continue;
      failed++;
      if (req.streamed) { // part of its reply is out: it cannot be answered cleanly
        this.#close("reply broken off");
        return failed;
      }
      this.#fail(req, reason);
    }
    this.#writeReady();
    return failed;
  }

  /** No more requests are taken, or the proxy is stopping: the client closes once it is answered. */
  get #ending(): boolean {
    return !this.#reading || this.#draining;
  }

  /** Closes once reading stopped (or a drain began) and every reply is written. */
  #finishIfDone(): void {
    if (this.#queue.length === 0 && this.#onQueueEmpty !== null) {
      const resume = this.#onQueueEmpty;
      this.#onQueueEmpty = null;
      resume();
    } else if (this.#queue.length === 0 && this.#paused && this.#reading) {
      queueMicrotask(() => this.#resume()); // the run loop is reading on (see PAUSED_READ_LIMIT)
    }
    if (this.#ending && this.#queue.length === 0 && !this.#out.busy) {
      this.#close(this.#draining ? "proxy stopping" : "done");
    }
  }

  #close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stream !== null) this.#abortStream();
    this.#pins?.clientClosed();
    this.#reading = false;
    this.#out.close();
    try {
      this.conn.close();
    } catch { /* already closed */ }
    const stats = this.pool.stats;
    stats.client_connections--;
    if (this.#eof) stats.client_eof++;
    else if (!this.#draining) stats.client_err++;
    connectionCounts.current--;
    this.#onQueueEmpty?.();
    this.#onQueueEmpty = null;
    if (logs(Level.INFO)) {
      const reason = why === "done" ? (this.#eof ? "eof" : "closed by the proxy") : why;
      logEvent(
        Level.INFO,
        "client",
        "close",
        `closed c ${this.id} on pool ${this.pool.config.name}: ${reason}`,
      );
    }
    this.onClose();
  }
}

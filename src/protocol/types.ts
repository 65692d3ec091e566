/**
 * The one interface between the proxy core and a protocol (memcache, redis).
 *
 * The core never looks inside a message; a protocol never touches a socket. Bytes flow one way:
 * client bytes -> RequestParser -> route keys -> (split) -> server -> ReplyParser -> (merge) -> client.
 */

/** What the core does with a framed request. */
export const Action = {
  /** Route by its key(s) (or by `placeholder` when it has none) and forward the bytes as they are. */
  Forward: 0,
  /** Route every key; `Protocol.split` builds one fragment per server; `Protocol.merge` joins replies. */
  Split: 1,
  /** Send nothing; close the client once the replies to earlier requests are written. */
  Quit: 2,
  /**
   * Needs a server connection's own state (a transaction, a subscription, a blocking command): the
   * session drives it through `Session.pinned` on connections pinned to this client.
   */
  Pin: 3,
  /** Goes to every server of the pool: `Protocol.split` gets every server as owner, `merge` joins. */
  Fanout: 4,
} as const;
export type Action = typeof Action[keyof typeof Action];

/** One complete request, framed by a RequestParser. Offsets are relative to the request's first byte. */
export interface RequestInfo {
  /** Number of bytes this request occupies in the client's stream. */
  length: number;
  action: Action;
  /** Routing keys as flat [start0, end0, start1, end1, ...] pairs; empty: route by `placeholder`. */
  keys: number[];
  /** True when the server sends no reply (memcache noreply): no reply slot, no timeout. */
  noreply: boolean;
  /** Protocol-specific command id, opaque to the core (used again by the session, split and merge). */
  cmd: number;
}

/**
 * A malformed or unsupported request. The message is the reason tsproxy gives the client in
 * `clientErrorReply`. With `skip` >= 0 the request was well framed (`skip` bytes long) but refused
 * (redis unsupported command): the client gets the error in order and stays open. With skip -1 the
 * stream cannot be trusted: the client gets the error after earlier replies and is closed.
 */
export class ProtocolError extends Error {
  /** `log`, when given, is the error line nutcracker logs for this refusal, given the request's id. */
  constructor(
    reason: string,
    readonly skip = -1,
    readonly log: ((id: number) => string) | null = null,
  ) {
    super(reason);
  }
}

/**
 * Frames requests from a client byte stream. One instance per client connection, with state kept
 * across calls so a request split over many reads is scanned once.
 */
export interface RequestParser {
  /**
   * Frames the next request starting at buf[start]; only bytes below `end` may be read.
   * Returns the request, or null when more bytes are needed; throws ProtocolError on bad input.
   * After a null the core calls again with the same request start (possibly in another buffer, at
   * another offset, or moved back by bytes it dropped: see `settled`) and more bytes after it.
   */
  parse(buf: Uint8Array, start: number, end: number): RequestInfo | null;
  /** After a null: total bytes the pending request needs when known (a value's length), else 0. */
  readonly need: number;
  /**
   * After a null: how many leading bytes of the pending request the parser will never read again.
   * The core may forward and drop them (see `pending`); later calls then pass a `start` moved back
   * by the bytes dropped, so offsets stay relative to the request's first byte (start may become
   * negative: indexes below the first byte kept are never read).
   */
  readonly settled: number;
  /**
   * After a null: the pending request's routing when it is already known and the request may be
   * forwarded while it arrives (one key, no split, no local answer: e.g. a set or SET with a large
   * value), else null. Its keys lie within the settled bytes; its `length` is the total when known,
   * else 0. The complete request is still returned by `parse` once its last byte arrives.
   */
  pending(): RequestInfo | null;
}

/** Frames replies from a server byte stream. One instance per server connection. */
export interface ReplyParser {
  /**
   * Length of the complete reply starting at buf[start] (bytes below `end` only), 0 when more bytes
   * are needed, -1 when the bytes are not a valid reply (the server connection is then failed).
   */
  parse(buf: Uint8Array, start: number, end: number): number;
  /** After a reply: it signals a server failure (redis -LOADING, -BUSY, -OOM). */
  readonly failure: boolean;
  /** After a 0: total bytes the pending reply needs when known (a lower bound), else 0. */
  readonly need: number;
  /**
   * After a 0: how many leading bytes of the pending reply the parser will never read again; the
   * core may forward and drop them, and then calls with `start` moved back by the bytes dropped
   * (as RequestParser.settled).
   */
  readonly settled: number;
}

/** One sub-request of a split request, for one server. */
export interface Fragment {
  /** Server index in the pool. */
  server: number;
  /** Bytes to send to that server. */
  bytes: Uint8Array;
  /** Indexes (into the request's key list) of the keys this fragment carries, in request order. */
  keyIndexes: number[];
  /** For a fan-out: how many servers the pool had when it was split (SCAN's cursor counts them). */
  servers?: number;
}

/**
 * Requests of one kind that may travel as one server request when queued back to back on a server
 * connection (memcache single-key gets: `get a\r\n` + `get b\r\n` -> `get a b\r\n`); the one reply
 * is cut back into each member's reply.
 */
export interface Batching {
  /** The request's batch kind (requests join only their own kind), or -1 when it cannot join one. */
  kind(req: RequestInfo, msg: Uint8Array): number;
  /** Trailing bytes of a batch taken back before a member's tail is appended. */
  readonly retract: number;
  /** The bytes that add a request to the batch before it (a view into `msg`). */
  tail(req: RequestInfo, msg: Uint8Array): Uint8Array;
  /**
   * What the reply splitter needs of a member, as a latin1 string (copied: `msg` does not outlive
   * the call; a short string costs a tenth of a small typed array to make and to collect).
   */
  key(req: RequestInfo, msg: Uint8Array): string;
  /** Limits on one batch: members, and bytes on the wire. */
  readonly maxMembers: number;
  readonly maxBytes: number;
  /**
   * Cuts a batch's complete reply into one reply per member, in order, through `emit` (its bytes
   * are valid during the call only); false when the reply does not fit the members.
   */
  splitReply(
    reply: Uint8Array,
    keys: readonly string[],
    emit: (member: number, bytes: Uint8Array) => void,
  ): boolean;
}

/**
 * One client's protocol state (redis AUTH, transactions, subscriptions), created by
 * `Protocol.newSession` and opaque to the core.
 */
export interface Session {
  /**
   * Called for each request before routing: returns a reply the proxy gives itself (redis PING,
   * AUTH, NOAUTH) or null to let the request through. `msg` holds exactly the request's bytes.
   */
  intercept(req: RequestInfo, msg: Uint8Array): Uint8Array | null;
  /** The pinned mode, for a protocol whose requests may be Action.Pin. */
  readonly pinned?: PinnedSession;
}

/**
 * A session's pinned mode: requests that need a server connection's own state, carried on
 * connections pinned to the client (see PinHost). While `active`, every request of the client comes
 * here, the ones the session intercepts aside.
 */
export interface PinnedSession {
  readonly active: boolean;
  /** An Action.Pin request, or any request while active. */
  request(req: RequestInfo, msg: Uint8Array, host: PinHost): void;
  /** While active: a request the parser refused was answered with an error (a transaction fails). */
  refused(): void;
  /** A reply from a raw pinned connection (see PinHost.sendRaw), valid during the call only. */
  frame(server: number, bytes: Uint8Array, host: PinHost): void;
  /** A pinned connection to `server` closed; the requests waiting on it were failed already. */
  lost(server: number, host: PinHost): void;
}

/** How the reply to a request sent on a pinned connection is used. */
export const PinReply = {
  /** The client's reply, in order; the pool timeout applies. */
  Client: 0,
  /** The client's reply, in order, with no timeout (a blocking command). */
  Blocking: 1,
  /** Dropped (a request the proxy adds, such as a MULTI answered before it is sent). */
  Drop: 2,
} as const;
export type PinReply = typeof PinReply[keyof typeof PinReply];

/** What the core offers a pinned session, for one client. */
export interface PinHost {
  /** Servers in the pool (a fan-out reaches every one). */
  readonly servers: number;
  /** The live server of the key msg[start, end), of the placeholder when start < 0; -1 if none. */
  route(msg: Uint8Array, start: number, end: number): number;
  /** A reply the proxy gives itself, written after everything asked before it. */
  answer(bytes: Uint8Array): void;
  /** A reply to come later through `reply`, in order among the client's replies. */
  expect(): ExpectedReply;
  /**
   * Sends on the client's pinned connection to `server` (opened, or taken from the server's idle
   * ones): null once sent, else why no connection could be had (nothing was sent).
   */
  send(server: number, bytes: Uint8Array, use: PinReply): string | null;
  /** Sends on a raw pinned connection to `server`: its replies come to PinnedSession.frame. */
  sendRaw(server: number, bytes: Uint8Array): string | null;
  /** No more requests are read until every one read so far is answered. */
  hold(): void;
  /** The client gets the error reply for `reason` after its earlier replies, and is closed. */
  close(reason: string): void;
  /**
   * The pinned state is over (call with hold): once the replies are in, clean connections go back to
   * their server's idle ones (raw ones close).
   */
  release(): void;
}

/** A reply slot in the client's order, filled by the session once its reply is known. */
export interface ExpectedReply {
  reply(bytes: Uint8Array): void;
  /** No reply comes: the client gets the error reply for `reason`. */
  fail(reason: string): void;
}

/** A request the proxy sends first on every new server connection; its reply is checked, then dropped. */
export interface HandshakeRequest {
  bytes: Uint8Array;
  /** What it asks, for the log line when the server refuses it (`SELECT 1`). */
  what: string;
}

/**
 * Everything the core needs to know about a protocol.
 *
 * The one-reply rule: every request the core forwards gets exactly one reply from its server, and a
 * server connection's replies come in the order its requests went out, so the core matches them first
 * in, first out on a connection shared by many clients. A request that breaks the rule must never be
 * forwarded on a shared connection: one with no reply (memcache noreply) is marked `noreply` and
 * gets no reply slot; one with a stream of replies or none for a long time (redis SUBSCRIBE, BLPOP,
 * MULTI ... EXEC) is an Action.Pin request, carried on a server connection pinned to its client for as
 * long as that state lasts, where the session matches replies (PinnedSession); memcache meta quiet
 * mode is refused.
 */
export interface Protocol {
  readonly name: "memcache" | "redis";
  newRequestParser(): RequestParser;
  newReplyParser(): ReplyParser;
  newSession(): Session;
  /** Builds the fragments of an Action.Split request; `owners[i]` is the server of key i. */
  split(req: RequestInfo, msg: Uint8Array, owners: readonly number[]): Fragment[];
  /**
   * Joins the fragments' replies (same order as the fragments) into the client's one reply.
   * Replies are complete replies as framed by ReplyParser, valid during the call only (the last one
   * is a view into a read buffer). The result may be one of `replies` itself (the core copies it when
   * it must wait), never a part of one. Null when a fragment's reply is of the wrong type (an error,
   * say): the core answers `errorReply("Invalid argument")`, a forwarding error.
   */
  merge(req: RequestInfo, fragments: readonly Fragment[], replies: readonly Uint8Array[]): Uint8Array | null;
  /** Whether a split request whose fragment failed (no reply) closes the client after the error. */
  closesOnFragmentFailure(req: RequestInfo): boolean;
  /** nutcracker's error reply for a failed request: `SERVER_ERROR <reason>\r\n` / `-ERR <reason>\r\n`. */
  errorReply(reason: string): Uint8Array;
  /** What tsproxy tells a client about a malformed or unsupported request before closing it. */
  clientErrorReply(reason: string): Uint8Array;
  /** The command's name, for log lines. */
  commandName(req: RequestInfo): string;
  /** Whether the request only reads (a replica may serve it: pool directive read_from). */
  isReadOnly(req: RequestInfo): boolean;
  /** Every command's name for metrics labels (lower case), indexed by RequestInfo.cmd. */
  readonly commandNames: readonly string[];
  /** Requests sent first on every new server connection. */
  handshake(): HandshakeRequest[];
  /** Whether a reply is an error reply (a refused handshake request; counted in metrics). */
  isError(reply: Uint8Array): boolean;
  /** How requests are batched on server connections, or null when they are sent one by one. */
  readonly batching: Batching | null;
}

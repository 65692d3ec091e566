/** A client request in flight, and the slots through which server replies come back to it. */
import type { Fragment, RequestInfo } from "../protocol/types.ts";

/** How a server connection hands a reply (or a failure) back to the client that waits for it. */
export interface ReplyTarget {
  /**
   * `bytes` is a view into the server connection's read buffer, valid only during the call; null,
   * with a `reason`, when the request failed without a reply.
   */
  deliver(req: ClientRequest, fragment: number, bytes: Uint8Array | null, reason: string): void;
  /**
   * The leading part of a large whole reply, before the rest is delivered: true when it was taken
   * (written, or dropped for a client that left), false when the request is not next in line.
   */
  streamReply(req: ClientRequest, bytes: Uint8Array): boolean;
  /** Resolves when the client's socket has taken most of what was streamed to it. */
  whenWritable(): Promise<void>;
}

/**
 * One request of a client, in the client's reply queue. Unsplit requests get their reply straight
 * into `reply`; split ones collect one reply per fragment and are merged when the last arrives.
 */
export class ClientRequest {
  /** The reply to write to the client, once known. */
  reply: Uint8Array | null = null;
  /** Close the client after this reply is written (quit, unrecoverable errors). */
  closeAfter = false;
  /** Fragments of a split request, and their replies as they arrive. */
  fragments: Fragment[] | null = null;
  fragmentReplies: (Uint8Array | null)[] | null = null;
  /** Fragments still waiting for a reply. */
  waiting = 0;
  /** Why the first failed fragment failed (a split request then answers with that error). */
  failure: string | null = null;
  /** Part of the reply has already been written to the client (a large reply streamed through). */
  streamed = false;

  constructor(readonly sink: ReplyTarget, readonly info: RequestInfo | null) {}
}

/** What a server connection keeps for each request it must match a reply to, in send order. */
export class ServerRequest {
  constructor(
    /** The client request, or null for the proxy's own handshake requests (reply swallowed). */
    readonly owner: ClientRequest | null,
    /** Fragment index for split requests, -1 for a whole request. */
    readonly fragment: number,
    /** Bytes sent, for the out_queue_bytes gauge (grows while a large request streams). */
    public size: number,
    /** When the request times out (ms since epoch), or Infinity; set once a streamed request is whole. */
    public deadline: number,
  ) {}

  /** What the protocol's batching needs to find this request's part of a batch reply. */
  key: Uint8Array | null = null;
  /** On the first request of a batch: the requests sent with it as one, in order. */
  joined: ServerRequest[] | null = null;
}

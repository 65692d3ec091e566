/** A client request in flight, and the slots through which server replies come back to it. */
import type { Fragment, RequestInfo } from "../protocol/types.ts";

/**
 * What a server connection answers one request (or one fragment of a split request) through:
 * exactly one call of `reply` or `fail`.
 */
export interface ReplySlot {
  /** The request's complete reply; `bytes` is a view into a read buffer, valid during the call only. */
  reply(bytes: Uint8Array): void;
  /** No reply will come: the request failed for `reason` (nutcracker's strerror-style text). */
  fail(reason: string): void;
  /**
   * The leading part of a large reply, before the rest comes through `reply`: true when it was taken
   * (written, or dropped for a client that left), false when it must wait (buffered whole).
   */
  stream(bytes: Uint8Array): boolean;
  /** Resolves when the client's socket has taken most of what was streamed to it. */
  whenWritable(): Promise<void>;
  /** The request, for log lines about it. */
  readonly request: ClientRequest;
}

/** The client side a request belongs to: where its reply (or its failure) goes. */
export interface RequestOwner {
  /** A whole request's reply arrived. */
  replied(req: ClientRequest, bytes: Uint8Array): void;
  /** A whole request failed, or every fragment of a split request is in: the reply can be made. */
  settled(req: ClientRequest, reason: string | null): void;
  streamReply(req: ClientRequest, bytes: Uint8Array): boolean;
  whenWritable(): Promise<void>;
}

/**
 * One request of a client, in the client's reply queue, answered as a whole by one server (it is its
 * own reply slot) or by the proxy itself.
 */
export class ClientRequest implements ReplySlot {
  /** The reply to write to the client, once known. */
  answer: Uint8Array | null = null;
  /** Close the client after this reply is written (quit, unrecoverable errors). */
  closeAfter = false;
  /** Part of the reply has already been written to the client (a large reply streamed through). */
  streamed = false;
  /** When the request was read (hrNow, ms), while metrics are on. */
  at = 0;

  constructor(readonly owner: RequestOwner, readonly info: RequestInfo | null) {}

  get request(): ClientRequest {
    return this;
  }

  reply(bytes: Uint8Array): void {
    this.owner.replied(this, bytes);
  }

  fail(reason: string): void {
    this.owner.settled(this, reason);
  }

  stream(bytes: Uint8Array): boolean {
    return this.owner.streamReply(this, bytes);
  }

  whenWritable(): Promise<void> {
    return this.owner.whenWritable();
  }
}

/**
 * A multi-key request split into one fragment per server. It owns its fragments and their replies,
 * and is settled (merged, or failed) once the last fragment is answered.
 */
export class SplitRequest extends ClientRequest {
  /** Each fragment's reply as it arrives (copied, but for the last one, which is merged at once). */
  readonly replies: (Uint8Array | null)[];
  /** Fragments still waiting for their answer. */
  pending: number;
  /** Why the first failed fragment failed: the request then answers with that error. */
  failure: string | null = null;

  constructor(owner: RequestOwner, info: RequestInfo, readonly fragments: Fragment[]) {
    super(owner, info);
    this.replies = new Array(fragments.length).fill(null);
    this.pending = fragments.length;
  }

  /** The reply slot of fragment `i`. */
  slot(i: number): ReplySlot {
    return new FragmentSlot(this, i);
  }

  /** Counts one fragment answered; settles the request after the last. */
  #answered(): void {
    if (--this.pending === 0) this.owner.settled(this, this.failure);
  }

  /** Fragment `i` replied: its bytes are kept until the last fragment's, which is merged at once. */
  fragmentReplied(i: number, bytes: Uint8Array): void {
    this.replies[i] = this.pending === 1 ? bytes : bytes.slice();
    this.#answered();
  }

  fragmentFailed(reason: string): void {
    this.failure ??= reason;
    this.#answered();
  }
}

/** How one fragment of a split request is answered: never streamed, as its reply is merged. */
class FragmentSlot implements ReplySlot {
  constructor(readonly request: SplitRequest, readonly index: number) {}

  reply(bytes: Uint8Array): void {
    this.request.fragmentReplied(this.index, bytes);
  }

  fail(reason: string): void {
    this.request.fragmentFailed(reason);
  }

  stream(): boolean {
    return false;
  }

  whenWritable(): Promise<void> {
    return this.request.owner.whenWritable();
  }
}

/** What a server connection keeps for each request it must match a reply to, in send order. */
export class ServerRequest {
  /** When the request was queued to the server (hrNow, ms), while metrics are on. */
  at = 0;

  constructor(
    /** Where the reply goes. */
    readonly slot: ReplySlot,
    /** Bytes sent, for the out_queue_bytes gauge (grows while a large request streams). */
    public size: number,
    /** When the request times out (ms since epoch), or Infinity; set once a streamed request is whole. */
    public deadline: number,
  ) {}
}

/**
 * A request that may travel in a batch with others of its kind (see Protocol.batching). The first
 * one sent holds the requests that joined it; the batch's one reply is cut back into each one's.
 */
export class BatchableRequest extends ServerRequest {
  /** The requests sent with this one as one, in order (null: none joined). */
  joined: BatchableRequest[] | null = null;

  constructor(
    slot: ReplySlot,
    size: number,
    deadline: number,
    /** What the protocol's batching needs to find this request's part of a batch reply. */
    readonly key: string,
  ) {
    super(slot, size, deadline);
  }
}

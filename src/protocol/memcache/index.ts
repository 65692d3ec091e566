/**
 * The memcache ASCII protocol as the proxy core sees it: parsers, get/gets splitting and the error
 * replies, wired into the Protocol interface.
 */
import type { Fragment, Protocol, ProtocolOptions, RequestInfo } from "../types.ts";
import { getBatching } from "./batch.ts";
import { isRetrieval } from "./commands.ts";
import { mergeRetrieval, splitRetrieval } from "./fragment.ts";
import { MemcacheReplyParser } from "./reply_parser.ts";
import { MemcacheRequestParser } from "./request_parser.ts";

const encoder = new TextEncoder();

/** nutcracker's error reply for a failed request. */
function errorReply(reason: string): Uint8Array {
  return encoder.encode(`SERVER_ERROR ${reason}\r\n`);
}

/** The memcache protocol. Its options (mbuf size, redis auth/db) do not concern memcache. */
export const memcache = (_opts: ProtocolOptions): Protocol => ({
  name: "memcache",
  newRequestParser: () => new MemcacheRequestParser(),
  newReplyParser: () => new MemcacheReplyParser(),
  // memcache has no authentication: every client may send anything.
  newSession: () => ({ authenticated: true }),
  intercept: () => null,
  split: splitRetrieval,
  // A fragment answered with anything but VALUE/END fails the whole get, as in nutcracker.
  merge: (_req: RequestInfo, fragments: readonly Fragment[], replies: readonly Uint8Array[]) =>
    mergeRetrieval(fragments, replies),
  closesOnFragmentFailure: (req: RequestInfo) => isRetrieval(req.cmd),
  errorReply,
  clientErrorReply: (reason: string) => encoder.encode(`CLIENT_ERROR ${reason}\r\n`),
  handshake: () => [],
  batching: getBatching,
});

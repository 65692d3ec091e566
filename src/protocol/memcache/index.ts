/**
 * The memcache ASCII protocol as the proxy core sees it: parsers, get/gets splitting and the error
 * replies, wired into the Protocol interface.
 */
import type { Fragment, Protocol, RequestInfo } from "../types.ts";
import { getBatching } from "./batch.ts";
import { COMMAND_NAMES, commandName, isRetrieval } from "./commands.ts";
import { mergeRetrieval, splitRetrieval } from "./fragment.ts";
import { MemcacheReplyParser } from "./reply_parser.ts";
import { MemcacheRequestParser } from "./request_parser.ts";

const encoder = new TextEncoder();

/** nutcracker's error reply for a failed request. */
function errorReply(reason: string): Uint8Array {
  return encoder.encode(`SERVER_ERROR ${reason}\r\n`);
}

const [C, E, L, R, S] = [67, 69, 76, 82, 83];

/** ERROR, CLIENT_ERROR or SERVER_ERROR (told from END, EXISTS, STORED, STAT... by two bytes). */
function isError(reply: Uint8Array): boolean {
  const second = reply[1];
  switch (reply[0]) {
    case E:
      return second === R;
    case C:
      return second === L;
    case S:
      return second === E;
  }
  return false;
}

// memcache has no authentication and no request the proxy answers itself.
const SESSION = { intercept: () => null };

/** The memcache protocol (the same for every pool). */
export const memcache = (): Protocol => ({
  name: "memcache",
  newRequestParser: () => new MemcacheRequestParser(),
  newReplyParser: () => new MemcacheReplyParser(),
  newSession: () => SESSION,
  split: splitRetrieval,
  // A fragment answered with anything but VALUE/END fails the whole get, as in nutcracker.
  merge: (_req: RequestInfo, fragments: readonly Fragment[], replies: readonly Uint8Array[]) =>
    mergeRetrieval(fragments, replies),
  closesOnFragmentFailure: (req: RequestInfo) => isRetrieval(req.cmd),
  errorReply,
  clientErrorReply: (reason: string) => encoder.encode(`CLIENT_ERROR ${reason}\r\n`),
  commandName: (req: RequestInfo) => commandName(req.cmd),
  // memcache pools have no replicas.
  isReadOnly: () => false,
  handshake: () => [],
  commandNames: COMMAND_NAMES,
  isError,
  batching: getBatching,
});

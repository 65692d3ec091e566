/** The redis protocol as the proxy core sees it, assembled from this folder's modules. */
import type { Protocol, ProtocolOptions } from "../types.ts";
import { errReply } from "./error_reply.ts";
import { closesOnFragmentFailure, mergeReplies, splitRequest } from "./fragment.ts";
import { handshakeRequests } from "./handshake.ts";
import { interceptor } from "./intercept.ts";
import { RedisReplyParser } from "./reply_parser.ts";
import { RedisRequestParser } from "./request_parser.ts";

/** nutcracker 0.5.0's redis protocol (with tsproxy's documented differences) for one pool. */
export const redis = (opts: ProtocolOptions): Protocol => {
  const handshake = handshakeRequests(opts.redisDb, opts.redisAuth);
  return {
    name: "redis",
    newRequestParser: () => new RedisRequestParser(opts.mbufSize),
    newReplyParser: () => new RedisReplyParser(),
    newSession: () => ({ authenticated: opts.redisAuth === null }),
    intercept: interceptor(opts.redisAuth),
    split: splitRequest,
    merge: mergeReplies,
    closesOnFragmentFailure,
    errorReply: errReply,
    clientErrorReply: errReply,
    handshake: () => handshake,
    batching: null,
  };
};

/** The redis protocol as the proxy core sees it, assembled from this folder's modules. */
import type { Protocol, RequestInfo } from "../types.ts";
import { COMMANDS } from "./commands.ts";
import { errReply } from "./error_reply.ts";
import { closesOnFragmentFailure, mergeReplies, splitRequest } from "./fragment.ts";
import { handshakeRequests } from "./handshake.ts";
import { RedisReplyParser } from "./reply_parser.ts";
import { RedisRequestParser } from "./request_parser.ts";
import { sessionFactory } from "./session.ts";

/** What a redis pool's protocol is set up with. */
export interface RedisOptions {
  /** -m: redis keys must be shorter than mbufSize - 48, as in nutcracker. */
  mbufSize: number;
  /** redis_auth of the pool, or null. */
  redisAuth: string | null;
  /** redis_db of the pool. */
  redisDb: number;
}

const MINUS = 45;
const COMMAND_NAMES = COMMANDS.map((c) => c.name.toLowerCase());

/** nutcracker 0.5.0's redis protocol (with tsproxy's documented differences) for one pool. */
export const redis = (opts: RedisOptions): Protocol => {
  const handshake = handshakeRequests(opts.redisDb, opts.redisAuth);
  return {
    name: "redis",
    newRequestParser: () => new RedisRequestParser(opts.mbufSize),
    newReplyParser: () => new RedisReplyParser(),
    newSession: sessionFactory(opts.redisAuth),
    split: splitRequest,
    merge: mergeReplies,
    closesOnFragmentFailure,
    errorReply: errReply,
    clientErrorReply: errReply,
    commandName: (req: RequestInfo) => COMMANDS[req.cmd]?.name.toUpperCase() ?? "?",
    commandNames: COMMAND_NAMES,
    handshake: () => handshake,
    isError: (reply: Uint8Array) => reply[0] === MINUS,
    batching: null,
  };
};

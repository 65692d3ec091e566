/** The redis protocol as the proxy core sees it, assembled from this folder's modules. */
import type { Fragment, Protocol, RequestInfo } from "../types.ts";
import { COMMANDS, isReadOnlyCommand, Shape } from "./commands.ts";
import { errReply } from "./error_reply.ts";
import { type FanoutCommand, mergeFanout, splitFanout } from "./fanout.ts";
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
const VERSION_LINE = /\r\nredis_version:([^\r]*)\r\n/;

/** The fan-out command of a request (INFO, DBSIZE, SCAN), or null. */
function fanoutOf(req: RequestInfo): FanoutCommand | null {
  const spec = COMMANDS[req.cmd];
  return spec.shape === Shape.Fanout ? spec.name as FanoutCommand : null;
}

/** nutcracker 0.5.0's redis protocol (with tsproxy's documented differences) for one pool. */
export const redis = (opts: RedisOptions): Protocol => {
  const handshake = handshakeRequests(opts.redisDb, opts.redisAuth);
  // The servers' lowest version as the last INFO through the proxy told it, for HELLO's reply.
  let redisVersion = "unknown";
  const merge = (req: RequestInfo, fragments: readonly Fragment[], replies: readonly Uint8Array[]) => {
    const fanout = fanoutOf(req);
    if (fanout === null) return mergeReplies(req, fragments, replies);
    const merged = mergeFanout(fanout, fragments, replies);
    if (fanout === "info" && merged !== null) {
      redisVersion = VERSION_LINE.exec(new TextDecoder().decode(merged))?.[1] ?? redisVersion;
    }
    return merged;
  };
  return {
    name: "redis",
    newRequestParser: () => new RedisRequestParser(opts.mbufSize),
    newReplyParser: () => new RedisReplyParser(),
    newSession: sessionFactory(opts.redisAuth, opts.redisDb, () => redisVersion),
    split: (req: RequestInfo, msg: Uint8Array, owners: readonly number[]) => {
      const fanout = fanoutOf(req);
      return fanout === null ? splitRequest(req, msg, owners) : splitFanout(fanout, msg, req.keys, owners);
    },
    merge,
    closesOnFragmentFailure,
    errorReply: errReply,
    clientErrorReply: errReply,
    commandName: (req: RequestInfo) => COMMANDS[req.cmd]?.name.toUpperCase() ?? "?",
    isReadOnly: (req: RequestInfo) => isReadOnlyCommand(req.cmd),
    commandNames: COMMAND_NAMES,
    handshake: () => handshake,
    isError: (reply: Uint8Array) => reply[0] === MINUS,
    batching: null,
  };
};

/**
 * Batching of single-key gets (a tsproxy improvement over nutcracker): gets queued back to back on
 * one server connection go out as one `get k1 k2 ...` line, which memcached serves several times
 * faster per key than separate commands, and its reply is cut back into each get's own reply.
 */
import type { Batching, RequestInfo } from "../types.ts";
import { asciiBytes, CR, LF } from "./ascii.ts";
import { isRetrieval } from "./commands.ts";
import { isRetrievalReply, valueBlocks } from "./fragment.ts";

const END = asciiBytes("END\r\n");

/** Bytes of one member's reply, built here and handed out as a view valid during the callback. */
let scratch = new Uint8Array(4096);

/** bytes[start, end) as a latin1 string. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Whether `key` (latin1) is bytes[start, end). */
function sameKey(key: string, bytes: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) !== bytes[start + i]) return false;
  }
  return true;
}

/** get/gets of exactly one key, ending in \r\n: joinable by its command. */
function kind(req: RequestInfo, msg: Uint8Array): number {
  if (!isRetrieval(req.cmd) || req.keys.length !== 2) return -1;
  const len = msg.length;
  return msg[len - 2] === CR && msg[len - 1] === LF ? req.cmd : -1;
}

/**
 * Cuts a batch's reply into one reply per key, in order: each key takes the next VALUE block when
 * it is for that key (memcached answers keys in order and leaves out misses), then END. A reply that
 * is not a get reply (SERVER_ERROR) goes to every member as it is. False, with nothing emitted, when
 * the blocks do not match the keys: the reply cannot be trusted.
 */
function splitReply(
  reply: Uint8Array,
  keys: readonly string[],
  emit: (member: number, bytes: Uint8Array) => void,
): boolean {
  if (!isRetrievalReply(reply)) {
    for (let m = 0; m < keys.length; m++) emit(m, reply);
    return true;
  }
  const blocks = valueBlocks(reply);
  // First which block (its offset in `blocks`) each key gets, -1 for a miss; then the replies.
  const picks: number[] = new Array(keys.length).fill(-1);
  let b = 0;
  for (let m = 0; m < keys.length; m++) {
    if (b < blocks.length && sameKey(keys[m], reply, blocks[b + 2], blocks[b + 3])) {
      picks[m] = b;
      b += 4;
    } else {
      picks[m] = -1;
    }
  }
  if (b !== blocks.length) return false;
  for (let m = 0; m < keys.length; m++) {
    const at = picks[m];
    if (at < 0) {
      emit(m, END);
      continue;
    }
    const start = blocks[at];
    const end = blocks[at + 1];
    if (at === blocks.length - 4) {
      emit(m, reply.subarray(start)); // the last block is followed by the reply's own END
      continue;
    }
    const size = end - start + END.length;
    if (size > scratch.length) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
    scratch.set(reply.subarray(start, end));
    scratch.set(END, end - start);
    emit(m, scratch.subarray(0, size));
  }
  return true;
}

/** memcached reads a get line of any length, but other lines of over 2048 bytes close the client. */
const MAX_LINE = 2000;

export const getBatching: Batching = {
  kind,
  retract: 2, // the batch's closing \r\n; each member's tail brings its own
  // From the space(s) before the key: ` key\r\n`.
  tail: (req: RequestInfo, msg: Uint8Array) => msg.subarray(req.keys[0] - 1),
  key: (req: RequestInfo, msg: Uint8Array) => latin1(msg, req.keys[0], req.keys[1]),
  maxMembers: 64,
  maxBytes: MAX_LINE,
  splitReply,
};

/**
 * Multi-key get/gets across servers: one sub-request per server (nutcracker's wire format), and the
 * client's one reply rebuilt from the servers' replies in the client's key order.
 */
import type { Fragment, RequestInfo } from "../types.ts";
import { asciiBytes, CR, isDigit, LF, SP } from "./ascii.ts";
import { Cmd } from "./commands.ts";

const GET = asciiBytes("get ");
const GETS = asciiBytes("gets ");
const END = asciiBytes("END\r\n");
const V = 86;
const E = 69;
const N = 78;
const D = 68;

/**
 * One `get k1 k2 \r\n` (or `gets`) per server owning keys, nutcracker's wire format: its keys in
 * request order, each followed by one space; fragments in server index order. `owners[i]` is the
 * server of key i.
 */
export function splitRetrieval(req: RequestInfo, msg: Uint8Array, owners: readonly number[]): Fragment[] {
  if (owners.every((o) => o === owners[0])) {
    const all = owners.map((_, i) => i);
    return [{ server: owners[0], bytes: getLine(req, msg, all), keyIndexes: all }];
  }
  const byServer = new Map<number, number[]>();
  for (let i = 0; i < owners.length; i++) {
    const group = byServer.get(owners[i]);
    if (group) group.push(i);
    else byServer.set(owners[i], [i]);
  }
  const groups = [...byServer].sort((a, b) => a[0] - b[0]);
  return groups.map(([server, keyIndexes]) => ({ server, bytes: getLine(req, msg, keyIndexes), keyIndexes }));
}

/** The get line for some of the request's keys. */
function getLine(req: RequestInfo, msg: Uint8Array, keyIndexes: readonly number[]): Uint8Array {
  const prefix = req.cmd === Cmd.Gets ? GETS : GET;
  const keys = req.keys;
  const count = keys.length / 2;
  if (keyIndexes.length === count && singleSpaced(keys, prefix.length)) {
    // The client wrote it nutcracker's way already but for the last space: one copy.
    const last = keys[keys.length - 1];
    const bytes = new Uint8Array(last + 3);
    bytes.set(msg.subarray(0, last));
    bytes[last] = SP;
    bytes[last + 1] = CR;
    bytes[last + 2] = LF;
    return bytes;
  }
  let size = prefix.length + 2;
  for (const i of keyIndexes) size += keys[2 * i + 1] - keys[2 * i] + 1;
  const bytes = new Uint8Array(size);
  bytes.set(prefix);
  let o = prefix.length;
  for (const i of keyIndexes) {
    for (let k = keys[2 * i]; k < keys[2 * i + 1]; k++) bytes[o++] = msg[k];
    bytes[o++] = SP;
  }
  bytes[o++] = CR;
  bytes[o] = LF;
  return bytes;
}

/** Whether the request is `<name> k1 k2 ... kn` from its first byte, one space between keys. */
function singleSpaced(keys: readonly number[], prefixLength: number): boolean {
  if (keys[0] !== prefixLength) return false;
  for (let i = 2; i < keys.length; i += 2) {
    if (keys[i] !== keys[i - 1] + 1) return false;
  }
  return true;
}

/** Whether a framed reply is a get reply (VALUE blocks then END, or a bare END). */
export function isRetrievalReply(reply: Uint8Array): boolean {
  return reply[0] === V || (reply[0] === E && reply[1] === N && reply[2] === D);
}

/**
 * The VALUE blocks of a framed get reply as flat [blockStart, blockEnd, keyStart, keyEnd, ...]. The
 * reply was validated by the reply parser, so only the lengths are read.
 */
export function valueBlocks(reply: Uint8Array): number[] {
  const blocks: number[] = [];
  let i = 0;
  while (reply[i] === V) {
    const block = i;
    i += 5; // "VALUE"
    while (reply[i] === SP) i++;
    const keyStart = i;
    while (reply[i] !== SP) i++;
    const keyEnd = i;
    while (reply[i] === SP) i++;
    while (isDigit(reply[i])) i++; // flags
    while (reply[i] === SP) i++;
    let length = 0;
    for (let c = reply[i]; isDigit(c); c = reply[++i]) length = length * 10 + c - 48;
    while (reply[i] !== CR) i++; // optional cas unique
    i += 2 + length + 2;
    blocks.push(block, i, keyStart, keyEnd);
  }
  return blocks;
}

/** The key ranges of a fragment's `get k1 k2 \r\n` bytes, as flat [start, end, ...]. */
function fragmentKeys(bytes: Uint8Array): number[] {
  const keys: number[] = [];
  let i = bytes.indexOf(SP) + 1;
  while (bytes[i] !== CR) {
    const start = i;
    while (bytes[i] !== SP) i++;
    keys.push(start, i);
    i++;
  }
  return keys;
}

/** Whether a[as, ae) and b[bs, be) hold the same bytes. */
export function sameBytes(
  a: Uint8Array,
  as: number,
  ae: number,
  b: Uint8Array,
  bs: number,
  be: number,
): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) {
    if (a[as + i] !== b[bs + i]) return false;
  }
  return true;
}

/**
 * For each key of a fragment, the [start, end) of the next unused VALUE block for that key in the
 * fragment's reply, or [-1, -1]: a missing key leaves the other keys' blocks in place.
 */
function pickBlocks(fragment: Fragment, reply: Uint8Array): number[] {
  const keys = fragmentKeys(fragment.bytes);
  const blocks = valueBlocks(reply);
  // Plain arrays: a small typed array costs about 1.4 us to make in Deno, a plain one a twentieth.
  const used: boolean[] = new Array(blocks.length / 4).fill(false);
  const picks: number[] = new Array(keys.length).fill(-1);
  let firstUnused = 0;
  for (let k = 0; k < keys.length; k += 2) {
    for (let b = firstUnused; b < used.length; b++) {
      const at = 4 * b;
      if (
        used[b] || !sameBytes(fragment.bytes, keys[k], keys[k + 1], reply, blocks[at + 2], blocks[at + 3])
      ) {
        continue;
      }
      used[b] = true;
      picks[k] = blocks[at];
      picks[k + 1] = blocks[at + 1];
      break;
    }
    while (firstUnused < used.length && used[firstUnused]) firstUnused++;
  }
  return picks;
}

/**
 * The client's reply to a split get/gets: for each requested key in order, the next VALUE block for
 * it from its server's reply (duplicates kept, missing keys absent), then one END. Null when a
 * fragment's reply is not a get reply.
 */
export function mergeRetrieval(
  fragments: readonly Fragment[],
  replies: readonly Uint8Array[],
): Uint8Array | null {
  // One server got every key in order: its reply is the client's (memcached answers in key order,
  // leaving out misses).
  if (fragments.length === 1) return isRetrievalReply(replies[0]) ? replies[0] : null;
  let keyCount = 0;
  for (const f of fragments) keyCount += f.keyIndexes.length;
  // Where each request key's block sits: fragment and position of the key in that fragment.
  const keyFragment: number[] = new Array(keyCount).fill(0);
  const keyPosition: number[] = new Array(keyCount).fill(0);
  const picks: number[][] = [];
  let size = END.length;
  for (let f = 0; f < fragments.length; f++) {
    if (!isRetrievalReply(replies[f])) return null;
    const keyIndexes = fragments[f].keyIndexes;
    for (let j = 0; j < keyIndexes.length; j++) {
      keyFragment[keyIndexes[j]] = f;
      keyPosition[keyIndexes[j]] = j;
    }
    const p = pickBlocks(fragments[f], replies[f]);
    for (let k = 0; k < p.length; k += 2) size += p[k + 1] - p[k];
    picks.push(p);
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < keyCount; i++) {
    const f = keyFragment[i];
    const p = picks[f];
    const at = 2 * keyPosition[i];
    if (p[at] < 0) continue;
    out.set(replies[f].subarray(p[at], p[at + 1]), o);
    o += p[at + 1] - p[at];
  }
  out.set(END, o);
  return out;
}

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
 * One `get k1 k2 \r\n` (or `gets`) per server owning keys: its keys in request order, each followed
 * by one space; fragments in server index order. `owners[i]` is the server of key i.
 */
export function splitRetrieval(req: RequestInfo, msg: Uint8Array, owners: readonly number[]): Fragment[] {
  const prefix = req.cmd === Cmd.Gets ? GETS : GET;
  const keys = req.keys;
  let groups: [number, number[]][];
  if (owners.every((o) => o === owners[0])) {
    groups = [[owners[0], owners.map((_, i) => i)]]; // the common case: one server, nothing to sort
  } else {
    const byServer = new Map<number, number[]>();
    for (let i = 0; i < owners.length; i++) {
      const group = byServer.get(owners[i]);
      if (group) group.push(i);
      else byServer.set(owners[i], [i]);
    }
    groups = [...byServer].sort((a, b) => a[0] - b[0]);
  }
  return groups.map(([server, keyIndexes]) => {
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
    return { server, bytes, keyIndexes };
  });
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
function sameBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): boolean {
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
function pickBlocks(fragment: Fragment, reply: Uint8Array): Int32Array {
  const keys = fragmentKeys(fragment.bytes);
  const blocks = valueBlocks(reply);
  const used = new Uint8Array(blocks.length / 4);
  const picks = new Int32Array(keys.length).fill(-1);
  let firstUnused = 0;
  for (let k = 0; k < keys.length; k += 2) {
    for (let b = firstUnused; b < used.length; b++) {
      const at = 4 * b;
      if (
        used[b] || !sameBytes(fragment.bytes, keys[k], keys[k + 1], reply, blocks[at + 2], blocks[at + 3])
      ) {
        continue;
      }
      used[b] = 1;
      picks[k] = blocks[at];
      picks[k + 1] = blocks[at + 1];
      break;
    }
    while (firstUnused < used.length && used[firstUnused]) firstUnused++;
  }
  return picks;
}

/** Whether each VALUE block of the reply is for the next requested key (skipping missing ones). */
function inKeyOrder(fragment: Fragment, reply: Uint8Array): boolean {
  const keys = fragmentKeys(fragment.bytes);
  const blocks = valueBlocks(reply);
  let k = 0;
  for (let b = 0; b < blocks.length; b += 4) {
    while (
      k < keys.length &&
      !sameBytes(fragment.bytes, keys[k], keys[k + 1], reply, blocks[b + 2], blocks[b + 3])
    ) k += 2;
    if (k === keys.length) return false;
    k += 2;
  }
  return true;
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
  if (fragments.length === 1) {
    if (!isRetrievalReply(replies[0])) return null;
    // One server that answered in request order (missing keys absent, as memcached does) already
    // gave the merged reply.
    if (inKeyOrder(fragments[0], replies[0])) return replies[0];
  }
  let keyCount = 0;
  for (const f of fragments) keyCount += f.keyIndexes.length;
  // Where each request key's block sits: fragment and position of the key in that fragment.
  const keyFragment = new Int32Array(keyCount);
  const keyPosition = new Int32Array(keyCount);
  const picks: Int32Array[] = [];
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

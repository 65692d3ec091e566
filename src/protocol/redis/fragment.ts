/**
 * Splitting of multi-key requests (MGET, DEL, UNLINK, TOUCH, EXISTS, MSET) into one request per
 * server, and joining the servers' replies into the client's one reply.
 */
import type { Fragment, RequestInfo } from "../types.ts";
import { CMD, COMMANDS, Shape } from "./commands.ts";

const CR = 13;
const STAR = 42;
const DOLLAR = 36;
const COLON = 58;
const PLUS = 43;
const encoder = new TextEncoder();
const OK = encoder.encode("+OK\r\n");

/** `$<len>\r\n<name>\r\n` in lowercase for each splittable command, indexed by command id. */
const NAME_BULKS: Uint8Array[] = COMMANDS.map((c) =>
  c.shape === Shape.AllKeys || c.shape === Shape.Pairs
    ? encoder.encode(`$${c.name.length}\r\n${c.name}\r\n`)
    : new Uint8Array(0)
);

function decimalLength(n: number): number {
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/** Writes the non-negative integer n in decimal at out[at]; returns the offset after it. */
function putDecimal(out: Uint8Array, at: number, n: number): number {
  const end = at + decimalLength(n);
  for (let i = end - 1; i >= at; i--) {
    out[i] = 48 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

/** `<prefix><n>\r\n` at out[at]; returns the offset after it. */
function putLine(out: Uint8Array, at: number, prefix: number, n: number): number {
  out[at] = prefix;
  at = putDecimal(out, at + 1, n);
  out[at] = CR;
  out[at + 1] = 10;
  return at + 2;
}

/** The signed decimal in buf[from, to) (trusted: the reply parser framed it). */
function readInteger(buf: Uint8Array, from: number, to: number): number {
  const negative = buf[from] === 45;
  let n = 0;
  for (let i = negative ? from + 1 : from; i < to; i++) n = n * 10 + (buf[i] - 48);
  return negative ? -n : n;
}

/** Offset of the CR ending the line that starts at buf[from]. */
function lineEnd(buf: Uint8Array, from: number): number {
  while (from < buf.length && buf[from] !== CR) from++;
  return from;
}

/** End (exclusive, after its CRLF) of the bulk string whose `$` is at buf[at]. */
function bulkEnd(buf: Uint8Array, at: number): number {
  const cr = lineEnd(buf, at + 1);
  const len = readInteger(buf, at + 1, cr);
  return len < 0 ? cr + 2 : cr + 2 + len + 2;
}

/** The request for one server: the command in lowercase with that server's keys (and values). */
function buildFragment(req: RequestInfo, msg: Uint8Array, keyIndexes: number[]): Uint8Array {
  const keys = req.keys;
  const pairs = COMMANDS[req.cmd].shape === Shape.Pairs;
  const nameBulk = NAME_BULKS[req.cmd];
  const argc = 1 + keyIndexes.length * (pairs ? 2 : 1);
  let size = 3 + decimalLength(argc) + nameBulk.length;
  for (const k of keyIndexes) {
    const klen = keys[2 * k + 1] - keys[2 * k];
    size += 3 + decimalLength(klen) + klen + 2;
    if (pairs) size += bulkEnd(msg, keys[2 * k + 1] + 2) - (keys[2 * k + 1] + 2);
  }
  const out = new Uint8Array(size);
  let at = putLine(out, 0, STAR, argc);
  out.set(nameBulk, at);
  at += nameBulk.length;
  for (const k of keyIndexes) {
    const ks = keys[2 * k];
    const ke = keys[2 * k + 1];
    at = putLine(out, at, DOLLAR, ke - ks);
    out.set(msg.subarray(ks, ke + 2), at);
    at += ke + 2 - ks;
    if (pairs) {
      const valueEnd = bulkEnd(msg, ke + 2);
      out.set(msg.subarray(ke + 2, valueEnd), at);
      at += valueEnd - (ke + 2);
    }
  }
  return out;
}

/**
 * One fragment per server holding keys, in server index order. When every key lives on one
 * server the request goes there unchanged as a single fragment (a tsproxy difference).
 */
export function splitRequest(req: RequestInfo, msg: Uint8Array, owners: readonly number[]): Fragment[] {
  const byServer = new Map<number, number[]>();
  for (let k = 0; k < owners.length; k++) {
    const list = byServer.get(owners[k]);
    if (list === undefined) byServer.set(owners[k], [k]);
    else list.push(k);
  }
  if (byServer.size === 1) return [{ server: owners[0], bytes: msg, keyIndexes: byServer.get(owners[0])! }];
  return [...byServer.keys()].sort((a, b) => a - b).map((server) => {
    const keyIndexes = byServer.get(server)!;
    return { server, bytes: buildFragment(req, msg, keyIndexes), keyIndexes };
  });
}

/** MGET: the keys' bulks in request order, or null when a reply is not an array of as many bulks. */
function mergeMget(
  req: RequestInfo,
  fragments: readonly Fragment[],
  replies: readonly Uint8Array[],
): Uint8Array | null {
  const nkeys = req.keys.length >> 1;
  // Per key: which reply holds its bulk and where.
  const source = new Array<number>(nkeys);
  const from = new Array<number>(nkeys);
  const to = new Array<number>(nkeys);
  let size = 3 + decimalLength(nkeys);
  for (let f = 0; f < fragments.length; f++) {
    const reply = replies[f];
    const keyIndexes = fragments[f].keyIndexes;
    if (reply[0] !== STAR) return null;
    const cr = lineEnd(reply, 1);
    if (readInteger(reply, 1, cr) !== keyIndexes.length) return null;
    let at = cr + 2;
    for (const k of keyIndexes) {
      if (reply[at] !== DOLLAR) return null;
      const next = bulkEnd(reply, at);
      source[k] = f;
      from[k] = at;
      to[k] = next;
      size += next - at;
      at = next;
    }
  }
  const out = new Uint8Array(size);
  let at = putLine(out, 0, STAR, nkeys);
  for (let k = 0; k < nkeys; k++) {
    out.set(replies[source[k]].subarray(from[k], to[k]), at);
    at += to[k] - from[k];
  }
  return out;
}

/** DEL, UNLINK, TOUCH, EXISTS: the sum of the integer replies, or null when one is not an integer. */
function mergeSum(replies: readonly Uint8Array[]): Uint8Array | null {
  let sum = 0;
  for (const reply of replies) {
    if (reply[0] !== COLON) return null;
    sum += readInteger(reply, 1, lineEnd(reply, 1));
  }
  return encoder.encode(`:${sum}\r\n`);
}

/**
 * The client's reply to a split request from its fragments' replies (same order). A lone fragment
 * carried the request unchanged, so its reply is the answer as it is; otherwise a reply of the
 * wrong type (an error, say) gives null: the whole answer is then `-ERR Invalid argument`.
 */
export function mergeReplies(
  req: RequestInfo,
  fragments: readonly Fragment[],
  replies: readonly Uint8Array[],
): Uint8Array | null {
  if (fragments.length === 1) return replies[0];
  if (req.cmd === CMD.mget) return mergeMget(req, fragments, replies);
  if (req.cmd === CMD.mset) return replies.every((r) => r[0] === PLUS) ? OK : null;
  return mergeSum(replies);
}

/** Whether a fragment left without a reply also closes the client: MGET only, as in nutcracker. */
export function closesOnFragmentFailure(req: RequestInfo): boolean {
  return req.cmd === CMD.mget;
}

/**
 * The memcache ASCII batches of the bench's load generator: fixed-width keys and fixed-size values, so
 * the exact byte length of every batch's reply is known before it is sent (and checked on arrival).
 */

/** One load operation: `get` (one key), `set`, or `mget` (one `get` of several keys). */
export type McOp = "get" | "set" | "mget";

/** Requests sent together and the exact bytes the server answers them with. */
export interface Batch {
  request: Uint8Array;
  reply: Uint8Array;
}

/** Shape of a load: how many distinct keys, value size, keys per mget, requests per batch. */
export interface BatchShape {
  keys: number;
  vsize: number;
  mgetKeys: number;
  pipeline: number;
}

const encoder = new TextEncoder();

/** The i-th key: `k:` and ten digits, so every key has the same width. */
export function mcKey(i: number): string {
  return `k:${String(i).padStart(10, "0")}`;
}

function setRequest(key: string, value: string): string {
  return `set ${key} 0 0 ${value.length}\r\n${value}\r\n`;
}

/** The `index`-th batch of `pipeline` requests; request j of it starts at key (index*pipeline + j)*n. */
export function buildBatch(op: McOp, shape: BatchShape, index: number): Batch {
  const value = "x".repeat(shape.vsize);
  const n = op === "mget" ? shape.mgetKeys : 1;
  let request = "";
  let reply = "";
  for (let j = 0; j < shape.pipeline; j++) {
    const base = (index * shape.pipeline + j) * n;
    if (op === "set") {
      request += setRequest(mcKey(base % shape.keys), value);
      reply += "STORED\r\n";
      continue;
    }
    const keys = Array.from({ length: n }, (_, m) => mcKey((base + m) % shape.keys));
    request += `get ${keys.join(" ")}\r\n`;
    reply += keys.map((k) => `VALUE ${k} 0 ${shape.vsize}\r\n${value}\r\n`).join("") + "END\r\n";
  }
  return { request: encoder.encode(request), reply: encoder.encode(reply) };
}

/** The distinct batches a load cycles through: enough to touch every key once, 1..64 of them. */
export function buildBatches(op: McOp, shape: BatchShape): Batch[] {
  const perBatch = shape.pipeline * (op === "mget" ? shape.mgetKeys : 1);
  const count = Math.max(1, Math.min(64, Math.floor(shape.keys / perBatch) || 1));
  return Array.from({ length: count }, (_, i) => buildBatch(op, shape, i));
}

/** `set` batches of up to `chunk` keys that store every key of the shape, so that gets hit. */
export function preloadBatches(shape: BatchShape, chunk = 100): Batch[] {
  const value = "x".repeat(shape.vsize);
  const out: Batch[] = [];
  for (let lo = 0; lo < shape.keys; lo += chunk) {
    const hi = Math.min(shape.keys, lo + chunk);
    let request = "";
    for (let i = lo; i < hi; i++) request += setRequest(mcKey(i), value);
    out.push({ request: encoder.encode(request), reply: encoder.encode("STORED\r\n".repeat(hi - lo)) });
  }
  return out;
}

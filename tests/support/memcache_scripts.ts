/**
 * Test support: memcache request scripts — the request bytes, how many replies they draw, and the
 * replies a memcached (as modelled by MemcacheModel) gives them — plus running a script over a
 * Wire and comparing get replies as multisets of VALUE blocks.
 */
import assert from "assert";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { bin, str } from "../protocol/memcache/latin1.ts";
import { MemcacheModel, type StorageCmd } from "./memcache_model.ts";
import type { Wire } from "../../harness/wire.ts";
import { show } from "../../harness/bytes.ts";

/** One request of a script. Strings hold one char per byte. */
export interface Step {
  request: string;
  /** The reply memcached gives; null for noreply requests (no reply at all). */
  expect: string | null;
  /** A multi-key get with a missing key: nutcracker may shift VALUE blocks out of key order. */
  unordered?: boolean;
  /**
   * For a reply other clients can change (shared counters), or whose bytes memcached chooses (see
   * `padding`): the reply need only match this.
   */
  matches?: RegExp;
  /**
   * A get whose value an incr/decr shrank: memcached may hold it padded with spaces or not (see
   * memcache_model.ts); `matches` accepts either, `expect` is the padded form.
   */
  padding?: true;
}

/** Asserts that `replies` are exactly the replies the script's steps expect, in order. */
export function assertReplies(replies: readonly string[], steps: readonly Step[], label = ""): void {
  const want = replySteps(steps);
  for (let i = 0; i < Math.min(replies.length, want.length); i++) {
    const step = want[i];
    const ok = step.matches ? step.matches.test(replies[i]) : replies[i] === step.expect;
    assert.ok(
      ok,
      `${label} reply ${i} to ${show(step.request)}: got ${show(replies[i])}, want ${
        step.matches ? step.matches : show(step.expect!)
      }`,
    );
  }
  assert.equal(replies.length, want.length, `${label} number of replies`);
}

/** `<cmd> <key> <flags> <exptime> <bytes>[ <cas>][ noreply]\r\n<data>\r\n` */
export function storageRequest(
  cmd: StorageCmd | "cas",
  key: string,
  data: string,
  opts: { flags?: number; exptime?: number; cas?: string; noreply?: boolean } = {},
): string {
  const cas = cmd === "cas" ? ` ${opts.cas}` : "";
  const nr = opts.noreply ? " noreply" : "";
  return `${cmd} ${key} ${opts.flags ?? 0} ${opts.exptime ?? 0} ${data.length}${cas}${nr}\r\n${data}\r\n`;
}

/** The byte stream of a script's requests. */
export function scriptBytes(steps: readonly Step[]): Uint8Array {
  return bin(steps.map((s) => s.request).join(""));
}

/** Number of replies a script draws. */
export function replyCount(steps: readonly Step[]): number {
  return steps.filter((s) => s.expect !== null).length;
}

/** The expected replies of a script, in order. */
export function expectedReplies(steps: readonly Step[]): string[] {
  return steps.flatMap((s) => s.expect === null ? [] : [s.expect]);
}

/** The steps that draw a reply, in reply order (aligned with expectedReplies). */
export function replySteps(steps: readonly Step[]): Step[] {
  return steps.filter((s) => s.expect !== null);
}

/**
 * Sends a script (in one write, or via `send` to write it another way) while reading its replies.
 * Returns them as strings, with whether the peer closed. Failing to send all of it is an error
 * unless the peer closed the connection.
 */
export async function runScript(
  wire: Wire,
  steps: readonly Step[],
  opts: { timeoutMs?: number; send?: (data: Uint8Array) => Promise<void> } = {},
): Promise<{ replies: string[]; closed: boolean }> {
  const data = scriptBytes(steps);
  // A send error is handled here: it only matters when the peer did not close on purpose.
  const sent = (opts.send ? opts.send(data) : wire.send(data)).then(() => null, (e: unknown) => e);
  const got = await wire.replies(new MemcacheReplyParser(), replyCount(steps), opts.timeoutMs ?? 10_000);
  const error = await sent;
  if (error !== null && !got.closed && !(await wire.closedWithin(1000))) throw error;
  return { replies: got.replies.map((r) => str(r)), closed: got.closed };
}

/** The VALUE blocks of a get/gets reply, sorted: the reply's content regardless of block order. */
export function valueMultiset(reply: string): string[] {
  const blocks: string[] = [];
  let p = 0;
  while (reply.startsWith("VALUE ", p)) {
    const eol = reply.indexOf("\r\n", p);
    const len = Number(reply.slice(p, eol).split(" ")[3]);
    const end = eol + 2 + len + 2;
    blocks.push(reply.slice(p, end));
    p = end;
  }
  if (reply.slice(p) !== "END\r\n") return [`not a get reply: ${JSON.stringify(reply)}`];
  return blocks.sort();
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

/** `n` keys `<prefix><i>`, with some of memcached's odd-but-legal key bytes. */
export function keySet(prefix: string, n: number): string[] {
  const odd = ["~", "{x}", "\xe9\xff", "!#%", ":"];
  return Array.from({ length: n }, (_, i) => `${prefix}${i}${odd[i % odd.length]}`);
}

/** A value of 0..maxLength bytes: printable text, with line ends, NULs and high bytes mixed in. */
export function randomValue(rng: () => number, maxLength: number): string {
  const len = randInt(rng, maxLength + 1);
  let s = "";
  for (let i = 0; i < len; i++) {
    const r = rng();
    if (r < 0.04) s += "\r\n";
    else if (r < 0.06) s += "\0";
    else if (r < 0.1) s += String.fromCharCode(128 + randInt(rng, 128));
    else s += String.fromCharCode(32 + randInt(rng, 95));
  }
  return s.slice(0, len);
}

/** A value incr/decr reads as a number, or one it surely refuses (starts with a letter). */
function counterValue(rng: () => number): string {
  return rng() < 0.8 ? String(randInt(rng, 100_000)) : `x${randInt(rng, 100)}`;
}

const STORAGE: StorageCmd[] = ["set", "add", "replace", "append", "prepend"];

/**
 * `count` random requests over `keys`, each with the reply `model` predicts (the model is updated):
 * every storage command, get with one key and with several (duplicates and missing keys), delete,
 * incr/decr, touch, noreply forms. No gets/cas (their uniques are the server's) and no expiry.
 */
export function mixedSteps(
  model: MemcacheModel,
  rng: () => number,
  keys: readonly string[],
  count: number,
): Step[] {
  const steps: Step[] = [];
  const pick = () => keys[randInt(rng, keys.length)];
  while (steps.length < count) {
    const key = pick();
    const noreply = rng() < 0.15;
    const r = rng();
    let request: string;
    let expect: string;
    if (r < 0.3) {
      const cmd = STORAGE[randInt(rng, STORAGE.length)];
      const data = rng() < 0.2 ? counterValue(rng) : randomValue(rng, 48);
      const flags = rng() < 0.5 ? 0 : randInt(rng, 2 ** 32);
      request = storageRequest(cmd, key, data, { flags, noreply });
      expect = model.store(cmd, key, flags, data);
    } else if (r < 0.6) {
      steps.push(getStep(model, r < 0.45 ? [key] : Array.from({ length: 2 + randInt(rng, 6) }, pick)));
      continue;
    } else if (r < 0.7) {
      request = `delete ${key}${noreply ? " noreply" : ""}\r\n`;
      expect = model.delete(key);
    } else if (r < 0.9) {
      if (!model.deltaIsPredictable(key)) {
        const data = counterValue(rng);
        steps.push({ request: storageRequest("set", key, data), expect: model.store("set", key, 0, data) });
        continue;
      }
      const cmd = rng() < 0.6 ? "incr" : "decr";
      const by = BigInt(randInt(rng, 1000));
      request = `${cmd} ${key} ${by}${noreply ? " noreply" : ""}\r\n`;
      expect = model.delta(cmd, key, by);
    } else {
      request = `touch ${key} 0${noreply ? " noreply" : ""}\r\n`;
      expect = model.touch(key);
    }
    steps.push({ request, expect: noreply ? null : expect });
  }
  return steps;
}

/** A step with the reply it must get. */
export function step(request: string, expect: string | null): Step {
  return { request, expect };
}

/**
 * Every supported command once or more, with the exact replies of a fresh memcached: storage
 * commands hitting and missing, get, incr/decr (padding or not, 64-bit wrap), touch, delete,
 * memcached's own CLIENT_ERRORs and `version` (whose reply line is given).
 */
export function commandSteps(p: string, versionLine: string): Step[] {
  const k = `${p}k`;
  const n = `${p}n`;
  const none = `${p}none`;
  const long = p + "l".repeat(250 - p.length);
  return [
    step(storageRequest("set", k, "abc", { flags: 5 }), "STORED\r\n"),
    step(`get ${k}\r\n`, `VALUE ${k} 5 3\r\nabc\r\nEND\r\n`),
    step(storageRequest("add", k, "x"), "NOT_STORED\r\n"),
    step(storageRequest("add", `${p}new`, "hi", { flags: 7 }), "STORED\r\n"),
    step(storageRequest("replace", k, "wxyz", { flags: 9, exptime: 3600 }), "STORED\r\n"),
    step(storageRequest("replace", none, "x"), "NOT_STORED\r\n"),
    step(storageRequest("append", k, "12", { flags: 1 }), "STORED\r\n"),
    step(storageRequest("prepend", k, "ab"), "STORED\r\n"),
    step(storageRequest("append", none, "x"), "NOT_STORED\r\n"),
    step(storageRequest("prepend", none, "x"), "NOT_STORED\r\n"),
    step(`get ${k}\r\n`, `VALUE ${k} 9 8\r\nabwxyz12\r\nEND\r\n`),
    step(`get ${p}new ${k}  \r\n`, `VALUE ${p}new 7 2\r\nhi\r\nVALUE ${k} 9 8\r\nabwxyz12\r\nEND\r\n`),
    step(storageRequest("set", n, "10"), "STORED\r\n"),
    step(`incr ${n} 5\r\n`, "15\r\n"),
    step(`decr ${n} 20\r\n`, "0\r\n"),
    // In place and padded to the old length, or a new item of the exact length (see memcache_model.ts).
    {
      request: `get ${n}\r\n`,
      expect: `VALUE ${n} 0 2\r\n0 \r\nEND\r\n`,
      matches: new RegExp(`^VALUE ${escapeRe(n)} 0 (?:2\\r\\n0 |1\\r\\n0)\\r\\nEND\\r\\n$`),
      padding: true,
    },
    step(`incr ${n} 18446744073709551615\r\n`, "18446744073709551615\r\n"),
    step(`incr ${n} 1\r\n`, "0\r\n"),
    step(`incr ${none} 1\r\n`, "NOT_FOUND\r\n"),
    step(`decr ${none} 1\r\n`, "NOT_FOUND\r\n"),
    step(`incr ${k} 1\r\n`, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
    step(`incr ${n} -1\r\n`, "CLIENT_ERROR invalid numeric delta argument\r\n"),
    step(`touch ${k} 3600\r\n`, "TOUCHED\r\n"),
    step(`touch ${none} 0\r\n`, "NOT_FOUND\r\n"),
    // A negative exptime (allowed on touch only) expires the item at once.
    step(`touch ${p}new -1\r\n`, "TOUCHED\r\n"),
    step(`get ${p}new\r\n`, "END\r\n"),
    // The longest key memcached and nutcracker take: 250 bytes.
    step(storageRequest("set", long, "L"), "STORED\r\n"),
    step(`get ${long} ${long}\r\n`, `VALUE ${long} 0 1\r\nL\r\nVALUE ${long} 0 1\r\nL\r\nEND\r\n`),
    step(`delete ${k}\r\n`, "DELETED\r\n"),
    step(`delete ${k}  \r\n`, "NOT_FOUND\r\n"),
    step(`get ${k}\r\n`, "END\r\n"),
    step("version\r\n", versionLine),
    step("  version  \r\n", versionLine),
  ];
}

/** The noreply form of every command that has one: silent, yet the gets after them see the effects. */
export function noreplySteps(p: string): Step[] {
  const k = `${p}k`;
  const n = `${p}n`;
  const a = `${p}a`;
  return [
    step(storageRequest("set", k, "abc", { flags: 1, noreply: true }), null),
    step(storageRequest("add", k, "x", { noreply: true }), null),
    step(storageRequest("add", a, "y", { flags: 2, noreply: true }), null),
    step(storageRequest("replace", k, "def", { flags: 3, noreply: true }), null),
    step(storageRequest("append", k, "g", { noreply: true }), null),
    step(storageRequest("prepend", k, "c", { noreply: true }), null),
    step(storageRequest("replace", `${p}none`, "x", { noreply: true }), null),
    step(storageRequest("set", n, "5", { noreply: true }), null),
    step(`incr ${n} 10 noreply\r\n`, null),
    step(`decr ${n} 3 noreply  \r\n`, null),
    step(`incr ${p}none 1 noreply\r\n`, null),
    step(`touch ${k} 0 noreply\r\n`, null),
    step(`delete ${a} noreply\r\n`, null),
    step(`delete ${a} noreply\r\n`, null),
    step(`get ${k}\r\n`, `VALUE ${k} 3 5\r\ncdefg\r\nEND\r\n`),
    step(`get ${n}\r\n`, `VALUE ${n} 0 2\r\n12\r\nEND\r\n`),
    step(`get ${a}\r\n`, "END\r\n"),
  ];
}

/** memcached's reply to a value over its 1 MB item limit. */
export const TOO_LARGE = "SERVER_ERROR object too large for cache\r\n";

/** A 2 MB set (refused by memcached, which swallows the data) and the connection still working. */
export function tooLargeSteps(p: string): Step[] {
  const big = "z".repeat(2 * 1024 * 1024);
  return [
    step(storageRequest("set", `${p}big`, "small"), "STORED\r\n"),
    step(storageRequest("set", `${p}big`, big), TOO_LARGE),
    // memcached drops the old item when it cannot store the new one.
    step(`get ${p}big\r\n`, "END\r\n"),
    step(storageRequest("set", `${p}big`, "after"), "STORED\r\n"),
    step(`get ${p}big\r\n`, `VALUE ${p}big 0 5\r\nafter\r\nEND\r\n`),
  ];
}

/** The cas unique of the first VALUE line of a gets reply. */
export function casOf(reply: string): string {
  return reply.slice(0, reply.indexOf("\r\n")).split(" ")[4] ?? "";
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * gets and cas in rounds, each round built from the uniques the previous one returned: cas with the
 * current unique stores, with a stale one gets EXISTS, on a missing key NOT_FOUND; cas noreply; a
 * multi-key gets. Returns every step and reply (uniques only matched by shape in `expect`).
 */
export async function casSession(wire: Wire, p: string): Promise<{ steps: Step[]; replies: string[] }> {
  const k = `${p}k`;
  const j = `${p}j`;
  const steps: Step[] = [];
  const replies: string[] = [];
  const round = async (...batch: Step[]) => {
    steps.push(...batch);
    const got = await runScript(wire, batch);
    replies.push(...got.replies);
    return got.replies;
  };
  const gets = (key: string, flags: number, data: string): Step => ({
    request: `gets ${key}\r\n`,
    expect: "",
    matches: new RegExp(`^VALUE ${escapeRe(key)} ${flags} ${data.length} \\d+\\r\\n${data}\\r\\nEND\\r\\n$`),
  });
  await round(step(storageRequest("set", k, "v1"), "STORED\r\n"));
  const cas1 = casOf((await round(gets(k, 0, "v1")))[0]);
  const second = await round(
    step(storageRequest("cas", k, "v2", { flags: 4, cas: cas1 }), "STORED\r\n"),
    step(storageRequest("cas", k, "v3", { cas: cas1 }), "EXISTS\r\n"),
    step(storageRequest("cas", `${p}none`, "x", { cas: cas1 }), "NOT_FOUND\r\n"),
    gets(k, 4, "v2"),
  );
  const cas2 = casOf(second[3] ?? "");
  await round(
    step(storageRequest("cas", k, "v4", { flags: 6, cas: cas2, noreply: true }), null),
    step(storageRequest("cas", k, "v5", { cas: cas2, noreply: true }), null),
    step(`get ${k}\r\n`, `VALUE ${k} 6 2\r\nv4\r\nEND\r\n`),
    step(storageRequest("set", j, "jj"), "STORED\r\n"),
    {
      request: `gets ${k} ${j} ${p}none ${k}\r\n`,
      expect: "",
      matches: new RegExp(
        `^VALUE ${escapeRe(k)} 6 2 \\d+\\r\\nv4\\r\\nVALUE ${escapeRe(j)} 0 2 \\d+\\r\\njj\\r\\n` +
          `VALUE ${escapeRe(k)} 6 2 \\d+\\r\\nv4\\r\\nEND\\r\\n$`,
      ),
      unordered: true,
    },
  );
  return { steps, replies };
}

/** `set` of each key (value `v:<key>:` plus 0..6 x's, flags = its index), recorded in `model`. */
export function storeSteps(model: MemcacheModel, keys: readonly string[]): Step[] {
  return keys.map((k, i) => {
    const data = `v:${k}:${"x".repeat(i % 7)}`;
    return step(storageRequest("set", k, data, { flags: i }), model.store("set", k, i, data));
  });
}

/** A get of `keys` (one request) with the reply `model` predicts; unordered when a key is missing. */
export function getStep(model: MemcacheModel, keys: readonly string[], cmd = "get"): Step {
  return {
    request: `${cmd} ${keys.join(" ")}\r\n`,
    ...model.get(keys),
    unordered: keys.length > 1 && keys.some((k) => !model.has(k)),
  };
}

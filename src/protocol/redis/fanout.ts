/**
 * Commands about the whole dataset, which no single server can answer: INFO and DBSIZE go to every
 * server of the pool and their replies are merged as if from one redis; SCAN goes to one server at a
 * time, the one its cursor names, so a scan walks the servers one after the other.
 *
 * SCAN's cursor: the proxy's cursor C names server i = C mod n and that server's cursor S = C div n
 * (n servers in the pool). A server's next cursor S' becomes S' * n + i; when that server is done
 * (S' = 0) the next one starts at cursor 0 (proxy cursor i + 1), and the last one's 0 ends the scan.
 */
import { VERSION } from "../../version.ts";
import type { Fragment } from "../types.ts";
import { argsOf, command, concat, latin1 } from "./resp.ts";

export type FanoutCommand = "info" | "dbsize" | "scan";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const COLON = 58;
const DOLLAR = 36;
const MINUS = 45;
/** A redis cursor is an unsigned 64-bit number. */
const SERVER_CURSORS = 2n ** 64n;
/** Longer cursor arguments are refused before any arithmetic (2^64 * n has about 30 digits). */
const MAX_CURSOR_DIGITS = 64;

/**
 * Why the request cannot be served (a client error message without the "-ERR " prefix), or null.
 * `servers` = number of servers in the pool; without it a cursor's size is not checked here (its
 * server then answers redis's own `invalid cursor`, passed on as it is).
 */
export function fanoutError(
  cmd: FanoutCommand,
  msg: Uint8Array,
  args: readonly number[],
  servers?: number,
): string | null {
  if (cmd !== "scan") return null;
  if (args.length < 2) return "wrong number of arguments for 'scan' command";
  const cursor = unsignedDecimal(msg.subarray(args[0], args[1]));
  if (cursor === null) return "invalid cursor";
  // A cursor at or above 2^64 * n would name a server cursor redis cannot hold.
  return servers !== undefined && cursor >= SERVER_CURSORS * BigInt(servers) ? "invalid cursor" : null;
}

/** A cursor: unsigned decimal digits only (redis's strtoul also takes signs and spaces), or null. */
function unsignedDecimal(bytes: Uint8Array): bigint | null {
  if (bytes.length === 0 || bytes.length > MAX_CURSOR_DIGITS) return null;
  const text = latin1(bytes);
  return /^[0-9]+$/.test(text) ? BigInt(text) : null;
}

/**
 * INFO and DBSIZE: the request as it is, to every server. SCAN: one fragment, to the server its cursor
 * names, asking that server's cursor with the other arguments as given (checked by fanoutError first).
 * owners are the indexes of every server of the pool, 0..n-1.
 */
export function splitFanout(
  cmd: FanoutCommand,
  msg: Uint8Array,
  args: readonly number[],
  owners: readonly number[],
): Fragment[] {
  const servers = owners.length;
  if (cmd !== "scan") return owners.map((server) => ({ server, bytes: msg, keyIndexes: [], servers }));
  const [cursor, ...rest] = argsOf(msg, args);
  const proxy = unsignedDecimal(cursor);
  if (proxy === null) throw new Error("SCAN cursor was not checked by fanoutError");
  const n = BigInt(servers);
  const bytes = command("scan", String(proxy / n), ...rest);
  return [{ server: owners[Number(proxy % n)], bytes, keyIndexes: [], servers }];
}

/** The client's one reply from the fragments' replies (same order), or null when one is of the wrong type. */
export function mergeFanout(
  cmd: FanoutCommand,
  fragments: readonly Fragment[],
  replies: readonly Uint8Array[],
): Uint8Array | null {
  switch (cmd) {
    case "dbsize":
      return mergeDbsize(replies);
    case "scan":
      return mergeScan(fragments[0], replies[0]);
    case "info":
      return mergeInfo(replies);
  }
}

/** DBSIZE: the sum of the servers' key counts. */
function mergeDbsize(replies: readonly Uint8Array[]): Uint8Array | null {
  let total = 0;
  for (const reply of replies) {
    if (reply[0] !== COLON) return null;
    total += Number(latin1(reply.subarray(1, reply.length - 2)));
  }
  return encoder.encode(`:${total}\r\n`);
}

/**
 * SCAN: the server's reply with its next cursor turned into the proxy's. An error reply (a bad MATCH
 * or COUNT) is the client's answer as it is: the scan went to that one server unchanged but the cursor.
 */
function mergeScan(fragment: Fragment, reply: Uint8Array): Uint8Array | null {
  if (reply[0] === MINUS) return reply;
  // `*2\r\n$<len>\r\n<cursor>\r\n*<k>\r\n<keys>`
  const head = /^\*2\r\n\$([0-9]+)\r\n/.exec(latin1(reply.subarray(0, 32)));
  if (head === null) return null;
  const start = head[0].length;
  const end = start + Number(head[1]);
  const next = unsignedDecimal(reply.subarray(start, end));
  if (next === null || latin1(reply.subarray(end, end + 3)) !== "\r\n*") return null;
  // The owners were the pool's servers 0..n-1, so a fragment's server is its index in the pool.
  const cursor = String(nextProxyCursor(next, fragment.server, fragment.servers ?? 1));
  return concat([encoder.encode(`*2\r\n$${cursor.length}\r\n${cursor}\r\n`), reply.subarray(end + 2)]);
}

/** The proxy cursor after server `index` of `servers` answered its next cursor `next`. */
function nextProxyCursor(next: bigint, index: number, servers: number): bigint {
  if (next !== 0n) return next * BigInt(servers) + BigInt(index);
  return index + 1 < servers ? BigInt(index + 1) : 0n;
}

/** One INFO section: its title as the server wrote it, and its `key:value` lines in order. */
interface Section {
  title: string;
  fields: Map<string, string>;
}

/**
 * How each kept section is merged from the servers' (in server order; a server without it gives an
 * empty one). Other sections (Memory, Stats, Replication, ...) describe one process and are left out.
 */
const SECTION_MERGERS = new Map<string, (all: Map<string, string>[]) => string[]>([
  ["server", (all) => [...lowestVersion(all), "redis_mode:standalone"]],
  ["clients", (all) => [`connected_clients:${sumField(all, "connected_clients")}`]],
  // Always 0: the proxy answers only once every server did, so none is loading (ioredis's ready check).
  ["persistence", () => ["loading:0"]],
  ["keyspace", mergeKeyspace],
]);

/**
 * INFO as from one redis: a `# Proxy` section, then the kept sections in the order the servers wrote
 * them, each merged over the servers. Null when a reply is not a bulk string.
 */
function mergeInfo(replies: readonly Uint8Array[]): Uint8Array | null {
  const parsed: Map<string, Section>[] = [];
  for (const reply of replies) {
    const text = bulkText(reply);
    if (text === null) return null;
    parsed.push(infoSections(text));
  }
  const lines = ["# Proxy", "proxy:tsproxy", `proxy_version:${VERSION}`, `servers:${replies.length}`];
  for (const [name, title] of sectionOrder(parsed)) {
    const merge = SECTION_MERGERS.get(name);
    if (merge === undefined) continue;
    const all = parsed.map((p) => p.get(name)?.fields ?? new Map<string, string>());
    lines.push("", `# ${title}`, ...merge(all));
  }
  const body = encoder.encode(lines.map((line) => line + "\r\n").join(""));
  return concat([encoder.encode(`$${body.length}\r\n`), body, encoder.encode("\r\n")]);
}

/** The text of a bulk string reply, or null for any other reply. */
function bulkText(reply: Uint8Array): string | null {
  if (reply[0] !== DOLLAR || reply[1] === MINUS) return null;
  const headerEnd = reply.indexOf(13);
  return decoder.decode(reply.subarray(headerEnd + 2, reply.length - 2));
}

/** INFO's text by section (lowercase name), each with its `key:value` lines. */
function infoSections(text: string): Map<string, Section> {
  const sections = new Map<string, Section>();
  let current: Section | null = null;
  for (const line of text.split("\r\n")) {
    if (line.startsWith("# ")) {
      current = { title: line.slice(2), fields: new Map() };
      sections.set(current.title.toLowerCase(), current);
      continue;
    }
    const colon = line.indexOf(":");
    if (current !== null && colon > 0) current.fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return sections;
}

/** Every section name with its title, in the first server's order, then any other server's new ones. */
function sectionOrder(parsed: Map<string, Section>[]): Map<string, string> {
  const order = new Map<string, string>();
  for (const sections of parsed) {
    for (const [name, section] of sections) if (!order.has(name)) order.set(name, section.title);
  }
  return order;
}

/** A field's value as a non-negative integer (0 when absent or not one). */
function count(value: string | undefined): bigint {
  return value !== undefined && /^[0-9]+$/.test(value) ? BigInt(value) : 0n;
}

function sumField(all: Map<string, string>[], key: string): bigint {
  return all.reduce((sum, fields) => sum + count(fields.get(key)), 0n);
}

/** `redis_version:` the lowest of the servers' versions, compared by dotted parts as numbers. */
function lowestVersion(all: Map<string, string>[]): string[] {
  const versions = all.map((fields) => fields.get("redis_version")).filter((v) => v !== undefined);
  if (versions.length === 0) return [];
  return [`redis_version:${versions.reduce((low, v) => versionBelow(v, low) ? v : low)}`];
}

function versionBelow(a: string, b: string): boolean {
  const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const [p, q] = [x[i] || 0, y[i] || 0];
    if (p !== q) return p < q;
  }
  return false;
}

/**
 * `dbN:keys=K,expires=E,avg_ttl=T` summed over the servers, per db: counts are added; avg_ttl, the
 * mean TTL of the keys that have one, is the mean over all servers' such keys (weighted by E),
 * rounded down.
 */
function mergeKeyspace(all: Map<string, string>[]): string[] {
  const dbs = new Map<string, Map<string, bigint>>();
  for (const keyspace of all) {
    for (const [db, value] of keyspace) {
      const sums = dbs.get(db) ?? new Map<string, bigint>();
      dbs.set(db, sums);
      const fields = new Map(value.split(",").map((f) => f.split("=", 2) as [string, string]));
      const expires = count(fields.get("expires"));
      for (const [key, v] of fields) {
        // avg_ttl is summed as total TTL (mean * keys with a TTL) and divided back below.
        const add = key === "avg_ttl" ? count(v) * expires : count(v);
        sums.set(key, (sums.get(key) ?? 0n) + add);
      }
    }
  }
  // In db number order, as redis lists them.
  const byNumber = (a: string, b: string) => Number(a.slice(2)) - Number(b.slice(2));
  return [...dbs].sort(([a], [b]) => byNumber(a, b)).map(([db, sums]) => {
    const expires = sums.get("expires") ?? 0n;
    const fields = [...sums].map(([key, sum]) =>
      key !== "avg_ttl" ? `${key}=${sum}` : `avg_ttl=${expires === 0n ? 0n : sum / expires}`
    );
    return `${db}:${fields.join(",")}`;
  });
}

/**
 * Commands that ask every server of the pool (INFO, DBSIZE) and merge the answers, and SCAN, whose
 * cursor names the server the scan is on.
 */
import { VERSION } from "../../version.ts";
import type { Fragment } from "../types.ts";
import { argsOf, command, concat, latin1 } from "./resp.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type FanoutCommand = "info" | "dbsize" | "scan";

/** Why the request cannot be served (without "ERR "), or null. */
export function fanoutError(cmd: FanoutCommand, msg: Uint8Array, ranges: readonly number[]): string | null {
  if (cmd !== "scan") return null;
  return /^\d+$/.test(latin1(argsOf(msg, ranges)[0])) ? null : "invalid cursor";
}

/**
 * INFO and DBSIZE: the request as it is, to every server. SCAN: to the server its cursor names,
 * with that server's own cursor: the proxy's cursor is `server cursor * servers + server index`.
 */
export function splitFanout(
  cmd: FanoutCommand,
  msg: Uint8Array,
  ranges: readonly number[],
  owners: readonly number[],
): Fragment[] {
  const servers = owners.length;
  if (cmd !== "scan") return owners.map((server) => ({ server, bytes: msg, keyIndexes: [], servers }));
  const [cursor, ...rest] = argsOf(msg, ranges);
  const proxyCursor = BigInt(latin1(cursor));
  const n = BigInt(servers);
  const server = Number(proxyCursor % n);
  const bytes = command("scan", String(proxyCursor / n), ...rest);
  return [{ server: owners[server], bytes, keyIndexes: [], servers }];
}

/** The client's one reply, or null when a server's reply is not of the expected type. */
export function mergeFanout(
  cmd: FanoutCommand,
  fragments: readonly Fragment[],
  replies: readonly Uint8Array[],
): Uint8Array | null {
  switch (cmd) {
    case "dbsize": {
      let total = 0;
      for (const r of replies) {
        if (r[0] !== 58) return null; // ':'
        total += Number(decoder.decode(r.subarray(1, r.length - 2)));
      }
      return encoder.encode(`:${total}\r\n`);
    }
    case "scan":
      return mergeScan(fragments[0], replies[0]);
    case "info": {
      const texts = replies.map(bulkText);
      return texts.includes(null) ? null : mergeInfo(texts as string[]);
    }
  }
}

/** The bulk string reply's text, or null for another reply. */
function bulkText(reply: Uint8Array): string | null {
  if (reply[0] !== 36) return null; // '$'
  const header = reply.indexOf(13);
  return decoder.decode(reply.subarray(header + 2, reply.length - 2));
}

/** SCAN's reply with the server's next cursor turned into the proxy's. */
function mergeScan(fragment: Fragment, reply: Uint8Array): Uint8Array | null {
  // `*2\r\n$<n>\r\n<cursor>\r\n*<k>...`
  if (reply[0] !== 42 || reply[4] !== 36) return null;
  const lenEnd = reply.indexOf(13, 5);
  const len = Number(decoder.decode(reply.subarray(5, lenEnd)));
  const cursorStart = lenEnd + 2;
  const next = BigInt(decoder.decode(reply.subarray(cursorStart, cursorStart + len)));
  const servers = BigInt(fragment.servers ?? 1);
  const index = BigInt(fragment.server);
  const proxyNext = next !== 0n ? next * servers + index : index + 1n < servers ? index + 1n : 0n;
  const text = String(proxyNext);
  return concat([
    encoder.encode(`*2\r\n$${text.length}\r\n${text}\r\n`),
    reply.subarray(cursorStart + len + 2),
  ]);
}

/** `# Section` -> its `key:value` lines, in the reply's order. */
function sections(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const line of text.split("\r\n")) {
    if (line.startsWith("# ")) out.set(line.slice(2).toLowerCase(), current = new Map());
    else if (current !== null && line.includes(":")) {
      const at = line.indexOf(":");
      current.set(line.slice(0, at), line.slice(at + 1));
    }
  }
  return out;
}

/** Orders dotted versions numerically. */
function versionLess(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  }
  return false;
}

/** Sums `dbN:keys=K,expires=E,avg_ttl=T` lines over servers (avg_ttl weighted by keys). */
function mergeKeyspace(all: Map<string, string>[]): string[] {
  const dbs = new Map<string, { keys: number; expires: number; ttlWeight: number }>();
  for (const keyspace of all) {
    for (const [db, value] of keyspace) {
      const fields = Object.fromEntries(value.split(",").map((f) => f.split("=")));
      const sum = dbs.get(db) ?? { keys: 0, expires: 0, ttlWeight: 0 };
      const keys = Number(fields.keys ?? 0);
      sum.keys += keys;
      sum.expires += Number(fields.expires ?? 0);
      sum.ttlWeight += Number(fields.avg_ttl ?? 0) * keys;
      dbs.set(db, sum);
    }
  }
  return [...dbs].map(([db, s]) =>
    `${db}:keys=${s.keys},expires=${s.expires},avg_ttl=${s.keys > 0 ? Math.floor(s.ttlWeight / s.keys) : 0}`
  );
}

/** INFO as one redis: a Proxy section, then the sections the servers gave, merged. */
function mergeInfo(texts: string[]): Uint8Array {
  const parsed = texts.map(sections);
  const lines = ["# Proxy", "proxy:tsproxy", `proxy_version:${VERSION}`, `servers:${texts.length}`];
  for (const name of parsed[0].keys()) {
    const all = parsed.map((p) => p.get(name) ?? new Map<string, string>());
    switch (name) {
      case "server": {
        const versions = all.map((s) => s.get("redis_version") ?? "0");
        const lowest = versions.reduce((a, b) => versionLess(b, a) ? b : a);
        lines.push("", "# Server", `redis_version:${lowest}`, "redis_mode:standalone");
        break;
      }
      case "clients": {
        const clients = all.reduce((n, s) => n + Number(s.get("connected_clients") ?? 0), 0);
        lines.push("", "# Clients", `connected_clients:${clients}`);
        break;
      }
      case "persistence":
        // The proxy answers once every server answered: none of them is loading.
        lines.push("", "# Persistence", "loading:0");
        break;
      case "keyspace":
        lines.push("", "# Keyspace", ...mergeKeyspace(all));
        break;
    }
  }
  const body = encoder.encode(lines.join("\r\n") + "\r\n");
  return concat([encoder.encode(`$${body.length}\r\n`), body, encoder.encode("\r\n")]);
}

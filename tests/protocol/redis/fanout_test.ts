/**
 * INFO and DBSIZE fanned out to every server and merged, and SCAN walking the servers one after the
 * other. Server replies quoted as "redis 7.0" were read from redis-server 7.0.15 by hand.
 */
import assert from "assert";
import type { Fragment } from "../../../src/protocol/types.ts";
import {
  type FanoutCommand,
  fanoutError,
  mergeFanout,
  splitFanout,
} from "../../../src/protocol/redis/fanout.ts";
import { RedisRequestParser } from "../../../src/protocol/redis/request_parser.ts";
import { VERSION } from "../../../src/version.ts";
import { bytes, command, text } from "./resp.ts";

/** A request framed by the request parser: its bytes and its argument ranges. */
function frame(...args: string[]): { cmd: FanoutCommand; msg: Uint8Array; args: number[] } {
  const msg = command(...args);
  const req = new RedisRequestParser(16384).parse(msg, 0, msg.length);
  assert.ok(req);
  return { cmd: args[0].toLowerCase() as FanoutCommand, msg, args: req.keys };
}

const pool = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The fragments of a request to a pool of n servers. */
function split(n: number, ...args: string[]): Fragment[] {
  const { cmd, msg, args: ranges } = frame(...args);
  return splitFanout(cmd, msg, ranges, pool(n));
}

function refusal(servers: number, ...args: string[]): string | null {
  const { cmd, msg, args: ranges } = frame(...args);
  return fanoutError(cmd, msg, ranges, servers);
}

/** A SCAN reply as redis writes it: the next cursor and the keys. */
const scanReply = (cursor: string, keys: string[]) =>
  bytes(
    `*2\r\n$${cursor.length}\r\n${cursor}\r\n*${keys.length}\r\n` +
      keys.map((k) => `$${k.length}\r\n${k}\r\n`).join(""),
  );

/** The proxy's reply to SCAN `cursor` once its server answered `reply`, as text. */
function scanThrough(n: number, cursor: string, reply: Uint8Array): string | null {
  const fragments = split(n, "SCAN", cursor);
  const merged = mergeFanout("scan", fragments, [reply]);
  return merged === null ? null : text(merged);
}

const bulk = (body: string) => bytes(`$${bytes(body).length}\r\n${body}\r\n`);

// Two real `INFO` replies of redis 7.0.15, trimmed to a few lines per section; the second server's
// redis_version was edited from 7.0.15 to 7.0.9 to check the numeric comparison (9 < 15).
const INFO_A =
  "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nos:Linux 6.18.44-fc-v1252 x86_64\r\n" +
  "process_id:17225\r\ntcp_port:16391\r\nuptime_in_seconds:213\r\n\r\n# Clients\r\nconnected_clients:1\r\n" +
  "maxclients:10000\r\nblocked_clients:0\r\n\r\n# Memory\r\nused_memory:1388152\r\nused_memory_human:1.32M\r\n\r\n" +
  "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:8\r\n\r\n# Stats\r\n" +
  "total_connections_received:16\r\ntotal_commands_processed:86\r\n\r\n# Replication\r\nrole:master\r\n" +
  "connected_slaves:0\r\n\r\n# CPU\r\n\r\n# Modules\r\n\r\n# Errorstats\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n" +
  "# Keyspace\r\ndb0:keys=7,expires=2,avg_ttl=1495699\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n";
const INFO_B =
  "# Server\r\nredis_version:7.0.9\r\nredis_mode:standalone\r\nos:Linux 6.18.44-fc-v1252 x86_64\r\n" +
  "process_id:17283\r\ntcp_port:16392\r\nuptime_in_seconds:205\r\n\r\n# Clients\r\nconnected_clients:1\r\n" +
  "maxclients:10000\r\nblocked_clients:0\r\n\r\n# Memory\r\nused_memory:1043424\r\nused_memory_human:1018.97K\r\n\r\n" +
  "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:4\r\n\r\n# Stats\r\n" +
  "total_connections_received:7\r\ntotal_commands_processed:22\r\n\r\n# Replication\r\nrole:master\r\n" +
  "connected_slaves:0\r\n\r\n# CPU\r\n\r\n# Modules\r\n\r\n# Errorstats\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n" +
  "# Keyspace\r\ndb0:keys=4,expires=3,avg_ttl=495499\r\n";
// redis 7.0's `INFO keyspace` from the same two servers (untrimmed).
const KEYSPACE_A = "# Keyspace\r\ndb0:keys=7,expires=2,avg_ttl=1495099\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n";
const KEYSPACE_B = "# Keyspace\r\ndb0:keys=4,expires=3,avg_ttl=494899\r\n";
const PROXY = `# Proxy\r\nproxy:tsproxy\r\nproxy_version:${VERSION}\r\nservers:2\r\n`;

function mergedInfo(...replies: Uint8Array[]): string | null {
  const fragments = split(replies.length, "INFO");
  const merged = mergeFanout("info", fragments, replies);
  return merged === null ? null : text(merged);
}

Deno.test("INFO and DBSIZE go unchanged to every server of the pool, each fragment counting the pool", () => {
  for (const args of [["INFO"], ["info", "keyspace"], ["DBSIZE"]]) {
    const { msg } = frame(...args);
    assert.deepEqual(
      split(3, ...args).map((f) => ({ ...f, bytes: text(f.bytes) })),
      pool(3).map((server) => ({ server, bytes: text(msg), keyIndexes: [], servers: 3 })),
    );
  }
});

Deno.test("DBSIZE is the sum of the servers' counts; an error reply gives null", () => {
  const fragments = split(2, "DBSIZE");
  // redis 7.0's DBSIZE of the two servers.
  assert.equal(text(mergeFanout("dbsize", fragments, [bytes(":7\r\n"), bytes(":4\r\n")])!), ":11\r\n");
  assert.equal(mergeFanout("dbsize", fragments, [bytes(":7\r\n"), bytes("-ERR boom\r\n")]), null);
});

Deno.test("SCAN cursor C goes to server C mod n as that server's cursor C div n, MATCH and COUNT carried", () => {
  assert.deepEqual(split(3, "SCAN", "0").map((f) => [f.server, text(f.bytes), f.servers]), [
    [0, "*2\r\n$4\r\nscan\r\n$1\r\n0\r\n", 3],
  ]);
  const [fragment] = split(3, "SCAN", "7", "MATCH", "k*", "COUNT", "100", "TYPE", "string");
  assert.equal(fragment.server, 1);
  assert.equal(
    text(fragment.bytes),
    "*8\r\n$4\r\nscan\r\n$1\r\n2\r\n$5\r\nMATCH\r\n$2\r\nk*\r\n$5\r\nCOUNT\r\n$3\r\n100\r\n$4\r\nTYPE\r\n$6\r\nstring\r\n",
  );
});

Deno.test("a server's next cursor S becomes S * n + i, the keys array passed as is (redis 7.0 reply)", () => {
  // redis 7.0's `SCAN 0 COUNT 2`, as if from server 1 of 3.
  const reply = bytes("*2\r\n$1\r\n4\r\n*4\r\n$2\r\nt2\r\n$2\r\nk3\r\n$2\r\nk4\r\n$2\r\nk5\r\n");
  assert.equal(
    scanThrough(3, "1", reply),
    "*2\r\n$2\r\n13\r\n*4\r\n$2\r\nt2\r\n$2\r\nk3\r\n$2\r\nk4\r\n$2\r\nk5\r\n",
  );
});

Deno.test("a server's 0 moves the scan to the next server at cursor 0; the last server's 0 ends it", () => {
  assert.equal(scanThrough(3, "0", scanReply("0", ["a"])), "*2\r\n$1\r\n1\r\n*1\r\n$1\r\na\r\n");
  assert.equal(scanThrough(3, "1", scanReply("0", [])), "*2\r\n$1\r\n2\r\n*0\r\n");
  assert.equal(scanThrough(3, "2", scanReply("0", [])), "*2\r\n$1\r\n0\r\n*0\r\n");
  assert.equal(scanThrough(1, "5", scanReply("0", [])), "*2\r\n$1\r\n0\r\n*0\r\n");
});

Deno.test("a whole SCAN over 3 servers visits each server's cursors in turn and returns every key once", () => {
  // Each server's scan: its cursor -> [next cursor, keys].
  const servers = [
    new Map([["0", ["9", ["a1", "a2"]]], ["9", ["0", ["a3"]]]]),
    new Map([["0", ["0", []]]]),
    new Map([["0", ["18446744073709551615", ["c1"]]], ["18446744073709551615", ["0", ["c2"]]]]),
  ] as Map<string, [string, string[]]>[];
  const visited: string[] = [];
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [fragment] = split(3, "SCAN", cursor, "COUNT", "10");
    const serverCursor = text(fragment.bytes).split("\r\n")[4];
    visited.push(`${fragment.server}:${serverCursor}`);
    const [next, found] = servers[fragment.server].get(serverCursor)!;
    const merged = text(mergeFanout("scan", [fragment], [scanReply(next, found)])!);
    keys.push(...merged.split("\r\n").slice(4).filter((_, i) => i % 2 === 1));
    cursor = merged.split("\r\n")[2];
  } while (cursor !== "0");
  assert.deepEqual(visited, ["0:0", "0:9", "1:0", "2:0", "2:18446744073709551615"]);
  assert.deepEqual(keys, ["a1", "a2", "a3", "c1", "c2"]);
});

Deno.test("a cursor that is not an unsigned decimal, or past 2^64 * n, is refused as redis's invalid cursor", () => {
  for (const bad of ["x", "-1", "+1", " 1", "", "1.0", "1".repeat(65)]) {
    assert.equal(refusal(3, "SCAN", bad), "invalid cursor", bad);
  }
  const limit = 2n ** 64n * 3n;
  assert.equal(refusal(3, "SCAN", String(limit - 1n), "COUNT", "5"), null);
  assert.equal(refusal(3, "SCAN", String(limit)), "invalid cursor");
  const { cmd, msg, args } = frame("SCAN", String(limit));
  assert.equal(fanoutError(cmd, msg, args), null, "without the pool's size only the form is checked");
  assert.equal(refusal(3, "SCAN", "0"), null);
  assert.equal(refusal(3, "INFO", "x"), null);
  assert.equal(refusal(3, "DBSIZE"), null);
});

Deno.test("SCAN's error reply is passed as it is; another reply that is not a SCAN reply gives null", () => {
  // redis 7.0's reply to `SCAN 0 COUNT 0`.
  assert.equal(scanThrough(3, "0", bytes("-ERR syntax error\r\n")), "-ERR syntax error\r\n");
  assert.equal(scanThrough(3, "0", bytes(":1\r\n")), null);
  assert.equal(scanThrough(3, "0", bytes("*2\r\n$1\r\nx\r\n*0\r\n")), null);
});

Deno.test("INFO merges as one redis: Proxy first, lowest version, summed clients and keyspace, loading:0", () => {
  assert.equal(
    mergedInfo(bulk(INFO_A), bulk(INFO_B)),
    text(bulk(
      PROXY +
        "\r\n# Server\r\nredis_version:7.0.9\r\nredis_mode:standalone\r\n" +
        "\r\n# Clients\r\nconnected_clients:2\r\n" +
        "\r\n# Persistence\r\nloading:0\r\n" +
        // db0's avg_ttl: (2 * 1495699 + 3 * 495499) / 5 keys with a TTL.
        "\r\n# Keyspace\r\ndb0:keys=11,expires=5,avg_ttl=895579\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n",
    )),
  );
});

Deno.test("INFO keyspace gives only the Proxy and Keyspace sections (redis 7.0 replies)", () => {
  assert.equal(
    mergedInfo(bulk(KEYSPACE_A), bulk(KEYSPACE_B)),
    text(
      bulk(
        PROXY +
          "\r\n# Keyspace\r\ndb0:keys=11,expires=5,avg_ttl=894979\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n",
      ),
    ),
  );
});

Deno.test("INFO keyspace lists dbs in number order whichever server has them, and an empty one stays empty", () => {
  const merged = mergedInfo(
    bulk("# Keyspace\r\ndb10:keys=1,expires=0,avg_ttl=0\r\n"),
    bulk("# Keyspace\r\n"),
  );
  assert.equal(merged, text(bulk(PROXY + "\r\n# Keyspace\r\ndb10:keys=1,expires=0,avg_ttl=0\r\n")));
  const two = mergedInfo(bulk("# Keyspace\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n"), bulk(KEYSPACE_B));
  assert.ok(two!.indexOf("db0:") < two!.indexOf("db2:"));
});

Deno.test("INFO with a server's error reply gives null", () => {
  assert.equal(mergedInfo(bulk(KEYSPACE_A), bytes("-ERR boom\r\n")), null);
});

import assert from "assert";
import { DEFAULT_SENTINEL_POLL_INTERVAL, finishConfig } from "../../src/config/validate.ts";
import type { PoolDraft } from "../../src/config/directives.ts";
import { ConfigError } from "../../src/config/error.ts";
import { parseServer } from "../../src/config/servers.ts";
import type { ListenConfig, SentinelConfig } from "../../src/config/types.ts";

const listen = (port: number): ListenConfig => ({
  kind: "tcp",
  raw: `127.0.0.1:${port}`,
  host: "127.0.0.1",
  port,
  address: "127.0.0.1",
});
const draft = (
  name: string,
  port: number,
  servers = ["127.0.0.1:11211:1"],
  extra: Partial<PoolDraft> = {},
) => ({
  name,
  listen: listen(port),
  servers: servers.map(parseServer),
  ...extra,
});
const ncMessage = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.ncMessage;
  }
};

Deno.test("an unset directive gets nutcracker's default", () => {
  const [pool] = finishConfig([draft("a", 1)], "f.yml").pools;
  assert.deepEqual({ ...pool, listen: undefined, servers: undefined }, {
    name: "a",
    listen: undefined,
    hash: "fnv1a_64",
    hashTag: null,
    distribution: "ketama",
    timeout: -1,
    backlog: 512,
    clientConnections: 0,
    redis: false,
    redisAuth: null,
    redisDb: 0,
    preconnect: false,
    tcpkeepalive: false,
    reuseport: false,
    clientOutputLimit: 256 * 1024 * 1024,
    clientInputLimit: 256 * 1024 * 1024,
    pinnedConnections: 256,
    serverConnections: 1,
    autoEjectHosts: false,
    serverRetryTimeout: 30000,
    serverFailureLimit: 2,
    servers: undefined,
    sentinels: [],
    sentinelPollInterval: 10000,
    readFrom: "master",
    replicas: [],
  });
  assert.equal(DEFAULT_SENTINEL_POLL_INTERVAL, 10000);
});

Deno.test("client_output_limit and client_input_limit (tsproxy's own) take bytes, 0 for no limit", () => {
  const [pool] =
    finishConfig([draft("a", 1, undefined, { clientOutputLimit: 0, clientInputLimit: 1000 })], "f")
      .pools;
  assert.deepEqual([pool.clientOutputLimit, pool.clientInputLimit], [0, 1000]);
});

Deno.test("client_connections is kept as configured (nutcracker resets it to 0)", () => {
  assert.equal(
    finishConfig([draft("a", 1, undefined, { clientConnections: 3 })], "f").pools[0].clientConnections,
    3,
  );
});

Deno.test("servers are sorted by name length, then bytes", () => {
  const names = ["127.0.0.1:11211:1 b", "x:1:1 aa", "x:2:1 a", "x:3:1 B", "x:4:1 é"];
  const [pool] = finishConfig([draft("a", 1, names)], "f").pools;
  assert.deepEqual(pool.servers.map((s) => s.name), ["B", "a", "b", "aa", "é"]);
});

Deno.test("pools are sorted by name length, then bytes", () => {
  const config = finishConfig([draft("alpha", 1), draft("beta", 2), draft("Zeta", 3), draft("b", 4)], "f");
  assert.deepEqual(config.pools.map((p) => p.name), ["b", "Zeta", "beta", "alpha"]);
});

Deno.test("each pool is checked in file order: listen, server_connections, redis_auth, servers", () => {
  const bad = (extra: Partial<PoolDraft>) =>
    ncMessage(() => finishConfig([draft("a", 1, undefined, extra)], "f"));
  assert.equal(bad({ listen: undefined, serverConnections: 0 }), 'conf: directive "listen:" is missing');
  assert.equal(
    bad({ serverConnections: 0, redisAuth: "x" }),
    'conf: directive "server_connections:" cannot be 0',
  );
  assert.equal(
    bad({ redisAuth: "x", servers: [] }),
    'conf: directive "redis_auth:" is only valid for a redis pool',
  );
  assert.equal(bad({ redis: true, redisAuth: "x", servers: [] }), "conf: pool 'a' has no servers");
  assert.equal(
    ncMessage(() =>
      finishConfig([draft("b", 1, undefined, { serverConnections: 0 }), draft("a", 2, [])], "f")
    ),
    'conf: directive "server_connections:" cannot be 0',
  );
});

Deno.test("pool checks come before duplicate listen values, which come before duplicate names", () => {
  assert.equal(
    ncMessage(() => finishConfig([draft("a", 1), draft("a", 1), draft("c", 2, [])], "f")),
    "conf: pool 'c' has no servers",
  );
  assert.equal(
    ncMessage(() => finishConfig([draft("a", 1), draft("a", 1)], "f")),
    "conf: pools 'a' and 'a' have the same listen address '127.0.0.1:1'",
  );
  assert.equal(
    ncMessage(() => finishConfig([draft("a", 1), draft("a", 2)], "f")),
    "conf: 'f' has pools with same name a'",
  );
});

Deno.test("listen duplicates compare the raw text, not the address", () => {
  const other: ListenConfig = { ...listen(1), raw: "localhost:1" };
  assert.equal(finishConfig([draft("a", 1), { ...draft("b", 1), listen: other }], "f").pools.length, 2);
});

Deno.test("duplicate server names are reported with both entries", () => {
  assert.throws(
    () => finishConfig([draft("a", 1, ["h:1:1", "h:1:2"])], "f"),
    (e: ConfigError) =>
      e.message === "conf: pool 'a' has servers with same name 'h:1' (entries 'h:1:1' and 'h:1:2')",
  );
});

// ---- tsproxy's own: sentinels, sentinel_poll_interval, replicas, read_from ----

const sentinel = (raw: string): SentinelConfig => {
  const { host, port } = parseServer(raw);
  return { raw, host, port };
};
const NAMED = ["127.0.0.1:6379:1 m1", "127.0.0.1:6380:1 m2"];
/** A redis pool `a` with named servers m1 and m2 and the given extra directives. */
const redisPool = (extra: Partial<PoolDraft>, servers = NAMED) =>
  draft("a", 1, servers, { redis: true, ...extra });
const finish = (extra: Partial<PoolDraft>, servers = NAMED) =>
  finishConfig([redisPool(extra, servers)], "f").pools[0];
const problem = (extra: Partial<PoolDraft>, servers = NAMED) => {
  try {
    finish(extra, servers);
    return null;
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
};

Deno.test("sentinels, sentinel_poll_interval and read_from are kept as given", () => {
  const sentinels = [sentinel("10.0.0.2:26379:1"), sentinel("10.0.0.1:26379:1")];
  const pool = finish({ sentinels, sentinelPollInterval: 500, readFrom: "prefer-replica" });
  assert.deepEqual(pool.sentinels, sentinels, "file order");
  assert.deepEqual([pool.sentinelPollInterval, pool.readFrom, pool.replicas], [500, "prefer-replica", []]);
  assert.equal(finish({ sentinels }).sentinelPollInterval, DEFAULT_SENTINEL_POLL_INTERVAL);
  assert.equal(finish({ sentinels, readFrom: "replica" }).readFrom, "replica");
});

Deno.test("replicas are kept in file order, named after the server they replicate", () => {
  const replicas = ["127.0.0.2:6380:1 m2", "127.0.0.2:6379:1 m1", "/tmp/r.sock:1 m1"].map(parseServer);
  const pool = finish({ replicas, readFrom: "replica" });
  assert.deepEqual(pool.replicas.map((r) => r.raw), replicas.map((r) => r.raw));
  assert.deepEqual([pool.readFrom, pool.sentinels], ["replica", []]);
});

Deno.test("sentinels, sentinel_poll_interval, replicas and read_from are only valid for a redis pool", () => {
  const memcachePool = (extra: Partial<PoolDraft>) =>
    ncMessage(() => finishConfig([draft("a", 1, NAMED, extra)], "f"));
  assert.equal(
    memcachePool({ sentinels: [sentinel("h:26379:1")] }),
    'conf: directive "sentinels:" is only valid for a redis pool',
  );
  assert.equal(
    memcachePool({ sentinelPollInterval: 5 }),
    'conf: directive "sentinel_poll_interval:" is only valid for a redis pool',
  );
  assert.equal(
    memcachePool({ replicas: [parseServer("h:1:1 m1")] }),
    'conf: directive "replicas:" is only valid for a redis pool',
  );
  assert.equal(
    memcachePool({ readFrom: "master" }),
    'conf: directive "read_from:" is only valid for a redis pool',
  );
  // nutcracker's own checks come first.
  assert.equal(
    memcachePool({ readFrom: "master", redisAuth: "x" }),
    'conf: directive "redis_auth:" is only valid for a redis pool',
  );
});

Deno.test("replicas and sentinels do not go together", () => {
  assert.equal(
    problem({ sentinels: [sentinel("h:26379:1")], replicas: [parseServer("h:1:1 m1")] }),
    'conf: directive "replicas:" cannot be used with "sentinels:" (pool \'a\': replicas come from the sentinels)',
  );
});

Deno.test("sentinel_poll_interval is above 0 and needs sentinels or replicas (it paces both)", () => {
  const sentinels = [sentinel("h:26379:1")];
  assert.equal(
    problem({ sentinels, sentinelPollInterval: 0 }),
    "conf: directive \"sentinel_poll_interval:\" cannot be 0 (pool 'a')",
  );
  assert.equal(problem({ sentinels, sentinelPollInterval: 1 }), null);
  assert.equal(
    problem({ sentinelPollInterval: 1000 }),
    'conf: directive "sentinel_poll_interval:" needs "sentinels:" or "replicas:" (pool \'a\')',
  );
  assert.equal(problem({ sentinelPollInterval: 1000, replicas: [parseServer("h:1:1 m1")] }), null);
});

Deno.test("two sentinels at one address are refused, host letter case aside", () => {
  assert.equal(
    problem({ sentinels: [sentinel("Sentinel:26379:1"), sentinel("x:1:1"), sentinel("sentinel:26379:2 b")] }),
    "conf: pool 'a' has sentinels with same address 'sentinel:26379' (entries 'Sentinel:26379:1' and 'sentinel:26379:2 b')",
  );
  assert.equal(problem({ sentinels: [sentinel("h:26379:1"), sentinel("h:26380:1")] }), null);
});

Deno.test("with sentinels every server needs a name: its sentinel master name", () => {
  assert.equal(
    problem({ sentinels: [sentinel("h:26379:1")] }, ["127.0.0.1:6379:1 m1", "127.0.0.1:6380:1"]),
    "conf: pool 'a' has server '127.0.0.1:6380:1' without a name " +
      '(with "sentinels:", each server is named by its sentinel master name: "hostname:port:weight name")',
  );
  // Without sentinels, default names stay fine.
  assert.equal(problem({}, ["127.0.0.1:6379:1", "127.0.0.1:6380:1"]), null);
});

Deno.test("each replica names a server of the pool and has an address of its own", () => {
  const replicas = (...raws: string[]) => ({ replicas: raws.map(parseServer) });
  assert.equal(
    problem(replicas("10.0.0.1:6379:1 m1", "10.0.0.1:6380:1 m3")),
    "conf: pool 'a' has replica '10.0.0.1:6380:1 m3' of no server named 'm3'",
  );
  assert.equal(
    problem(replicas("127.0.0.1:6380:1 m1")),
    "conf: pool 'a' has replica '127.0.0.1:6380:1 m1' at the address of server '127.0.0.1:6380:1 m2'",
  );
  assert.equal(
    problem(replicas("10.0.0.1:6379:1 m1", "10.0.0.1:6379:2 m2")),
    "conf: pool 'a' has replicas with same address '10.0.0.1:6379' (entries '10.0.0.1:6379:1 m1' and '10.0.0.1:6379:2 m2')",
  );
  assert.equal(
    problem(replicas("/tmp/r.sock:1 m1", "/tmp/r.sock:1 m2")),
    "conf: pool 'a' has replicas with same address '/tmp/r.sock' (entries '/tmp/r.sock:1 m1' and '/tmp/r.sock:1 m2')",
  );
  // A replica of a server with a default name names it by that name.
  assert.equal(problem(replicas("10.0.0.1:6379:1 127.0.0.1:6379"), ["127.0.0.1:6379:1"]), null);
});

Deno.test("read_from other than master needs sentinels or replicas", () => {
  for (const readFrom of ["prefer-replica", "replica"] as const) {
    assert.equal(
      problem({ readFrom }),
      `conf: directive "read_from:" needs "sentinels:" or "replicas:" (pool 'a': read_from ${readFrom} has no replica to read from)`,
    );
  }
  assert.equal(problem({ readFrom: "master" }), null);
  assert.equal(problem({ readFrom: "replica", replicas: [parseServer("h:1:1 m2")] }), null);
});

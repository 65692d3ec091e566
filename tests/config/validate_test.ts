import assert from "assert";
import { finishConfig } from "../../src/config/validate.ts";
import type { PoolDraft } from "../../src/config/directives.ts";
import { ConfigError } from "../../src/config/error.ts";
import { parseServer } from "../../src/config/servers.ts";
import type { ListenConfig } from "../../src/config/types.ts";

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
  });
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

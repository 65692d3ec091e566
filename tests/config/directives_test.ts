import assert from "assert";
import { applyDirective, type PoolDraft } from "../../src/config/directives.ts";
import { InvalidValue } from "../../src/config/error.ts";
import { HASH_NAMES } from "../../src/config/types.ts";

const draft = (): PoolDraft => ({ name: "p", servers: [] });

async function apply(entries: [string, string][]): Promise<PoolDraft> {
  const pool = draft();
  for (const [key, value] of entries) await applyDirective(pool, key, value);
  return pool;
}

async function reason(key: string, value: string, pool = draft()): Promise<string | null> {
  try {
    await applyDirective(pool, key, value);
    return null;
  } catch (e) {
    assert.ok(e instanceof InvalidValue);
    return e.reason;
  }
}

Deno.test("every directive of nutcracker 0.5.0 sets its field", async () => {
  const pool = await apply([
    ["listen", "127.0.0.1:22121"],
    ["hash", "murmur"],
    ["hash_tag", "{}"],
    ["distribution", "modula"],
    ["timeout", "400"],
    ["backlog", "1024"],
    ["client_connections", "10"],
    ["redis", "true"],
    ["tcpkeepalive", "true"],
    ["redis_auth", "secret"],
    ["redis_db", "3"],
    ["preconnect", "true"],
    ["auto_eject_hosts", "true"],
    ["server_connections", "2"],
    ["server_retry_timeout", "2000"],
    ["server_failure_limit", "5"],
    ["servers", "127.0.0.1:6379:1"],
  ]);
  assert.deepEqual({ ...pool, listen: pool.listen?.raw, servers: pool.servers.map((s) => s.raw) }, {
    name: "p",
    listen: "127.0.0.1:22121",
    hash: "murmur",
    hashTag: new TextEncoder().encode("{}"),
    distribution: "modula",
    timeout: 400,
    backlog: 1024,
    clientConnections: 10,
    redis: true,
    tcpkeepalive: true,
    redisAuth: "secret",
    redisDb: 3,
    preconnect: true,
    autoEjectHosts: true,
    serverConnections: 2,
    serverRetryTimeout: 2000,
    serverFailureLimit: 5,
    servers: ["127.0.0.1:6379:1"],
  });
});

Deno.test("reuseport is accepted as a boolean (later twemproxy's key, unknown to 0.5.0)", async () => {
  assert.equal((await apply([["reuseport", "true"]])).reuseport, true);
  assert.equal(await reason("reuseport", "yes"), 'is not "true" or "false"');
});

Deno.test("client_output_limit and client_input_limit (tsproxy's own) are byte counts", async () => {
  const pool = await apply([["client_output_limit", "1048576"], ["client_input_limit", "0"]]);
  assert.deepEqual([pool.clientOutputLimit, pool.clientInputLimit], [1048576, 0]);
  assert.equal(await reason("client_output_limit", "64mb"), "is not a number");
  assert.equal(await reason("client_input_limit", "-1"), "is not a number");
});

Deno.test("all twelve hash names and three distributions are accepted, case-sensitively", async () => {
  for (const hash of HASH_NAMES) assert.equal((await apply([["hash", hash]])).hash, hash);
  for (const dist of ["ketama", "modula", "random"]) {
    assert.equal((await apply([["distribution", dist]])).distribution, dist);
  }
  assert.equal(await reason("hash", "MD5"), "is not a valid hash");
  assert.equal(await reason("distribution", "Ketama"), "is not a valid distribution");
});

Deno.test("booleans are exactly true or false", async () => {
  assert.equal((await apply([["redis", "false"]])).redis, false);
  for (const value of ["True", "yes", "1", "on", "TRUE"]) {
    assert.equal(await reason("redis", value), 'is not "true" or "false"');
  }
});

Deno.test("numbers are digits only", async () => {
  assert.equal((await apply([["timeout", "0"]])).timeout, 0);
  for (const value of ["-1", "1.5", "0x10", "ten"]) {
    assert.equal(await reason("timeout", value), "is not a number");
  }
});

Deno.test("hash_tag is two bytes, not two characters", async () => {
  assert.deepEqual((await apply([["hash_tag", "é"]])).hashTag, new Uint8Array([0xc3, 0xa9]));
  assert.equal(await reason("hash_tag", "{"), "is not a valid hash tag string with two characters");
  assert.equal(await reason("hash_tag", "é{"), "is not a valid hash tag string with two characters");
});

Deno.test("a directive given twice is a duplicate, before its new value is looked at", async () => {
  const pool = await apply([["hash", "md5"]]);
  assert.equal(await reason("hash", "not-a-hash", pool), "is a duplicate");
});

Deno.test("servers may be given many times and append in order", async () => {
  const pool = await apply([["servers", "b:1:1"], ["servers", "a:1:1"]]);
  assert.deepEqual(pool.servers.map((s) => s.raw), ["b:1:1", "a:1:1"]);
});

Deno.test("sentinels (tsproxy's own) append host:port:weight entries; weight and name are unused", async () => {
  const pool = await apply([["sentinels", "10.0.0.1:26379:1"], ["sentinels", "sentinel-b:26380:5 b"]]);
  assert.deepEqual(pool.sentinels, [
    { raw: "10.0.0.1:26379:1", host: "10.0.0.1", port: 26379 },
    { raw: "sentinel-b:26380:5 b", host: "sentinel-b", port: 26380 },
  ]);
  assert.equal(
    await reason("sentinels", "/tmp/sentinel.sock:1"),
    'has a unix socket path: sentinels take "hostname:port:weight"',
  );
  assert.equal(
    await reason("sentinels", "10.0.0.1:26379"),
    `has an invalid "hostname:port:weight [name]"or "/path/unix_socket:weight [name]" format string`,
  );
  assert.equal(
    await reason("sentinels", "10.0.0.1:0:1"),
    'has an invalid port in "hostname:port:weight [name]" format string',
  );
  assert.equal(
    await reason("sentinels", "10.0.0.1:26379:0"),
    'has a zero weight in "hostname:port:weight [name]" format string',
  );
});

Deno.test("replicas (tsproxy's own) append named entries: the name is the server replicated", async () => {
  const pool = await apply([["replicas", "10.0.0.2:6379:1 m1"], ["replicas", "/tmp/r.sock:1 m2"]]);
  assert.deepEqual(pool.replicas?.map((r) => [r.kind, r.host, r.port, r.path, r.name]), [
    ["tcp", "10.0.0.2", 6379, "", "m1"],
    ["unix", "", 0, "/tmp/r.sock", "m2"],
  ]);
  assert.equal(
    await reason("replicas", "10.0.0.2:6379:1"),
    'has no master name in "hostname:port:weight name" format string',
  );
  assert.equal(
    await reason("replicas", "10.0.0.2:6379:x m1"),
    'has an invalid weight in "hostname:port:weight [name]" format string',
  );
});

Deno.test("sentinel_poll_interval is a number, read_from one of three names (tsproxy's own)", async () => {
  assert.equal((await apply([["sentinel_poll_interval", "2500"]])).sentinelPollInterval, 2500);
  assert.equal((await apply([["sentinel_poll_interval", "0"]])).sentinelPollInterval, 0);
  assert.equal(await reason("sentinel_poll_interval", "10s"), "is not a number");
  for (const value of ["master", "prefer-replica", "replica"]) {
    assert.equal((await apply([["read_from", value]])).readFrom, value);
  }
  for (const value of ["slave", "Replica", "prefer_replica", "replicas"]) {
    assert.equal(await reason("read_from", value), "is not a valid read_from");
  }
  assert.equal(await reason("read_from", "nope", await apply([["read_from", "replica"]])), "is a duplicate");
  assert.equal(
    await reason("sentinel_poll_interval", "5", await apply([["sentinel_poll_interval", "5"]])),
    "is a duplicate",
  );
});

Deno.test("unknown keys are refused, including inherited object names", async () => {
  assert.equal(await reason("sentinel", "x"), "is unknown");
  assert.equal(await reason("toString", "x"), "is unknown");
});

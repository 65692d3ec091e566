import assert from "assert";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.ts";
import { freePort, spawn } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";

/**
 * Bad (and a few good) configurations. In `yaml`, `@1` and `@2` stand for `127.0.0.1:<free port>`;
 * in `nc`, FILE stands for the file name. `nc` is nutcracker's log line, "" when nutcracker fails
 * without a message, null when the configuration is accepted.
 */
interface Case {
  name: string;
  yaml: string;
  nc: string | null;
  /** A deliberate difference: what nutcracker says instead. */
  ncBinary?: string;
}

const SERVERS = "  servers:\n   - 127.0.0.1:11211:1\n";
/** A valid pool `alpha` with extra directives. */
const pool = (extra = "", listen = "@1", name = "alpha") =>
  `${name}:\n  listen: ${listen}\n${extra}${SERVERS}`;
const directive = (reason: string, key: string) => `conf: directive "${key}" ${reason}`;
const SERVER_FORMAT = '"hostname:port:weight [name]"';
const MORE_SEQUENCES = "conf: 'FILE' has more than one sequence directive";
const NAMED_SERVERS = "  servers:\n   - 127.0.0.1:6379:1 mymaster\n";
/** A valid redis pool `alpha` with a server named `mymaster` and extra directives. */
const redisPool = (extra: string) => `alpha:\n  listen: @1\n  redis: true\n${extra}${NAMED_SERVERS}`;

const CASES: Case[] = [
  // One document.
  { name: "an empty file", yaml: "", nc: "conf: 'FILE' must contain only 1 document; found 0 documents" },
  {
    name: "a file of comments",
    yaml: "# nothing here\n",
    nc: "conf: 'FILE' must contain only 1 document; found 0 documents",
  },
  {
    name: "two documents",
    yaml: `${pool()}---\n${pool("", "@2", "beta")}`,
    nc: "conf: 'FILE' must contain only 1 document; found 2 documents",
  },
  // YAML syntax errors carry libyaml's error number.
  {
    name: "a control character",
    yaml: pool("  hash: fnv1a\x01_64\n"),
    nc: "conf: failed (err 2) to get the next yaml document",
  },
  {
    name: "a tab as indentation",
    yaml: pool("\thash: md5\n"),
    nc: "conf: failed (err 3) to get the next yaml document",
  },
  {
    name: "an unclosed quote",
    yaml: pool('  hash: "md5\n'),
    nc: "conf: failed (err 3) to get the next yaml document",
  },
  {
    name: "a bad indentation",
    yaml: "alpha:\n listen: @1\n  hash: md5\n",
    nc: "conf: failed (err 3) to get the next yaml document",
  },
  {
    name: "an undefined tag handle",
    yaml: pool("  hash: !e!x md5\n"),
    nc: "conf: failed (err 4) to get the next yaml document",
  },
  {
    name: "a directive without ---",
    yaml: `%YAML 1.1\n${pool()}`,
    nc: "conf: failed (err 4) to get the next yaml document",
  },
  {
    name: "an undefined alias",
    yaml: pool("  hash: *h\n"),
    nc: "conf: failed (err 5) to get the next yaml document",
  },
  {
    name: "a duplicate anchor",
    yaml: pool("  hash: &h md5\n  distribution: &h ketama\n"),
    nc: "conf: failed (err 5) to get the next yaml document",
  },
  // Disallowed tokens, with libyaml's numbers.
  {
    name: "a %YAML directive",
    yaml: `%YAML 1.1\n---\n${pool()}`,
    nc: "conf: version directive token (3) is disallowed",
  },
  {
    name: "a %TAG directive",
    yaml: `%TAG !e! tag:example.com,2000:\n---\n${pool()}`,
    nc: "conf: tag directive token (4) is disallowed",
  },
  { name: "a --- marker", yaml: `---\n${pool()}`, nc: "conf: document start token (5) is disallowed" },
  { name: "a ... marker", yaml: `${pool()}...\n`, nc: "conf: document end token (6) is disallowed" },
  {
    name: "an empty flow sequence",
    yaml: "alpha:\n  listen: @1\n  servers: []\n",
    nc: "conf: flow sequence start token (10) is disallowed",
  },
  {
    name: "a flow mapping",
    yaml: "alpha: {listen: @1}\n",
    nc: "conf: flow mapping start token (12) is disallowed",
  },
  { name: "an anchor", yaml: pool("  hash: &h md5\n"), nc: "conf: anchor token (19) is disallowed" },
  {
    name: "an anchor used by an alias",
    yaml: pool("  hash: &h md5\n  x: *h\n"),
    nc: "conf: anchor token (19) is disallowed",
  },
  { name: "a tag", yaml: pool("  hash: !!str md5\n"), nc: "conf: tag token (20) is disallowed" },
  // Structure.
  { name: "a top-level scalar", yaml: "alpha\n", nc: `conf: 'FILE' has invalid empty "key:" at depth 0` },
  {
    name: "a top-level sequence",
    yaml: "- alpha\n",
    nc: "conf: 'FILE' has sequence at depth 0 instead of 2",
  },
  {
    name: "a pool with a scalar value",
    yaml: "alpha: beta\n",
    nc: `conf: 'FILE' has invalid mapping "key:" at depth 1`,
  },
  {
    name: "a mapping as pool name",
    yaml: "? a: b\n: c\n",
    nc: `conf: 'FILE' has more than one "key:value" at depth 1`,
  },
  {
    name: "a nested mapping",
    yaml: pool("  extra:\n    a: b\n"),
    nc: "conf: 'FILE' has a depth greater than 2",
  },
  {
    name: "a pool that is a sequence",
    yaml: "alpha:\n  - x\n",
    nc: "conf: 'FILE' has sequence at depth 1 instead of 2",
  },
  {
    name: "a sequence as key",
    yaml: "alpha:\n  listen: @1\n  ? - x\n  : y\n",
    nc: `conf: 'FILE' has invalid "key:value" at depth 2`,
  },
  {
    name: "a pool without servers",
    yaml: "alpha:\n  listen: @1\n",
    nc: "conf: 'FILE' missing sequence directive at depth 2",
  },
  {
    name: "an empty servers key",
    yaml: "alpha:\n  listen: @1\n  servers:\n",
    nc: "conf: 'FILE' missing sequence directive at depth 2",
  },
  {
    name: "two sequences in a pool",
    yaml: pool("  hash:\n   - md5\n"),
    nc: "conf: 'FILE' has more than one sequence directive",
  },
  // Directives.
  { name: "an unknown key", yaml: pool("  foo: bar\n"), nc: directive("is unknown", "foo") },
  { name: "a key in another case", yaml: pool("  Hash: md5\n"), nc: directive("is unknown", "Hash") },
  {
    name: "a duplicate key",
    yaml: pool("  hash: md5\n  hash: md5\n"),
    nc: directive("is a duplicate", "hash"),
  },
  { name: "a duplicate listen", yaml: pool("  listen: @2\n"), nc: directive("is a duplicate", "listen") },
  {
    name: "a hexadecimal number",
    yaml: pool("  timeout: 0x10\n"),
    nc: directive("is not a number", "timeout"),
  },
  { name: "a negative number", yaml: pool("  backlog: -5\n"), nc: directive("is not a number", "backlog") },
  {
    name: "a number with a plus",
    yaml: pool("  redis_db: +5\n"),
    nc: directive("is not a number", "redis_db"),
  },
  {
    name: "a number in exponent form",
    yaml: pool("  timeout: 1e3\n"),
    nc: directive("is not a number", "timeout"),
  },
  {
    name: "a number wrapping negative",
    yaml: pool("  timeout: 2147483648\n"),
    nc: directive("is not a number", "timeout"),
  },
  { name: "a number wrapping positive", yaml: pool("  timeout: 4294967297\n"), nc: null },
  { name: "a boolean yes", yaml: pool("  redis: yes\n"), nc: directive('is not "true" or "false"', "redis") },
  {
    name: "a boolean True",
    yaml: pool("  preconnect: True\n"),
    nc: directive('is not "true" or "false"', "preconnect"),
  },
  {
    name: "an upper-case hash",
    yaml: pool("  hash: FNV1A_64\n"),
    nc: directive("is not a valid hash", "hash"),
  },
  {
    name: "an unknown distribution",
    yaml: pool("  distribution: consistent\n"),
    nc: directive("is not a valid distribution", "distribution"),
  },
  {
    name: "a one-byte hash tag",
    yaml: pool('  hash_tag: "{"\n'),
    nc: directive("is not a valid hash tag string with two characters", "hash_tag"),
  },
  {
    name: "a three-byte hash tag of two characters",
    yaml: pool('  hash_tag: "é{"\n'),
    nc: directive("is not a valid hash tag string with two characters", "hash_tag"),
  },
  { name: "a two-byte hash tag of one character", yaml: pool('  hash_tag: "é"\n'), nc: null },
  {
    name: "a listen without colon",
    yaml: "alpha:\n  listen: localhost\n" + SERVERS,
    nc: directive('has an invalid "hostname:port" format string', "listen"),
  },
  {
    name: "a listen on port 0",
    yaml: "alpha:\n  listen: 127.0.0.1:0\n" + SERVERS,
    nc: directive('has an invalid port in "hostname:port" format string', "listen"),
  },
  {
    name: "a listen on port 70000",
    yaml: "alpha:\n  listen: 127.0.0.1:70000\n" + SERVERS,
    nc: directive('has an invalid port in "hostname:port" format string', "listen"),
  },
  {
    name: "a listen permission above 0777",
    yaml: "alpha:\n  listen: /tmp/tsproxy-test.sock 1000\n" + SERVERS,
    nc: directive('has an invalid file permission in "socket_path permission" format string', "listen"),
  },
  {
    name: "a negative listen permission",
    yaml: "alpha:\n  listen: /tmp/tsproxy-test.sock -1\n" + SERVERS,
    nc: directive('has an invalid file permission in "socket_path permission" format string', "listen"),
  },
  {
    name: "a unix listen path of 108 bytes",
    yaml: `alpha:\n  listen: /tmp/${"x".repeat(103)}\n` + SERVERS,
    nc: directive("has an invalid value", "listen"),
  },
  {
    name: "an unresolvable listen host",
    yaml: "alpha:\n  listen: nosuch.invalid:22121\n" + SERVERS,
    nc: directive("has an invalid value", "listen"),
  },
  {
    name: "an empty listen host",
    yaml: "alpha:\n  listen: :22121\n" + SERVERS,
    nc: directive("has an invalid value", "listen"),
  },
  {
    name: "a server without weight",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11211\n",
    nc: directive(
      `has an invalid ${SERVER_FORMAT}or "/path/unix_socket:weight [name]" format string`,
      "servers",
    ),
  },
  {
    name: "a unix server path with a colon",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - /tmp/a:b.sock:1\n",
    nc: directive(
      `has an invalid ${SERVER_FORMAT}or "/path/unix_socket:weight [name]" format string`,
      "servers",
    ),
  },
  {
    name: "a server weight that is no number",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11211:x\n",
    nc: directive(`has an invalid weight in ${SERVER_FORMAT} format string`, "servers"),
  },
  {
    name: "a server name after a space in the weight",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11211:1 my server\n",
    nc: directive(`has an invalid weight in ${SERVER_FORMAT} format string`, "servers"),
  },
  {
    name: "a zero server weight",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11211:0\n",
    nc: directive(`has a zero weight in ${SERVER_FORMAT} format string`, "servers"),
  },
  {
    name: "a server on port 0",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:0:1\n",
    nc: directive(`has an invalid port in ${SERVER_FORMAT} format string`, "servers"),
  },
  {
    name: "a server port that is no number",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:x:1\n",
    nc: directive(`has an invalid port in ${SERVER_FORMAT} format string`, "servers"),
  },
  {
    name: "reuseport",
    yaml: pool("  reuseport: true\n"),
    nc: null,
    ncBinary: directive("is unknown", "reuseport"),
  },
  // Post-validation.
  { name: "a pool without listen", yaml: `alpha:\n${SERVERS}`, nc: 'conf: directive "listen:" is missing' },
  {
    name: "zero server connections",
    yaml: pool("  server_connections: 0\n"),
    nc: 'conf: directive "server_connections:" cannot be 0',
  },
  {
    name: "redis_auth on a memcache pool",
    yaml: pool("  redis_auth: secret\n"),
    nc: 'conf: directive "redis_auth:" is only valid for a redis pool',
  },
  { name: "redis_auth on a redis pool", yaml: pool("  redis: true\n  redis_auth: secret\n"), nc: null },
  {
    name: "a pool whose sequence is not servers",
    yaml: "alpha:\n  listen: @1\n  hash:\n   - md5\n",
    nc: "conf: pool 'alpha' has no servers",
  },
  {
    name: "a servers scalar with another key's sequence",
    yaml: "alpha:\n  listen: @1\n  servers: 127.0.0.1:11211:1\n  hash:\n   - md5\n",
    nc: null,
  },
  {
    name: "two servers that differ by weight only",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11212:1\n   - 127.0.0.1:11212:2\n",
    nc: "conf: pool 'alpha' has servers with same name '127.0.0.1:11212'",
  },
  {
    name: "two servers with the same name",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11212:1 web\n   - 127.0.0.1:11213:1 web\n",
    nc: "conf: pool 'alpha' has servers with same name 'web'",
  },
  {
    name: "two servers on port 11211 of one host",
    yaml: "alpha:\n  listen: @1\n  servers:\n   - 127.0.0.1:11211:1\n   - 127.0.0.1:011211:1\n",
    nc: "conf: pool 'alpha' has servers with same name '127.0.0.1'",
  },
  {
    name: "three pools, two on one listen",
    yaml: pool("", "@1", "b") + pool("", "@2", "alpha") + pool("", "@2", "c"),
    nc: "conf: pools 'alpha' and 'c' have the same listen address '@2'",
  },
  {
    name: "two pools with one name",
    yaml: pool("", "@1", "zz") + pool("", "@2", "b") + pool("", "@3", "zz"),
    nc: "conf: 'FILE' has pools with same name zz'",
  },
  // tsproxy's own: sentinels, sentinel_poll_interval, replicas, read_from (redis pools). nutcracker
  // refuses a second sequence in a pool before it looks at the keys, then calls them unknown.
  {
    name: "sentinels and named servers",
    yaml: redisPool(
      "  sentinels:\n   - 127.0.0.1:26379:1\n   - 127.0.0.1:26380:1\n  sentinel_poll_interval: 500\n",
    ),
    nc: null,
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "sentinels on a memcache pool",
    yaml: "alpha:\n  listen: @1\n  sentinels:\n   - 127.0.0.1:26379:1\n" + NAMED_SERVERS,
    nc: 'conf: directive "sentinels:" is only valid for a redis pool',
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a sentinel on a unix socket",
    yaml: redisPool("  sentinels:\n   - /tmp/sentinel.sock:1\n"),
    nc: directive('has a unix socket path: sentinels take "hostname:port:weight"', "sentinels"),
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "two sentinels at one address",
    yaml: redisPool("  sentinels:\n   - 127.0.0.1:26379:1\n   - 127.0.0.1:26379:2\n"),
    nc: "conf: pool 'alpha' has sentinels with same address '127.0.0.1:26379'",
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "sentinels and an unnamed server",
    yaml: "alpha:\n  listen: @1\n  redis: true\n  sentinels:\n   - 127.0.0.1:26379:1\n" +
      "  servers:\n   - 127.0.0.1:6379:1 mymaster\n   - 127.0.0.1:6380:1\n",
    nc: "conf: pool 'alpha' has server '127.0.0.1:6380:1' without a name",
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a pool whose only sequence is sentinels",
    yaml: "alpha:\n  listen: @1\n  redis: true\n  sentinels:\n   - 127.0.0.1:26379:1\n",
    nc: "conf: pool 'alpha' has no servers",
    ncBinary: directive("is unknown", "sentinels"),
  },
  {
    name: "two sentinels sequences",
    yaml: redisPool("  sentinels:\n   - 127.0.0.1:26379:1\n  sentinels:\n   - 127.0.0.1:26380:1\n"),
    nc: MORE_SEQUENCES,
  },
  {
    name: "a sentinel_poll_interval of 0",
    yaml: redisPool("  sentinels:\n   - 127.0.0.1:26379:1\n  sentinel_poll_interval: 0\n"),
    nc: 'conf: directive "sentinel_poll_interval:" cannot be 0',
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a sentinel_poll_interval that is no number",
    yaml: pool("  redis: true\n  sentinel_poll_interval: 10s\n"),
    nc: directive("is not a number", "sentinel_poll_interval"),
    ncBinary: directive("is unknown", "sentinel_poll_interval"),
  },
  {
    name: "a sentinel_poll_interval without sentinels or replicas",
    yaml: pool("  redis: true\n  sentinel_poll_interval: 1000\n"),
    nc: 'conf: directive "sentinel_poll_interval:" needs "sentinels:" or "replicas:"',
    ncBinary: directive("is unknown", "sentinel_poll_interval"),
  },
  {
    name: "read_from master on a redis pool",
    yaml: pool("  redis: true\n  read_from: master\n"),
    nc: null,
    ncBinary: directive("is unknown", "read_from"),
  },
  {
    name: "an unknown read_from",
    yaml: pool("  redis: true\n  read_from: slave\n"),
    nc: directive("is not a valid read_from", "read_from"),
    ncBinary: directive("is unknown", "read_from"),
  },
  {
    name: "read_from on a memcache pool",
    yaml: pool("  read_from: master\n"),
    nc: 'conf: directive "read_from:" is only valid for a redis pool',
    ncBinary: directive("is unknown", "read_from"),
  },
  {
    name: "read_from replica without replicas",
    yaml: pool("  redis: true\n  read_from: replica\n"),
    nc: 'conf: directive "read_from:" needs "sentinels:" or "replicas:"',
    ncBinary: directive("is unknown", "read_from"),
  },
  {
    name: "replicas and read_from prefer-replica",
    yaml: redisPool("  read_from: prefer-replica\n  replicas:\n   - 127.0.0.1:6381:1 mymaster\n"),
    nc: null,
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a replica without a master name",
    yaml: redisPool("  replicas:\n   - 127.0.0.1:6381:1\n"),
    nc: directive('has no master name in "hostname:port:weight name" format string', "replicas"),
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a replica of no server",
    yaml: redisPool("  replicas:\n   - 127.0.0.1:6381:1 other\n"),
    nc: "conf: pool 'alpha' has replica '127.0.0.1:6381:1 other' of no server named 'other'",
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "a replica at its server's address",
    yaml: redisPool("  replicas:\n   - 127.0.0.1:6379:1 mymaster\n"),
    nc:
      "conf: pool 'alpha' has replica '127.0.0.1:6379:1 mymaster' at the address of server '127.0.0.1:6379:1 mymaster'",
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "two replicas at one address",
    yaml: redisPool("  replicas:\n   - 127.0.0.1:6381:1 mymaster\n   - 127.0.0.1:6381:1 mymaster\n"),
    nc: "conf: pool 'alpha' has replicas with same address '127.0.0.1:6381'",
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "replicas with sentinels",
    yaml: redisPool("  sentinels:\n   - 127.0.0.1:26379:1\n  replicas:\n   - 127.0.0.1:6381:1 mymaster\n"),
    nc: 'conf: directive "replicas:" cannot be used with "sentinels:"',
    ncBinary: MORE_SEQUENCES,
  },
  {
    name: "replicas on a memcache pool",
    yaml: "alpha:\n  listen: @1\n  replicas:\n   - 127.0.0.1:6381:1 mymaster\n" + NAMED_SERVERS,
    nc: 'conf: directive "replicas:" is only valid for a redis pool',
    ncBinary: MORE_SEQUENCES,
  },
  // Empty scalars: nutcracker gives up without a message.
  { name: "an empty value", yaml: pool("  hash:\n"), nc: "" },
  { name: "an empty quoted value", yaml: pool('  hash: ""\n'), nc: "" },
  { name: "an empty key", yaml: pool('  "": md5\n'), nc: "" },
  { name: "an empty pool name", yaml: pool("", "@1", '""'), nc: "" },
  { name: "an empty server entry", yaml: "alpha:\n  listen: @1\n  servers:\n   - ''\n", nc: "" },
  {
    name: "an unknown key before an empty value",
    yaml: pool("  foo: bar\n  hash:\n"),
    nc: directive("is unknown", "foo"),
  },
  // Accepted oddities.
  { name: "a leading-zero number", yaml: pool('  timeout: "010"\n'), nc: null },
  {
    name: "a listen given as a sequence",
    yaml: "alpha:\n  listen:\n   - @1\n  servers: 127.0.0.1:11211:1\n",
    nc: null,
  },
  {
    name: "a listen permission of 2^32 (truncated to 0)",
    yaml: "alpha:\n  listen: /tmp/tsproxy-test.sock 40000000000\n" + SERVERS,
    nc: null,
  },
];

/** The case's text with free ports for `@n` (the same port for the same `n`). */
function materialize(yaml: string, ports: Map<string, number>): string {
  return yaml.replace(/@\d/g, (at) => {
    if (!ports.has(at)) ports.set(at, freePort());
    return `127.0.0.1:${ports.get(at)}`;
  });
}

function expectedNc(c: Case, file: string, ports: Map<string, number>, binary: boolean): string | null {
  const nc = binary && c.ncBinary !== undefined ? c.ncBinary : c.nc;
  return nc === null ? null : materialize(nc, ports).replaceAll("FILE", file);
}

/** Our verdict on a case: nutcracker's message, or null when accepted. */
async function ourVerdict(text: string, file: string): Promise<string | null> {
  try {
    await parseConfig(text, file);
    return null;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.ncMessage;
  }
}

for (const c of CASES) {
  const verdict = c.nc === null
    ? "is accepted"
    : c.nc === ""
    ? "is rejected without a nutcracker message"
    : `is rejected: ${c.nc}`;
  Deno.test(`config with ${c.name} ${verdict}`, async () => {
    const ports = new Map<string, number>();
    const file = "/etc/tsproxy/test.yml";
    assert.equal(await ourVerdict(materialize(c.yaml, ports), file), expectedNc(c, file, ports, false));
  });
}

Deno.test("the 'has no pools' message is unreachable: every pool-less text fails earlier", async () => {
  for (const text of ["", "{}\n", "---\n"]) {
    const message = await ourVerdict(text, "f.yml");
    assert.ok(message !== null && !message.includes("has no pools"), message ?? "accepted");
  }
});

Deno.test("a missing file is nutcracker's open failure with strerror", async () => {
  await assert.rejects(
    loadConfig("/nonexistent/tsproxy.yml"),
    (e: ConfigError) =>
      e.ncMessage ===
        "conf: failed to open configuration '/nonexistent/tsproxy.yml': No such file or directory",
  );
});

Deno.test("a directory as configuration is libyaml's reader error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadConfig(dir),
      (e: ConfigError) => e.ncMessage === "conf: failed (err 2) to get the next yaml document",
    );
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("a file that is not UTF-8 is libyaml's reader error", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yml" });
  try {
    await Deno.writeFile(file, new Uint8Array([0x61, 0x3a, 0x20, 0xff, 0x0a]));
    await assert.rejects(
      loadConfig(file),
      (e: ConfigError) => e.ncMessage === "conf: failed (err 2) to get the next yaml document",
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a UTF-16 file with a byte order mark is read like UTF-8", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yml" });
  const text = "\ufeffalpha:\n  listen: 127.0.0.1:22121\n  servers:\n   - 127.0.0.1:11211:1\n";
  const utf16 = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) new DataView(utf16.buffer).setUint16(i * 2, text.charCodeAt(i), true);
  try {
    await Deno.writeFile(file, utf16);
    assert.equal((await loadConfig(file)).pools[0].name, "alpha");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a ConfigError message adds pool, line and value to nutcracker's line", async () => {
  const text = "alpha:\n  listen: 127.0.0.1:22121\n  hash: nope\n" + SERVERS;
  await assert.rejects(parseConfig(text, "f.yml"), (e: ConfigError) => {
    assert.equal(e.ncMessage, 'conf: directive "hash" is not a valid hash');
    assert.equal(
      e.message,
      `conf: directive "hash" is not a valid hash (pool 'alpha', line 3, value 'nope')`,
    );
    return true;
  });
});

Deno.test("an unresolvable listen host reports nutcracker's resolution line in the message", async () => {
  const text = "alpha:\n  listen: nosuch.invalid:022121\n" + SERVERS;
  await assert.rejects(parseConfig(text, "f.yml"), (e: ConfigError) => {
    assert.match(
      e.message,
      /address resolution of node 'nosuch\.invalid' service '22121' failed: Name or service not known/,
    );
    return true;
  });
});

Deno.test("an empty value's message explains what nutcracker leaves unsaid", async () => {
  await assert.rejects(parseConfig(pool("  hash:\n", "127.0.0.1:22121"), "f.yml"), (e: ConfigError) => {
    assert.equal(e.ncMessage, "");
    assert.equal(e.message, `conf: the value of directive "hash" in pool 'alpha' is empty (line 3)`);
    return true;
  });
});

Deno.test("a value with a NUL character is refused by tsproxy", async () => {
  await assert.rejects(
    parseConfig(pool('  hash: "md\\0"\n', "127.0.0.1:22121"), "f.yml"),
    (e: ConfigError) => {
      assert.equal(e.ncMessage, "");
      assert.match(e.message, /contains a NUL character/);
      return true;
    },
  );
});

Deno.test("a YAML syntax error's message says where", async () => {
  await assert.rejects(parseConfig(pool("\thash: md5\n", "127.0.0.1:22121"), "f.yml"), (e: ConfigError) => {
    assert.equal(
      e.message,
      "conf: failed (err 3) to get the next yaml document (line 3, column 1: found a tab character that violates indentation)",
    );
    return true;
  });
});

Deno.test("the shipped example configuration loads with its documented pools", async () => {
  const config = await loadConfig(new URL("../../conf/nutcracker.yml", import.meta.url).pathname);
  assert.deepEqual(config.pools.map((p) => p.name), ["beta", "alpha", "delta", "gamma", "omega"]);
  const byName = new Map(config.pools.map((p) => [p.name, p]));
  const alpha = byName.get("alpha")!;
  assert.deepEqual(
    [alpha.redis, alpha.autoEjectHosts, alpha.serverRetryTimeout, alpha.serverFailureLimit, alpha.timeout],
    [true, true, 2000, 1, -1],
  );
  const beta = byName.get("beta")!;
  assert.deepEqual(beta.hashTag, new TextEncoder().encode("{}"));
  assert.deepEqual(beta.servers.map((s) => s.name), ["server1", "server2", "server3", "server4"]);
  assert.equal(beta.timeout, 400);
  const gamma = byName.get("gamma")!;
  assert.deepEqual([gamma.backlog, gamma.preconnect, gamma.serverFailureLimit], [1024, true, 3]);
  assert.equal(byName.get("delta")!.servers.length, 10);
  const omega = byName.get("omega")!;
  assert.deepEqual(omega.listen, { kind: "unix", raw: "/tmp/gamma", path: "/tmp/gamma", perm: 0 });
  assert.equal(omega.hash, "hsieh");
  assert.deepEqual(omega.servers.map((s) => [s.name, s.weight]), [["127.0.0.1:11214", 100000], [
    "127.0.0.1:11215",
    1,
  ]]);
});

Deno.test("sentinels, replicas and read_from load into their pools (tsproxy's own directives)", async () => {
  const text = "ha:\n  listen: 127.0.0.1:22121\n  redis: true\n  sentinels:\n   - 10.0.0.1:26379:1\n" +
    "   - sentinel-b:26379:1 b\n  read_from: prefer-replica\n  servers:\n   - 10.0.1.1:6379:1 shard1\n" +
    "   - 10.0.1.2:6379:1 shard2\n" +
    "static:\n  listen: 127.0.0.1:22122\n  redis: true\n  servers:\n   - 10.0.2.1:6379:1 m\n" +
    "  replicas:\n   - 10.0.2.2:6379:1 m\n   - 10.0.2.3:6379:1 m\n  read_from: replica\n" +
    "plain:\n  listen: 127.0.0.1:22123\n  redis: true\n" + SERVERS;
  const byName = new Map((await parseConfig(text, "f.yml")).pools.map((p) => [p.name, p]));
  const ha = byName.get("ha")!;
  assert.deepEqual(ha.sentinels, [
    { raw: "10.0.0.1:26379:1", host: "10.0.0.1", port: 26379 },
    { raw: "sentinel-b:26379:1 b", host: "sentinel-b", port: 26379 },
  ]);
  assert.deepEqual([ha.sentinelPollInterval, ha.readFrom, ha.replicas], [10000, "prefer-replica", []]);
  assert.deepEqual(ha.servers.map((s) => s.name), ["shard1", "shard2"]);
  const fixed = byName.get("static")!;
  assert.deepEqual(fixed.replicas.map((r) => [r.host, r.port, r.name]), [
    ["10.0.2.2", 6379, "m"],
    ["10.0.2.3", 6379, "m"],
  ]);
  assert.deepEqual([fixed.readFrom, fixed.sentinels], ["replica", []]);
  const plain = byName.get("plain")!;
  assert.deepEqual([plain.sentinels, plain.sentinelPollInterval, plain.readFrom, plain.replicas], [
    [],
    10000,
    "master",
    [],
  ]);
});

const DEBIAN_EXAMPLE = "/usr/share/doc/nutcracker/examples/nutcracker.yml";

Deno.test({
  name: "the shipped example is the Debian package's example verbatim",
  ignore: (() => {
    try {
      return !Deno.statSync(DEBIAN_EXAMPLE).isFile;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const shipped = await Deno.readTextFile(new URL("../../conf/nutcracker.yml", import.meta.url));
    assert.equal(shipped, await Deno.readTextFile(DEBIAN_EXAMPLE));
  },
});

// ---- differential: the real nutcracker on the same files ----

const BINARY_TIMEOUT_MS = 3000;

/** Runs a bounded nutcracker; returns its exit code, or null when it was still running (and got killed). */
async function runBounded(args: string[]): Promise<number | null> {
  const proc = spawn("nutcracker", args);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), BINARY_TIMEOUT_MS));
  const status = await Promise.race([proc.child.status, timeout]);
  clearTimeout(timer);
  await proc.stop();
  return status === null ? null : status.code;
}

/** The `conf: ...` line of a nutcracker log, without its timestamp and source position. */
function confLine(log: string): string {
  const line = log.split("\n").find((l) => / conf: /.test(l));
  return line === undefined ? "" : line.replace(/^\[[^\]]*\] \S+ /, "");
}

Deno.test({
  name:
    "nutcracker logs the same conf: line for each bad config, and -t accepts exactly what tsproxy accepts",
  ...needs("nutcracker"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsproxy-conf-" });
    try {
      for (const c of CASES) {
        const ports = new Map<string, number>();
        const file = `${dir}/case.yml`;
        const log = `${dir}/case.log`;
        const text = materialize(c.yaml, ports);
        await Deno.writeTextFile(file, text);
        const expected = expectedNc(c, file, ports, true);
        assert.equal(await ourVerdict(text, file) === null, c.nc === null, c.name);
        const tested = await runBounded(["-t", "-c", file]);
        assert.equal(tested, expected === null ? 0 : 1, `nutcracker -t on ${c.name}`);
        if (expected === null) continue;
        await Deno.remove(log).catch(() => {});
        const code = await runBounded(["-c", file, "-o", log, "-s", String(freePort()), "-a", "127.0.0.1"]);
        assert.equal(code, 1, `nutcracker on ${c.name} should exit 1`);
        assert.equal(confLine(await Deno.readTextFile(log)), expected, c.name);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Small deterministic edits (cut, insert a YAML fragment, copy or drop a line) of a configuration. */
function mutations(base: string, count: number, seed: number): string[] {
  const fragments = [
    "\n",
    " ",
    "\t",
    ":",
    ": ",
    "- ",
    "#",
    "'",
    '"',
    "[",
    "{",
    "&a",
    "*a",
    "!!str ",
    "---\n",
    "...\n",
  ]
    .concat([
      "x",
      "0",
      "true",
      "md5",
      "servers:",
      "listen:",
      "hash:",
      " name",
      "11211",
      "/tmp/x.sock",
      "é",
      ",",
      "|",
    ]);
  let state = seed;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let text = base;
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(text.length + 1);
      const lines = text.split("\n");
      switch (random(4)) {
        case 0:
          text = text.slice(0, at) + text.slice(at + 1 + random(5));
          break;
        case 1:
          text = text.slice(0, at) + fragments[random(fragments.length)] + text.slice(at);
          break;
        case 2:
          lines.splice(random(lines.length), 0, lines[random(lines.length)]);
          text = lines.join("\n");
          break;
        default:
          lines.splice(random(lines.length), 1);
          text = lines.join("\n");
      }
    }
    out.push(text);
  }
  return out;
}

Deno.test({
  name: "nutcracker and tsproxy agree on 150 random edits of the example configuration",
  ...needs("nutcracker"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tsproxy-conf-" });
    const example = await Deno.readTextFile(new URL("../../conf/nutcracker.yml", import.meta.url));
    try {
      for (const text of mutations(example.replaceAll("/tmp/gamma", `${dir}/gamma.sock`), 150, 7)) {
        const file = `${dir}/case.yml`;
        const log = `${dir}/case.log`;
        await Deno.writeTextFile(file, text);
        const ours = await ourVerdict(text, file);
        const tested = await runBounded(["-t", "-c", file]);
        assert.equal(tested, ours === null ? 0 : 1, `nutcracker -t on ${JSON.stringify(text)}`);
        if (ours === null) continue;
        await Deno.remove(log).catch(() => {});
        assert.equal(
          await runBounded(["-c", file, "-o", log, "-s", String(freePort()), "-a", "127.0.0.1"]),
          1,
        );
        assert.equal(confLine(await Deno.readTextFile(log)), ours, JSON.stringify(text));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("conf/sentinel.yml (the README's Sentinel and replicas example) loads with its sentinels, replicas and read_from", async () => {
  const config = await loadConfig(new URL("../../conf/sentinel.yml", import.meta.url).pathname);
  const [profiles, sessions] = config.pools;
  assert.equal(sessions.name, "sessions");
  assert.deepEqual(sessions.sentinels.map((s) => `${s.host}:${s.port}`), [
    "10.0.0.11:26379",
    "10.0.0.12:26379",
    "10.0.0.13:26379",
  ]);
  assert.deepEqual(sessions.servers.map((s) => s.name), ["cache-a", "cache-b", "cache-c"]);
  assert.equal(sessions.readFrom, "prefer-replica");
  assert.equal(sessions.sentinelPollInterval, 5000);
  assert.equal(profiles.readFrom, "replica");
  assert.deepEqual(profiles.replicas.map((r) => `${r.host}:${r.port} ${r.name}`), [
    "10.0.2.11:6379 profiles-1",
    "10.0.2.12:6379 profiles-1",
    "10.0.2.21:6379 profiles-2",
  ]);
});

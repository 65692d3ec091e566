import assert from "assert";
import { parseListen } from "../../src/config/listen.ts";
import { InvalidValue } from "../../src/config/error.ts";

async function reason(value: string): Promise<string | null> {
  try {
    await parseListen(value);
    return null;
  } catch (e) {
    assert.ok(e instanceof InvalidValue);
    return e.reason;
  }
}

const PERMISSION = 'has an invalid file permission in "socket_path permission" format string';

Deno.test("a TCP listen is split at the last colon and its host resolved", async () => {
  assert.deepEqual(await parseListen("127.0.0.1:22121"), {
    kind: "tcp",
    raw: "127.0.0.1:22121",
    host: "127.0.0.1",
    port: 22121,
    address: "127.0.0.1",
  });
  assert.deepEqual(await parseListen("localhost:1"), {
    kind: "tcp",
    raw: "localhost:1",
    host: "localhost",
    port: 1,
    address: "127.0.0.1",
  });
});

Deno.test("an IPv6 listen is written without brackets", async () => {
  const listen = await parseListen("::1:22121");
  assert.deepEqual(listen.kind === "tcp" && [listen.host, listen.port, listen.address], [
    "::1",
    22121,
    "::1",
  ]);
});

Deno.test("a listen without colon or with a bad port is refused", async () => {
  assert.equal(await reason("localhost"), 'has an invalid "hostname:port" format string');
  for (const value of ["h:0", "h:65536", "h:", "h:x", "h:-1"]) {
    assert.equal(await reason(value), 'has an invalid port in "hostname:port" format string', value);
  }
});

Deno.test("an unresolvable or empty host is an invalid value with getaddrinfo's reason", async () => {
  for (
    const [value, node, service] of [["nosuch.invalid:022121", "nosuch.invalid", "22121"], [":1", "", "1"]]
  ) {
    await assert.rejects(parseListen(value), (e: InvalidValue) => {
      assert.equal(e.reason, "has an invalid value");
      assert.equal(
        e.detail,
        `address resolution of node '${node}' service '${service}' failed: Name or service not known`,
      );
      return true;
    });
  }
});

Deno.test("a unix listen takes an optional octal permission after the last space", async () => {
  assert.deepEqual(await parseListen("/tmp/x.sock"), {
    kind: "unix",
    raw: "/tmp/x.sock",
    path: "/tmp/x.sock",
    perm: 0,
  });
  assert.deepEqual(await parseListen("/tmp/x.sock 0666"), {
    kind: "unix",
    raw: "/tmp/x.sock 0666",
    path: "/tmp/x.sock",
    perm: 0o666,
  });
});

Deno.test("the permission follows strtol base 8: it stops at the first non-octal digit", async () => {
  const perm = async (value: string) => {
    const listen = await parseListen(value);
    return listen.kind === "unix" ? listen.perm : NaN;
  };
  assert.equal(await perm("/s 999"), 0);
  assert.equal(await perm("/s 0778"), 0o77);
  assert.equal(await perm("/s +0600"), 0o600);
  assert.equal(await perm("/s \t0644"), 0o644);
  assert.equal(await perm("/s "), 0);
  assert.equal(await perm("/s 40000000000"), 0, "truncated to mode_t's 32 bits");
});

Deno.test("a permission above 0777, negative or out of long's range is refused", async () => {
  for (const value of ["/s 1000", "/s -1", "/s 7777777777777777777777"]) {
    assert.equal(await reason(value), PERMISSION, value);
  }
});

Deno.test("a unix path must fit sockaddr_un with its NUL (at most 107 bytes)", async () => {
  assert.equal(await reason(`/${"x".repeat(107)}`), "has an invalid value");
  assert.equal(await reason(`/${"x".repeat(106)}`), null);
});

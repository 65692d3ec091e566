import assert from "assert";
import { parseServer } from "../../src/config/servers.ts";
import { InvalidValue } from "../../src/config/error.ts";

const reason = (value: string) => {
  try {
    parseServer(value);
    return null;
  } catch (e) {
    assert.ok(e instanceof InvalidValue);
    return e.reason;
  }
};

Deno.test("a TCP server entry gives host, port, weight and the name host:port", () => {
  assert.deepEqual(parseServer("127.0.0.1:6379:2"), {
    raw: "127.0.0.1:6379:2",
    name: "127.0.0.1:6379",
    kind: "tcp",
    host: "127.0.0.1",
    port: 6379,
    path: "",
    weight: 2,
  });
});

Deno.test("a server on port 11211 is named by its host alone (libmemcached compatibility)", () => {
  assert.equal(parseServer("cache1:11211:1").name, "cache1");
  assert.equal(parseServer("cache1:011211:1").name, "cache1");
});

Deno.test("an explicit name after the last space wins", () => {
  const server = parseServer("127.0.0.1:11211:1 web1");
  assert.deepEqual([server.name, server.host, server.port], ["web1", "127.0.0.1", 11211]);
});

Deno.test("the default name keeps the port as written", () => {
  assert.equal(parseServer("h:06379:1").name, "h:06379");
});

Deno.test("an IPv6 host keeps its colons: fields are split from the right", () => {
  const server = parseServer("::1:6379:1");
  assert.deepEqual([server.host, server.port, server.name], ["::1", 6379, "::1:6379"]);
});

Deno.test("a unix socket server is named by its path plus a trailing colon", () => {
  assert.deepEqual(parseServer("/tmp/a.sock:3"), {
    raw: "/tmp/a.sock:3",
    name: "/tmp/a.sock:",
    kind: "unix",
    host: "",
    port: 0,
    path: "/tmp/a.sock",
    weight: 3,
  });
  assert.equal(parseServer("/tmp/a.sock:3 sock").name, "sock");
});

Deno.test("an empty host is accepted: resolution is lazy", () => {
  assert.deepEqual([parseServer(":11211:1").host, parseServer(":11211:1").name], ["", ""]);
});

Deno.test("a missing weight or a colon in a unix path is a format error", () => {
  const format =
    'has an invalid "hostname:port:weight [name]"or "/path/unix_socket:weight [name]" format string';
  for (const value of ["127.0.0.1:11211", "127.0.0.1", "/tmp/a.sock", "/tmp/a:b.sock:1", ":1"]) {
    assert.equal(reason(value), format, value);
  }
});

Deno.test("weights are positive numbers and are checked before ports", () => {
  assert.equal(reason("h:1:x"), 'has an invalid weight in "hostname:port:weight [name]" format string');
  assert.equal(reason("h:1:"), 'has an invalid weight in "hostname:port:weight [name]" format string');
  assert.equal(reason("h:0:0"), 'has a zero weight in "hostname:port:weight [name]" format string');
});

Deno.test("ports are 1..65535", () => {
  for (const value of ["h:0:1", "h:65536:1", "h:x:1", "h::1"]) {
    assert.equal(reason(value), 'has an invalid port in "hostname:port:weight [name]" format string', value);
  }
  assert.equal(parseServer("h:65535:1").port, 65535);
});

/**
 * Each runtime log line is written at its level and not one level below: nutcracker's lines in its
 * words, then tsproxy's own (ejections, timeouts, connections). Every scenario plays against an
 * in-process proxy at the line's level, then again one level below.
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { freePort } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { Level } from "../../src/log.ts";
import { until, withInProcess } from "../support/inproc.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A raw TCP server answering each connection with `serve`; stops with `close`. */
function rawServer(serve: (conn: Deno.Conn) => Promise<void>): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) serve(conn).catch(() => {}).finally(() => conn.close());
  })().catch(() => {});
  return { port: (listener.addr as Deno.NetAddr).port, close: () => listener.close() };
}

/** Sends `data`, waits for whatever comes back (or the close), then closes. */
async function poke(port: number, data: string, closeAfterMs = 100): Promise<void> {
  const wire = await Wire.connect(port);
  await wire.send(data);
  await wire.drain(closeAfterMs);
  wire.close();
}

/**
 * A server that resets each connection (SO_LINGER 0) 50 ms after accepting it: Deno cannot set
 * SO_LINGER, so a small python3 program (standard library only) plays it.
 */
async function resettingServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const program = "import socket, struct, time\n" +
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True)\n" +
    "while True:\n" +
    "    c, _ = s.accept(); time.sleep(0.05)\n" +
    "    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()\n";
  const child = new Deno.Command("python3", { args: ["-c", program], stdout: "piped", stdin: "null" })
    .spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the resetting server did not start");
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    address: `127.0.0.1:${Number(line.trim())}`,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

interface Scenario {
  name: string;
  level: number;
  /** The pool's YAML given the listen port and whatever the scenario started. */
  yaml(port: number, backend: string): string;
  /** Starts what the pool talks to; returns its `servers:` address and how to stop it. */
  backend?(): Promise<{ address: string; stop(): Promise<void> | void }>;
  play(port: number): Promise<void>;
  expect: RegExp;
}

const pool = (port: number, server: string, extra = "") =>
  `p:\n  listen: 127.0.0.1:${port}\n${extra}  servers:\n   - ${server}:1 srv\n`;
const redisPool = (port: number, server: string, extra = "") => pool(port, server, `  redis: true\n${extra}`);

const fakeMemcached = async () => {
  const f = await FakeMemcached.start();
  return { address: f.address, stop: () => f.close() };
};

const SCENARIOS: Scenario[] = [
  {
    name: "a client that closes with a request half received",
    level: Level.ERR,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, "set a 0 0 10\r\nabc", 50),
    expect: /^client eof c \d+ discarding incomplete req \d+ len 17$/,
  },
  {
    name: "a memcache key longer than 250 bytes",
    level: Level.ERR,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, `get ${"k".repeat(300)}\r\n`),
    expect: new RegExp(
      "^client parsed bad req \\d+ of type 1 with key prefix 'kkkkkkkkkkkkkkkk\\.\\.\\.' and length 300 " +
        "that exceeds maximum key length$",
    ),
  },
  {
    name: "a memcache request with an empty key",
    level: Level.ERR,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, "get \r\n"),
    expect: /^client parsed bad req \d+ of type 1 with an empty key$/,
  },
  {
    name: "a redis command nutcracker does not support",
    level: Level.ERR,
    yaml: redisPool,
    play: (port) => poke(port, "*1\r\n$4\r\nKEYS\r\n"),
    expect: /^client parsed unsupported command 'KEYS'$/,
  },
  {
    name: "a redis key too long for one buffer",
    level: Level.ERR,
    yaml: redisPool,
    play: (port) => poke(port, "*2\r\n$3\r\nGET\r\n$20000\r\n"),
    expect:
      /^client parsed bad req \d+ of type 50 with key length 20000 that greater than or equal to maximum redis key length of 16336$/,
  },
  {
    name: "a server host name that does not resolve",
    level: Level.ERR,
    yaml: (port) => pool(port, "nosuchhost.invalid:11211"),
    play: (port) => poke(port, "get a\r\n"),
    expect:
      /^server address resolution of node 'nosuchhost\.invalid' service '11211' failed: Name or service not known$/,
  },
  {
    name: "a connect that fails at once (a missing unix socket)",
    level: Level.ERR,
    yaml: (port) => pool(port, "/nonexistent/tsproxy-test.sock"),
    play: (port) => poke(port, "get a\r\n"),
    expect:
      /^server connect on s \d+ to server '\/nonexistent\/tsproxy-test\.sock:1' failed: No such file or directory$/,
  },
  {
    name: "a preconnect that fails",
    level: Level.WARN,
    yaml: (port) => pool(port, "/nonexistent/tsproxy-test.sock", "  preconnect: true\n"),
    play: () => sleep(50),
    expect:
      /^server connect to server '\/nonexistent\/tsproxy-test\.sock:1' failed, ignored: No such file or directory$/,
  },
  {
    name: "a server that closes with a reply half sent",
    level: Level.ERR,
    yaml: pool,
    backend: () => {
      const s = rawServer(async (conn) => {
        await conn.read(new Uint8Array(100));
        await conn.write(new TextEncoder().encode("VALUE a 0 10\r\nabc"));
      });
      return Promise.resolve({ address: `127.0.0.1:${s.port}`, stop: s.close });
    },
    play: (port) => poke(port, "get a\r\n"),
    expect: /^server eof s \d+ discarding incomplete rsp \d+ len 17$/,
  },
  {
    name: "a server connection reset",
    level: Level.ERR,
    yaml: pool,
    backend: resettingServer,
    play: (port) => poke(port, "get a\r\n", 300),
    expect: /^server recv on sd \d+ failed: Connection reset by peer$/,
  },
  {
    name: "a redis_db SELECT the server refuses",
    level: Level.WARN,
    yaml: (port, backend) => redisPool(port, backend, "  redis_db: 1\n  redis_auth: pw\n"),
    backend: async () => {
      const f = await FakeRedis.start({ requirepass: "pw" });
      return { address: f.address, stop: () => f.close() };
    },
    play: (port) => poke(port, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n"),
    expect: /^server SELECT 1 failed on p \| srv: NOAUTH Authentication required\.$/,
  },
  {
    name: "a server ejected",
    level: Level.NOTICE,
    yaml: (port) =>
      pool(port, `127.0.0.1:${freePort()}`, "  auto_eject_hosts: true\n  server_failure_limit: 1\n"),
    play: (port) => poke(port, "get a\r\n"),
    expect:
      /^pool server '127\.0\.0\.1:\d+:1' of pool p ejected after 1 consecutive failures; tried again in 30000 ms$/,
  },
  {
    name: "an ejected server back in the pool",
    level: Level.NOTICE,
    yaml: (port) =>
      pool(
        port,
        `127.0.0.1:${freePort()}`,
        "  auto_eject_hosts: true\n  server_failure_limit: 1\n  server_retry_timeout: 100\n",
      ),
    play: async (port) => {
      await poke(port, "get a\r\n", 50);
      await sleep(150);
      await poke(port, "get a\r\n", 50);
    },
    expect: /^pool server '127\.0\.0\.1:\d+:1' of pool p is back in the pool$/,
  },
  {
    name: "a request timed out",
    level: Level.WARN,
    yaml: (port, backend) => pool(port, backend, "  timeout: 100\n"),
    backend: async () => {
      const f = await FakeMemcached.start();
      f.faults.set({ mode: "silent" });
      return { address: f.address, stop: () => f.close() };
    },
    play: (port) => poke(port, "get a\r\n", 300),
    expect: /^server request to pool p server '127\.0\.0\.1:\d+:1' timed out after 100 ms$/,
  },
  {
    name: "a client accepted",
    level: Level.INFO,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, "get a\r\n"),
    expect: /^client accepted c \d+ from 127\.0\.0\.1:\d+ on pool p$/,
  },
  {
    name: "a client closed",
    level: Level.INFO,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, "get a\r\n"),
    expect: /^client closed c \d+ on pool p: eof$/,
  },
  {
    name: "a server connection made",
    level: Level.INFO,
    yaml: pool,
    backend: fakeMemcached,
    play: (port) => poke(port, "get a\r\n"),
    expect: /^server connected s \d+ to pool p server '127\.0\.0\.1:\d+:1'$/,
  },
  {
    name: "a server connection closed",
    level: Level.INFO,
    yaml: pool,
    backend: () => {
      const s = rawServer(async (conn) => void await conn.read(new Uint8Array(100)));
      return Promise.resolve({ address: `127.0.0.1:${s.port}`, stop: s.close });
    },
    play: (port) => poke(port, "get a\r\n"),
    expect: /^server closed s \d+ to pool p server '127\.0\.0\.1:\d+:1': eof, failing 1 requests in flight$/,
  },
];

/** Plays the scenario with the proxy at `level`; its log lines. */
async function logOf(s: Scenario, level: number): Promise<string[]> {
  const backend = s.backend ? await s.backend() : null;
  const port = freePort();
  try {
    return await withInProcess(s.yaml(port, backend?.address ?? "127.0.0.1:1"), { level }, async (proxy) => {
      await s.play(port);
      if (level >= s.level) {
        await until(() => proxy.log().some((l) => s.expect.test(l)), s.name).catch(() => {});
      } else await sleep(50);
      return proxy.log();
    });
  } finally {
    await backend?.stop();
  }
}

for (const s of SCENARIOS) {
  Deno.test({
    name: `logged at level ${s.level}, silent at ${s.level - 1}: ${s.name}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const at = await logOf(s, s.level);
      assert.ok(at.some((l) => s.expect.test(l)), `at level ${s.level}:\n${at.join("\n")}`);
      const below = await logOf(s, s.level - 1);
      assert.ok(!below.some((l) => s.expect.test(l)), `at level ${s.level - 1}:\n${below.join("\n")}`);
    },
  });
}

Deno.test({
  name: "a flood of one kind of line is cut at 10 a second, then one line counts what was held back",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const port = freePort();
    await withInProcess(redisPool(port, "127.0.0.1:1"), { level: Level.ERR }, async (proxy) => {
      const wire = await Wire.connect(port);
      await wire.send("*1\r\n$4\r\nKEYS\r\n".repeat(25));
      await wire.drain(100);
      wire.close();
      const lines = () => proxy.log().filter((l) => /unsupported command|suppressed/.test(l));
      assert.equal(lines().filter((l) => l.includes("unsupported")).length, 10);
      await until(() => lines().length === 11, "the suppressed-count line", 2000);
      assert.equal(lines()[10], "client ... 15 similar lines suppressed");
    });
  },
});

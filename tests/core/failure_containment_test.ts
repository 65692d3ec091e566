/**
 * A bug in the proxy's handling of one request (a protocol module that throws while splitting,
 * merging or parsing a reply, or the core's delivery of a reply) fails that request alone: its client
 * gets an error reply and its later requests are answered, the server is neither counted as failed
 * nor ejected, and one error line names pool, server and command. The faults are injected by
 * wrapping the real protocols (and through the client's reply seam), never by a production flag.
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import type { FakeServer } from "../../harness/fake_server.ts";
import { freePort } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { replySeam } from "../../src/core/client_connection.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import type { Protocol, ReplyParser } from "../../src/protocol/types.ts";
import { withInProcess } from "../support/inproc.ts";

/** A fault that fires once, when armed. */
class Trap {
  #armed = false;
  fired = 0;

  arm(): void {
    this.#armed = true;
  }

  /** Throws (once) when armed. */
  spring(where: string): void {
    if (!this.#armed) return;
    this.#armed = false;
    this.fired++;
    throw new Error(`injected fault in ${where}`);
  }
}

type Fault = "split" | "merge" | "reply parser" | "deliver";

/** The real protocol with `trap` set in the step named by `fault`. */
function faulty(protocol: Protocol, fault: Fault, trap: Trap): Protocol {
  switch (fault) {
    case "split":
      return { ...protocol, split: (...a) => (trap.spring("split"), protocol.split(...a)) };
    case "merge":
      return { ...protocol, merge: (...a) => (trap.spring("merge"), protocol.merge(...a)) };
    case "reply parser":
      return {
        ...protocol,
        newReplyParser: () => {
          const real = protocol.newReplyParser();
          const parser: ReplyParser = {
            parse: (buf, start, end) => (trap.spring("reply parser"), real.parse(buf, start, end)),
            get failure() {
              return real.failure;
            },
            get need() {
              return real.need;
            },
            get settled() {
              return real.settled;
            },
          };
          return parser;
        },
      };
    case "deliver":
      return protocol;
  }
}

/** What one protocol's requests and replies look like in these tests. */
interface Dialect {
  redis: boolean;
  start(): Promise<FakeServer>;
  /** Stores k = v; its reply. */
  set: [string, string];
  /** A multi-key request (split) and a single-key one, with their replies when all is well. */
  multi: [string, string];
  single: [string, string];
  /** The error reply of a request failed by the proxy's bug. */
  internal: string;
  /** The reply parser the test client frames replies with. */
  parser(): ReplyParser;
  /** The command names the log line gives for the multi-key and single-key requests. */
  names: [string, string];
}

const MEMCACHE: Dialect = {
  redis: false,
  start: () => FakeMemcached.start(),
  set: ["set k 0 0 1\r\nv\r\n", "STORED\r\n"],
  multi: ["get k nokey\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n"],
  single: ["get k\r\n", "VALUE k 0 1\r\nv\r\nEND\r\n"],
  internal: "SERVER_ERROR internal proxy error\r\n",
  parser: () => new MemcacheReplyParser(),
  names: ["get", "get"],
};

const REDIS: Dialect = {
  redis: true,
  start: () => FakeRedis.start(),
  set: ["*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "+OK\r\n"],
  multi: ["*3\r\n$4\r\nMGET\r\n$1\r\nk\r\n$5\r\nnokey\r\n", "*2\r\n$1\r\nv\r\n$-1\r\n"],
  single: ["*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$1\r\nv\r\n"],
  internal: "-ERR internal proxy error\r\n",
  parser: () => new RedisReplyParser(),
  names: ["MGET", "GET"],
};

/** A pool that ejects its one server at the first failure: any blame would show at once. */
function poolYaml(d: Dialect, port: number, backend: number): string {
  return `p:\n  listen: 127.0.0.1:${port}\n  redis: ${d.redis}\n  auto_eject_hosts: true\n` +
    `  server_failure_limit: 1\n  server_retry_timeout: 30000\n  timeout: 3000\n` +
    `  servers:\n   - 127.0.0.1:${backend}:1\n`;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Sends `request` and reads `count` replies as text. */
async function ask(wire: Wire, d: Dialect, request: string, count = 1): Promise<string[]> {
  await wire.send(request);
  const { replies } = await wire.replies(d.parser(), count);
  return replies.map(text);
}

for (const d of [MEMCACHE, REDIS]) {
  const name = d.redis ? "redis" : "memcache";
  for (const fault of ["split", "merge", "reply parser", "deliver"] as Fault[]) {
    Deno.test({
      name:
        `${name}: a bug in ${fault} fails that request alone; the client goes on, the server is not blamed`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const backend = await d.start();
        const trap = new Trap();
        const port = freePort();
        replySeam.beforeReply = fault === "deliver" ? () => trap.spring("deliver") : null;
        try {
          await withInProcess(
            poolYaml(d, port, backend.port),
            { protocols: (pc, m) => faulty(protocolFor(pc, m), fault, trap) },
            async (proxy) => {
              const wire = await Wire.connect(port);
              try {
                assert.deepEqual(await ask(wire, d, d.set[0]), [d.set[1]]);
                trap.arm();
                // The single-key request exercises the faults split and merge never see.
                const [request, good] = fault === "split" || fault === "merge" ? d.multi : d.single;
                assert.deepEqual(await ask(wire, d, request), [d.internal], "the faulty request fails alone");
                assert.equal(trap.fired, 1);
                assert.deepEqual(
                  await ask(wire, d, request + d.single[0], 2),
                  [good, d.single[1]],
                  "later requests",
                );
                const server = proxy.pools[0].servers[0];
                assert.equal(server.stats.server_err, 0, "server_err");
                assert.equal(server.stats.server_eof, 0, "server_eof");
                assert.equal(proxy.pools[0].stats.server_ejects, 0, "server_ejects");
                const bugs = proxy.log().filter((l) => l.includes("internal error"));
                assert.equal(bugs.length, 1, proxy.log().join("\n"));
                const command = fault === "split" || fault === "merge" ? d.names[0] : d.names[1];
                assert.match(bugs[0], new RegExp(`pool p .*for ${command}: injected fault in ${fault}$`));
                if (fault === "reply parser" || fault === "deliver") {
                  assert.match(bugs[0], new RegExp(`server '127\\.0\\.0\\.1:${backend.port}:1'`));
                }
              } finally {
                wire.close();
              }
            },
          );
        } finally {
          replySeam.beforeReply = null;
          await backend.close();
        }
      },
    });
  }

  Deno.test({
    name:
      `${name}: a reply parser that throws fails every request in flight on that connection, then serves anew`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const backend = await d.start();
      const trap = new Trap();
      const port = freePort();
      try {
        await withInProcess(
          poolYaml(d, port, backend.port),
          { protocols: (pc, m) => faulty(protocolFor(pc, m), "reply parser", trap) },
          async (proxy) => {
            const wire = await Wire.connect(port);
            const other = await Wire.connect(port);
            try {
              assert.deepEqual(await ask(wire, d, d.set[0]), [d.set[1]]);
              // Hold the replies back so that three requests are in flight when the first comes.
              backend.faults.set({ mode: "delay", ms: 100 });
              trap.arm();
              await wire.send(d.single[0] + d.set[0]);
              const otherReplies = ask(other, d, d.single[0]);
              const { replies } = await wire.replies(d.parser(), 2);
              assert.deepEqual(replies.map(text), [d.internal, d.internal]);
              assert.deepEqual(await otherReplies, [d.internal], "another client's request in flight");
              backend.faults.clear();
              assert.deepEqual(await ask(wire, d, d.single[0]), [d.single[1]]);
              assert.deepEqual(await ask(other, d, d.single[0]), [d.single[1]]);
              assert.equal(proxy.pools[0].servers[0].stats.server_err, 0);
              assert.equal(proxy.pools[0].stats.server_ejects, 0);
            } finally {
              wire.close();
              other.close();
            }
          },
        );
      } finally {
        await backend.close();
      }
    },
  });
}

/**
 * Every memcache failure situation measured on nutcracker 0.5.0, played through tsproxy: the exact
 * bytes the client gets, whether its connection stays open, and the stats side effects (tsproxy's
 * stats are live, and `fragments` counts truly). The scenarios are in
 * harness/scenarios/memcache_failures.ts.
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { concat } from "../../harness/bytes.ts";
import { freePort, spawn, waitForPort } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";
import {
  assertStats,
  type Lab,
  playOn,
  type PoolSnapshot,
  type Scenario,
  sleep,
  transcript,
} from "../../harness/memcache_lab.ts";
import { KEYS, SCENARIOS } from "../../harness/scenarios/memcache_failures.ts";

/** Plays the scenario behind tsproxy, asserts its transcript, then runs the test's own checks. */
async function check(scenario: Scenario, more: (lab: Lab) => void | Promise<void> = () => {}): Promise<void> {
  await playOn("tsproxy", scenario, async (lab) => {
    assert.deepEqual(transcript(lab), scenario.expect);
    await more(lab);
  });
}

function checkpoint(lab: Lab, name: string): PoolSnapshot {
  const snap = lab.checkpoints.get(name);
  assert.ok(snap, `no checkpoint ${name}`);
  return snap;
}

const bytes = (s: string) => s.length;

/**
 * Server a cannot be reached at all (no address, no socket): two requests each fail on their own
 * without counting as requests, which ejects a, and b serves the third.
 */
async function unreachable(lab: Lab): Promise<void> {
  const snap = await lab.stats();
  assertStats(snap, {
    pool: { forward_error: 2, server_ejects: 1 },
    a: { server_err: 2, requests: 0, server_connections: 0 },
    b: { requests: 1, responses: 1 },
  });
  assert.ok(snap.servers.a.server_ejected_at > 0);
}

Deno.test({
  name: "closed server port: every pipelined request gets SERVER_ERROR Connection refused, client stays open",
  fn: () =>
    check(SCENARIOS.refused, async (lab) => {
      assertStats(checkpoint(lab, "after pipelined gets"), {
        pool: { forward_error: 2, client_err: 0 },
        a: {
          server_err: 1,
          requests: 2,
          request_bytes: bytes("get k\r\nget j\r\n"),
          responses: 0,
          server_connections: 0,
        },
      });
      assertStats(await lab.stats(), { pool: { forward_error: 3 }, a: { server_err: 2, requests: 3 } });
    }),
});

Deno.test({
  name:
    "timeout 300 with a silent server: both requests on the connection fail together at the first deadline",
  fn: () =>
    check(SCENARIOS.timeout, async (lab) => {
      const first = lab.timing.get("first client")!;
      const second = lab.timing.get("second client")!;
      assert.ok(first.ms >= 290 && first.ms <= 600, `first request failed after ${first.ms} ms, not ~300`);
      assert.ok(Math.abs(first.at - second.at) <= 50, `failures ${Math.abs(first.at - second.at)} ms apart`);
      assert.ok(second.ms < 290, `second request waited ${second.ms} ms: it did not fail with the first`);
      assertStats(checkpoint(lab, "after timeout"), {
        pool: { forward_error: 2 },
        a: {
          server_timedout: 1,
          server_err: 0,
          server_eof: 0,
          requests: 2,
          responses: 0,
          server_connections: 0,
        },
      });
      assertStats(await lab.stats(), { a: { server_timedout: 1, responses: 1, server_connections: 1 } });
      assert.equal(lab.fake("a").stats.connections, 2, "a new server connection after the timed-out one");
    }),
});

Deno.test({
  name:
    "unresolvable server host: SERVER_ERROR Host is down per request, each a failure of its own, not counted as requests",
  fn: () => check(SCENARIOS.unresolvable, unreachable),
});

Deno.test({
  name:
    "missing unix socket server: SERVER_ERROR No such file or directory per request, each a failure of its own",
  fn: () => check(SCENARIOS.unixMissing, unreachable),
});

Deno.test({
  name: "server hangs up after reading: SERVER_ERROR unknown for each pending request, counted as server_eof",
  fn: () =>
    check(SCENARIOS.closeAfterRead, async (lab) => {
      assertStats(checkpoint(lab, "after hangup"), {
        pool: { forward_error: 2 },
        a: { server_eof: 1, server_err: 0, requests: 2, responses: 0, server_connections: 0 },
      });
      assertStats(await lab.stats(), {
        a: { server_eof: 1, requests: 3, responses: 1, server_connections: 1 },
      });
    }),
});

Deno.test({
  name:
    "server answers garbage: SERVER_ERROR Invalid argument for each pending request, counted as server_err",
  fn: () =>
    check(SCENARIOS.garbage, async (lab) => {
      assertStats(checkpoint(lab, "after garbage"), {
        pool: { forward_error: 2 },
        a: { server_err: 1, server_eof: 0, requests: 2, responses: 0, server_connections: 0 },
      });
      assertStats(await lab.stats(), { a: { server_err: 1, responses: 1, server_connections: 1 } });
    }),
});

Deno.test({
  name: "server's own SERVER_ERROR, CLIENT_ERROR and ERROR replies are relayed verbatim and are not failures",
  fn: () =>
    check(SCENARIOS.relayedFake, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { forward_error: 0 },
        a: { server_err: 0, server_eof: 0, requests: 3, responses: 3, server_connections: 1 },
      });
    }),
});

Deno.test({
  name: "real memcached's errors (object too large, bad delta, non-numeric value) are relayed verbatim",
  ...needs("memcached"),
  fn: () =>
    check(SCENARIOS.relayedMemcached, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { forward_error: 0 },
        a: { server_err: 0, requests: 4, responses: 4, server_connections: 1 },
      });
    }),
});

Deno.test({
  name:
    "all servers ejected: immediate SERVER_ERROR Connection refused, no connect attempt, requests not counted",
  fn: () =>
    check(SCENARIOS.allEjected, async (lab) => {
      const ejected = checkpoint(lab, "after ejection");
      assertStats(ejected, {
        pool: { server_ejects: 1, forward_error: 1 },
        a: { server_eof: 1, requests: 1 },
      });
      assert.ok(ejected.servers.a.server_ejected_at > 0);
      // Two refused gets; the noreply set between them is dropped silently and not counted.
      assertStats(checkpoint(lab, "while ejected"), {
        pool: { server_ejects: 1, forward_error: 3 },
        a: { requests: 1, server_err: 0, server_eof: 1 },
      });
      const t = lab.timing.get("while ejected")!;
      assert.ok(t.ms < 100, `refused after ${t.ms} ms, not at once`);
      assert.equal(lab.fake("a").stats.connections, 1, "no connection attempt while ejected");
      assertStats(await lab.stats(), { pool: { forward_error: 5, client_err: 1, client_connections: 0 } });
    }),
});

Deno.test({
  name:
    "server_failure_limit failures eject the server: its key goes to the other server, and again after retry",
  fn: () =>
    check(SCENARIOS.ejection, (lab) => {
      const first = checkpoint(lab, "ejected");
      assertStats(first, {
        pool: { server_ejects: 1, forward_error: 2 },
        a: { server_err: 2, requests: 2, responses: 0 },
        b: { requests: 1, responses: 1 },
      });
      const again = checkpoint(lab, "ejected again");
      assertStats(again, {
        pool: { server_ejects: 2, forward_error: 4 },
        a: { server_err: 4, requests: 4 },
        b: { requests: 2, responses: 2 },
      });
      const gap = again.servers.a.server_ejected_at - first.servers.a.server_ejected_at;
      assert.ok(gap >= 500_000, `second ejection only ${gap} µs after the first`);
      const now = Date.now() * 1000;
      assert.ok(
        Math.abs(now - again.servers.a.server_ejected_at) < 10_000_000,
        "server_ejected_at is µs since epoch",
      );
    }),
});

Deno.test({
  name:
    "all servers ejected: a multi-get with no reply pending before it closes the client with nothing sent",
  fn: () =>
    check(SCENARIOS.allEjectedMultiGet, async (lab) => {
      assertStats(await lab.stats(), { pool: { client_err: 1, client_connections: 0 }, a: { requests: 1 } });
    }),
});

Deno.test({
  name: "a recovered server gets its keys back only once server_retry_timeout has passed",
  fn: () =>
    check(SCENARIOS.comeback, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { server_ejects: 1, forward_error: 2 },
        a: { server_err: 2, requests: 3, responses: 1, server_connections: 1 },
        b: { requests: 2, responses: 2 },
      });
    }),
});

Deno.test({
  name: "multi-get with a refused fragment: one SERVER_ERROR for the whole get, then the client is closed",
  fn: () =>
    check(SCENARIOS.fragmentFailed, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { fragments: 2, forward_error: 1, client_err: 1, client_connections: 0 },
        a: { server_err: 1, requests: 1, request_bytes: bytes(`get ${KEYS.a} \r\n`) },
        b: { requests: 1, responses: 1, request_bytes: bytes(`get ${KEYS.b} ${KEYS.b2} \r\n`) },
      });
    }),
});

Deno.test({
  name:
    "multi-get with a timed-out fragment: one SERVER_ERROR Connection timed out, then the client is closed",
  fn: () =>
    check(SCENARIOS.fragmentTimedOut, async (lab) => {
      const t = lab.timing.get("multi-get")!;
      assert.ok(t.ms >= 290 && t.ms <= 600, `timed out after ${t.ms} ms, not ~300`);
      assertStats(await lab.stats(), {
        pool: { fragments: 2, forward_error: 1, client_err: 1, client_connections: 0 },
        a: { server_timedout: 1, requests: 1, responses: 0 },
        b: { requests: 1, responses: 1 },
      });
    }),
});

Deno.test({
  name:
    "a get failing along with a refused multi-get before it gets its own error before the client is closed",
  fn: () =>
    check(SCENARIOS.fragmentFailedPipelined, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { forward_error: 2, client_err: 1, client_connections: 0 },
        a: { server_err: 1, requests: 2 },
      });
    }),
});

Deno.test({
  name:
    "multi-get with a fragment answered by an error: SERVER_ERROR Invalid argument, one forward_error, client open",
  fn: () =>
    check(SCENARIOS.fragmentErrorReply, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { forward_error: 1, fragments: 4, client_err: 0, client_connections: 1 },
        a: { server_err: 0, server_eof: 0, requests: 2, responses: 2 },
        b: { requests: 2, responses: 2 },
      });
    }),
});

Deno.test({
  name:
    "unsupported command or key too long: earlier replies, one CLIENT_ERROR line, then close (documented)",
  fn: () =>
    check(SCENARIOS.malformed, async (lab) => {
      assertStats(await lab.stats(), { pool: { client_err: 2, client_connections: 0, forward_error: 0 } });
    }),
});

Deno.test({
  name:
    "noreply request to a dead server: nothing sent back, client open, a server failure but no forward_error",
  fn: () =>
    check(SCENARIOS.noreplyDead, async (lab) => {
      assertStats(checkpoint(lab, "after noreply"), {
        pool: { forward_error: 0, client_connections: 1 },
        a: { server_err: 1, requests: 1, request_bytes: bytes("set k 0 0 1 noreply\r\nv\r\n") },
      });
      assertStats(await lab.stats(), { pool: { forward_error: 1 }, a: { server_err: 2, requests: 2 } });
    }),
});

Deno.test({
  name:
    "preconnect failure counts as a server failure: ejected at startup, its key served by the other server",
  fn: () =>
    check(SCENARIOS.preconnect, async (lab) => {
      const startup = checkpoint(lab, "after startup");
      assertStats(startup, {
        pool: { server_ejects: 1, forward_error: 0 },
        a: { server_err: 1, requests: 0, server_connections: 0 },
        b: { server_connections: 1, requests: 0 },
      });
      assert.ok(startup.servers.a.server_ejected_at > 0);
      assertStats(await lab.stats(), {
        a: { requests: 0 },
        b: { requests: 1, responses: 1, server_connections: 1 },
      });
    }),
});

Deno.test({
  name:
    "client_connections 1: tsproxy closes a second client at once and keeps serving the first (documented)",
  fn: () =>
    check(SCENARIOS.clientLimit, (lab) => {
      assertStats(checkpoint(lab, "two clients tried"), { pool: { client_connections: 1 } });
      const t = lab.timing.get("second client")!;
      assert.ok(t.ms < 100, `the extra client was closed after ${t.ms} ms, not at once`);
    }),
});

Deno.test({
  name:
    "replies to a client that left are read and dropped; the shared server connection serves others untouched",
  fn: () =>
    check(SCENARIOS.disconnectedClient, async (lab) => {
      assertStats(await lab.stats(), {
        pool: { client_connections: 1, client_eof: 1, client_err: 0, forward_error: 0 },
        // The dropped replies are counted as responses, as nutcracker counts them.
        a: { server_connections: 1, server_err: 0, server_eof: 0, requests: 5, responses: 5 },
      });
      assert.equal(
        lab.fake("a").stats.connections,
        1,
        "one server connection for both clients, never reopened",
      );
      assert.equal(lab.fake("a").openConnections, 1);
    }),
});

Deno.test("out of file descriptors: each extra client is closed at once, and the pool accepts again once fds are free", async () => {
  const fake = await FakeMemcached.start({ host: "127.0.0.1", port: 0 });
  const port = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "mc-fd-limit-" });
  Deno.writeTextFileSync(
    `${dir}/c.yml`,
    `mc:\n  listen: 127.0.0.1:${port}\n  servers:\n   - ${fake.address}:1\n`,
  );
  const main = new URL("../../src/main.ts", import.meta.url).pathname;
  const command = `${Deno.execPath()} run -A ${main} -c ${dir}/c.yml -s ${freePort()} -a 127.0.0.1`;
  // dash's ulimit -n sets the soft and the hard limit: the proxy cannot raise it again.
  const proxy = spawn("sh", ["-c", `ulimit -n 48; exec ${command}`]);
  const clients: Wire[] = [];
  try {
    await waitForPort(port, 15000);
    for (let i = 0; i < 60; i++) {
      const w = await Wire.connect(port);
      clients.push(w);
      await w.send("get k\r\n").catch(() => {});
    }
    const seen = await Promise.all(clients.map(async (w) => {
      const r = await w.replies(new MemcacheReplyParser(), 1, 1500);
      const rest = await w.drain(100);
      const bytes = new TextDecoder().decode(concat([...r.replies, rest.bytes]));
      return `${JSON.stringify(bytes)} ${r.closed || rest.closed ? "closed" : "open"}`;
    }));
    const counts: Record<string, number> = {};
    for (const s of seen) counts[s] = (counts[s] ?? 0) + 1;
    // Served, or closed with nothing sent; none left hanging. Both kinds occur: the limit was reached.
    assert.deepEqual(Object.keys(counts).sort(), [`"" closed`, `"END\\r\\n" open`], JSON.stringify(counts));
    for (const w of clients.splice(0)) w.close();
    await sleep(200);
    const again = await Wire.connect(port);
    clients.push(again);
    await again.send("get k\r\n");
    const r = await again.replies(new MemcacheReplyParser(), 1, 1500);
    assert.deepEqual(
      r.replies.map((b) => new TextDecoder().decode(b)),
      ["END\r\n"],
      "served once fds are free",
    );
  } finally {
    for (const w of clients) w.close();
    await proxy.stop();
    await fake.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

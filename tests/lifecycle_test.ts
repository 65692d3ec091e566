import assert from "assert";
import { FakeMemcached } from "../harness/fake_memcached.ts";
import { freePort, startTsproxy } from "../harness/procs.ts";
import { Wire } from "../harness/wire.ts";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";

/** tsproxy in front of one fake memcached with `delayMs` per reply, a pid file, and `extra` flags. */
async function slowProxy(delayMs: number, extra: string[]) {
  const fake = await FakeMemcached.start();
  fake.faults.set({ mode: "delay", ms: delayMs });
  const port = freePort();
  const pidFile = `${Deno.makeTempDirSync({ prefix: "tsproxy-pid-" })}/tsproxy.pid`;
  const proxy = await startTsproxy(
    `mc:\n  listen: 127.0.0.1:${port}\n  servers:\n   - ${fake.address}:1\n`,
    [port],
    ["-p", pidFile, "--admin-port=0", ...extra],
  );
  assert.equal(Deno.readTextFileSync(pidFile), String(proxy.pid));
  return { fake, port, pidFile, proxy };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, cond: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("SIGTERM answers a request in flight on a slow server, closes idle clients, refuses new ones, exits 0 without its pid file", async () => {
  const { fake, port, pidFile, proxy } = await slowProxy(1500, []);
  const busy = await Wire.connect(port);
  const idle = await Wire.connect(port);
  try {
    await busy.send("get a\r\n");
    await until("the request to reach the server", () => fake.stats.requests === 1);
    proxy.child.kill("SIGTERM");
    assert.equal((await idle.drain(3000)).closed, true, "an idle client is closed at once");
    await assert.rejects(
      async () => (await Wire.connect(port)).close(),
      "no client is accepted once the drain began",
    );
    const r = await busy.replies(new MemcacheReplyParser(), 1, 5000);
    assert.equal(new TextDecoder().decode(r.replies[0]), "END\r\n");
    assert.equal((await busy.drain(3000)).closed, true, "closed once answered");
    const status = await proxy.child.status;
    assert.equal(status.code, 0);
    assert.equal(exists(pidFile), false, "the pid file is removed");
    const log = proxy.stderr();
    assert.match(log, /signal 15 \(SIGTERM\) received, draining/);
    assert.match(log, /drain started: 2 clients with 1 requests in flight; deadline 10000 ms/);
    assert.match(
      log,
      /drain done in \d+ ms: 2 clients closed once answered, 0 at the deadline with 0 requests failed/,
    );
  } finally {
    busy.close();
    idle.close();
    await proxy.stop();
    await fake.close();
  }
});

Deno.test("past --drain-timeout, requests still unanswered get an error reply, their clients are closed, and the proxy exits 0", async () => {
  const { fake, port, pidFile, proxy } = await slowProxy(20000, ["--drain-timeout=300"]);
  const w = await Wire.connect(port);
  try {
    await w.send("get a\r\nget b\r\n");
    await until("the requests to reach the server", () => fake.stats.requests >= 1);
    proxy.child.kill("SIGTERM");
    const r = await w.replies(new MemcacheReplyParser(), 2, 10000);
    assert.deepEqual(
      r.replies.map((b) => new TextDecoder().decode(b)),
      ["SERVER_ERROR proxy is shutting down\r\n", "SERVER_ERROR proxy is shutting down\r\n"],
    );
    assert.equal((await w.drain(3000)).closed, true);
    assert.equal((await proxy.child.status).code, 0);
    assert.equal(exists(pidFile), false);
    assert.match(proxy.stderr(), /0 clients closed once answered, 1 at the deadline with 2 requests failed/);
  } finally {
    w.close();
    await proxy.stop();
    await fake.close();
  }
});

Deno.test("SIGINT exits at once with status 1, as nutcracker does, and removes the pid file", async () => {
  const { fake, port, pidFile, proxy } = await slowProxy(20000, []);
  const w = await Wire.connect(port);
  try {
    await w.send("get a\r\n");
    await until("the request to reach the server", () => fake.stats.requests === 1);
    proxy.child.kill("SIGINT");
    assert.equal((await proxy.child.status).code, 1);
    assert.equal(exists(pidFile), false);
    assert.match(proxy.stderr(), /signal 2 \(SIGINT\) received, exiting/);
  } finally {
    w.close();
    await proxy.stop();
    await fake.close();
  }
});

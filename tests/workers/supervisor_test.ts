import assert from "assert";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { freePort, readStats, startMemcached, startTsproxy } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { needsPromParser, parseExposition, valueOf } from "../support/prom_parse.ts";

/** Pids of the worker processes a supervisor started. */
async function workerPids(supervisor: number): Promise<number[]> {
  const out = await new Deno.Command("pgrep", { args: ["-P", String(supervisor)], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim().split("\n").filter(Boolean).map(Number);
}

/** One request on a fresh connection each time, so the kernel spreads them over the workers. */
async function oneShot(port: number, request: string): Promise<string> {
  const w = await Wire.connect(port);
  try {
    await w.send(request);
    const { replies } = await w.replies(new MemcacheReplyParser(), 1);
    return new TextDecoder().decode(replies[0]);
  } finally {
    w.close();
  }
}

type PoolStats = Record<string, number> & Record<string, Record<string, number>>;

Deno.test(
  "--workers=2 serves one port from two processes, sums their stats, and restarts a worker that dies",
  needs("memcached"),
  async () => {
    const mc = await startMemcached();
    const port = freePort();
    const proxy = await startTsproxy(
      `p:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:${mc.port}:1 m\n`,
      [port],
      ["--workers=2"],
    );
    try {
      // Both workers are up once both listeners count in the summed stats.
      for (let i = 0; i < 100 && (await readStats(proxy.statsPort)).curr_connections !== 2; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const pids = await workerPids(proxy.pid);
      assert.equal(pids.length, 2);
      for (let i = 0; i < 40; i++) {
        assert.equal(await oneShot(port, `set k${i} 0 0 1\r\nx\r\n`), "STORED\r\n");
      }
      const stats = await readStats(proxy.statsPort);
      const pool = stats.p as PoolStats;
      assert.equal(pool.m.requests, 40);
      assert.equal(pool.m.responses, 40);
      assert.equal(stats.curr_connections, 2 * (1 + 1)); // per worker: its listener and its server connection

      Deno.kill(pids[1], "SIGKILL");
      let restarted: number[] = [];
      for (let i = 0; i < 100 && (restarted.length < 2 || restarted.includes(pids[1])); i++) {
        await new Promise((r) => setTimeout(r, 100));
        restarted = await workerPids(proxy.pid);
      }
      assert.equal(restarted.length, 2);
      assert.ok(!restarted.includes(pids[1]));
      for (let i = 0; i < 10; i++) {
        assert.equal(await oneShot(port, `get k${i}\r\n`), `VALUE k${i} 0 1\r\nx\r\nEND\r\n`);
      }
    } finally {
      const supervisor = proxy.pid;
      const pids = await workerPids(supervisor);
      Deno.kill(supervisor, "SIGTERM");
      await proxy.child.status;
      for (const pid of pids) {
        assert.throws(() => Deno.kill(pid, "SIGCONT"), "a worker outlived its supervisor");
      }
      await proxy.stop();
      await mc.stop();
    }
  },
);

Deno.test("with --workers, a dead server is ejected by every worker", async () => {
  const dead = freePort();
  const port = freePort();
  const proxy = await startTsproxy(
    `p:\n  listen: 127.0.0.1:${port}\n  auto_eject_hosts: true\n  server_failure_limit: 1\n` +
      `  server_retry_timeout: 60000\n  servers:\n   - 127.0.0.1:${dead}:1 gone\n`,
    [port],
    ["--workers=2"],
  );
  try {
    // Until both workers have ejected it, some connections still get "refused" from a connect attempt.
    for (let i = 0; i < 200; i++) {
      await oneShot(port, "get k\r\n");
      const pool = (await readStats(proxy.statsPort)).p as PoolStats;
      if (pool.server_ejects === 2) break;
    }
    const pool = (await readStats(proxy.statsPort)).p as PoolStats;
    assert.equal(pool.server_ejects, 2);
    assert.equal(pool.gone.server_err, 2);
    assert.ok(pool.gone.server_ejected_at > 0);
  } finally {
    await proxy.stop();
  }
});

Deno.test({
  name:
    "with --workers, the supervisor's /metrics sums the workers and names each process; SIGTERM drains them all and exits 0",
  ...needsPromParser(),
  async fn() {
    const fake = await FakeMemcached.start();
    const port = freePort(), adminPort = freePort();
    const pidFile = `${Deno.makeTempDirSync({ prefix: "tsproxy-workers-" })}/tsproxy.pid`;
    const proxy = await startTsproxy(
      `p:\n  listen: 127.0.0.1:${port}\n  servers:\n   - ${fake.address}:1 m\n`,
      [port, adminPort],
      ["--workers=2", `--admin-port=${adminPort}`, "-p", pidFile],
    );
    const admin = `http://127.0.0.1:${adminPort}`;
    let w: Wire | null = null;
    try {
      let ready = "";
      for (let i = 0; i < 100 && !ready.startsWith("200"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        const res = await fetch(`${admin}/ready`);
        ready = `${res.status} ${await res.text()}`;
      }
      assert.equal(ready, "200 ready\n", "both workers listen");
      for (let i = 0; i < 20; i++) assert.equal(await oneShot(port, "get k\r\n"), "END\r\n");
      const families = await parseExposition(await (await fetch(`${admin}/metrics`)).text());
      assert.equal(valueOf(families, "tsproxy_pool_commands_total", { pool: "p", command: "get" }), 20);
      assert.equal(valueOf(families, "tsproxy_request_duration_seconds_count", { pool: "p" }), 20);
      assert.equal(valueOf(families, "tsproxy_processes_listening"), 2);
      const processes = families.find((f) => f.name === "process_resident_memory_bytes")!.samples
        .map((s) => s.labels.process).sort();
      assert.deepEqual(processes, ["supervisor", "worker-0", "worker-1"]);

      // A request in flight on a slow server when SIGTERM comes is answered before the exit.
      fake.faults.set({ mode: "delay", ms: 1000 });
      w = await Wire.connect(port);
      const before = fake.stats.requests;
      await w.send("get slow\r\n");
      for (let i = 0; i < 200 && fake.stats.requests === before; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      proxy.child.kill("SIGTERM");
      const r = await w.replies(new MemcacheReplyParser(), 1, 10000);
      assert.equal(new TextDecoder().decode(r.replies[0]), "END\r\n");
      assert.equal((await proxy.child.status).code, 0);
      assert.deepEqual(await workerPids(proxy.pid), [], "no worker is left");
      assert.throws(() => Deno.statSync(pidFile), "the pid file is removed");
    } finally {
      w?.close();
      await proxy.stop();
      await fake.close();
    }
  },
});

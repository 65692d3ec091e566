import assert from "assert";
import { freePort, type Proc, startRedis } from "../../harness/procs.ts";
import { checkReplica, infoFields } from "../../src/ha/replica_check.ts";
import { needs } from "../support/needs.ts";

/** Polls `check` every 50 ms until it returns `want` (then true) or `timeoutMs` passed (then false). */
async function eventually<T>(check: () => Promise<T>, want: T, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check() === want) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

Deno.test("INFO fields: key:value lines, headers left out, values keep their colons", () => {
  const f = infoFields(
    "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nslave0:ip=::1,port=1\r\n\r\n",
  );
  assert.deepEqual([...f], [["role", "slave"], ["master_host", "127.0.0.1"], ["slave0", "ip=::1,port=1"]]);
});

Deno.test(
  "checkReplica: in sync, a master, a closed port, a wrong password, a replica whose master died",
  needs("redis-server"),
  async (t) => {
    const dir = Deno.makeTempDirSync({ prefix: "replica-check-" });
    const procs: Proc[] = [];
    // A replica writes the master's RDB to its dir; no diskless-sync delay so the link comes up at once.
    const redis = async (name: string, args: string[]) => {
      Deno.mkdirSync(`${dir}/${name}`);
      const p = await startRedis(undefined, [
        "--dir",
        `${dir}/${name}`,
        "--repl-diskless-sync-delay",
        "0",
        ...args,
      ]);
      procs.push(p);
      return p;
    };
    try {
      const master = await redis("master", []);
      const replica = await redis("replica", ["--replicaof", "127.0.0.1", String(master.port)]);
      const guarded = await redis("guarded", [
        "--replicaof",
        "127.0.0.1",
        String(master.port),
        "--requirepass",
        "pw",
      ]);

      await t.step("a replica with its link up is in sync (with AUTH when it has a password)", async () => {
        assert.ok(
          await eventually(() => checkReplica("127.0.0.1", replica.port, null, 1000), "in-sync", 10_000),
        );
        assert.ok(
          await eventually(() => checkReplica("127.0.0.1", guarded.port, "pw", 1000), "in-sync", 10_000),
        );
      });
      await t.step("a master is out of sync (not a replica)", async () => {
        assert.equal(await checkReplica("127.0.0.1", master.port, null, 1000), "out-of-sync");
      });
      await t.step("a closed port, a missing or wrong password are unreachable", async () => {
        assert.equal(await checkReplica("127.0.0.1", freePort(), null, 1000), "unreachable");
        assert.equal(await checkReplica("127.0.0.1", guarded.port, null, 1000), "unreachable");
        assert.equal(await checkReplica("127.0.0.1", guarded.port, "wrong", 1000), "unreachable");
      });
      await t.step("a server that never answers is unreachable after the timeout", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const accepted = listener.accept();
        const started = performance.now();
        const health = await checkReplica("127.0.0.1", (listener.addr as Deno.NetAddr).port, null, 300);
        const waited = performance.now() - started;
        (await accepted).close();
        listener.close();
        assert.equal(health, "unreachable");
        assert.ok(waited >= 290 && waited < 2000, `waited ${waited} ms`);
      });
      await t.step("a replica whose master was killed is out of sync (master_link_status:down)", async () => {
        await master.stop();
        assert.ok(
          await eventually(() => checkReplica("127.0.0.1", replica.port, null, 1000), "out-of-sync", 10_000),
        );
      });
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

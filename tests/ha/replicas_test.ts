/**
 * Reads from replicas listed in the configuration (`replicas:`, `read_from:`), with real
 * redis-server masters and replicas behind a tsproxy process: reads are counted on the replicas,
 * writes never reach them, and a replica out of sync or down is not read from.
 */
import assert from "assert";
import { freePort, type ProxyProc, readStats, startRedis, startTsproxy } from "../../harness/procs.ts";
import { ask, askDirect, cmd, R, sleep, withClient } from "../../harness/redis_lab.ts";
import { callsOf, caughtUp, infoOf } from "../../harness/sentinel_lab.ts";
import { needs } from "../support/needs.ts";

type Redis = Awaited<ReturnType<typeof startRedis>>;

async function until(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Two masters with a replica each, the replicas in sync. */
async function withReplicated(fn: (masters: Redis[], replicas: Redis[]) => Promise<void>): Promise<void> {
  const masters: Redis[] = [];
  const replicas: Redis[] = [];
  try {
    for (let i = 0; i < 2; i++) masters.push(await startRedis());
    for (const m of masters) {
      // Loaded straight from the socket: a replica would otherwise write the master's RDB in the cwd.
      replicas.push(
        await startRedis(freePort(), [
          "--replicaof",
          "127.0.0.1",
          `${m.port}`,
          "--repl-diskless-load",
          "swapdb",
        ]),
      );
    }
    for (const r of replicas) {
      await until(
        "replication",
        async () => (await infoOf(r.port, "replication")).get("master_link_status") === "up",
      );
    }
    await fn(masters, replicas);
  } finally {
    for (const p of [...replicas, ...masters]) await p.stop();
  }
}

function poolYaml(
  port: number,
  masters: Redis[],
  replicas: Redis[],
  readFrom: string,
  pollMs: number,
): string {
  return [
    "ha:",
    `  listen: 127.0.0.1:${port}`,
    "  redis: true",
    `  read_from: ${readFrom}`,
    `  sentinel_poll_interval: ${pollMs}`,
    "  server_retry_timeout: 60000",
    "  servers:",
    ...masters.map((m, i) => `    - 127.0.0.1:${m.port}:1 s${i + 1}`),
    "  replicas:",
    ...replicas.map((r, i) => `    - 127.0.0.1:${r.port}:1 s${i + 1}`),
    "",
  ].join("\n");
}

async function withProxy(
  masters: Redis[],
  replicas: Redis[],
  readFrom: string,
  fn: (port: number, proxy: ProxyProc) => Promise<void>,
  pollMs = 100,
): Promise<void> {
  const port = freePort();
  const proxy = await startTsproxy(poolYaml(port, masters, replicas, readFrom, pollMs), [port]);
  try {
    await until("the replicas checked in sync", async () => {
      const pool = (await readStats(proxy.statsPort)).ha as Record<string, Record<string, number>>;
      return pool.s1.replicas_in_sync === 1 && pool.s2.replicas_in_sync === 1;
    });
    await fn(port, proxy);
  } finally {
    await proxy.stop();
  }
}

/** Waits until every replica has applied everything its master has. */
function replicated(masters: Redis[], replicas: Redis[]): Promise<void> {
  return caughtUp(masters.map((m) => m.port), replicas.map((r) => r.port));
}

const KEYS = Array.from({ length: 100 }, (_, i) => `key:${i}`);

Deno.test({
  ...needs("redis-server"),
  name: "read_from replica: reads are served by the replicas (counted on them), writes only by the masters",
  async fn() {
    await withReplicated(async (masters, replicas) => {
      await withProxy(masters, replicas, "replica", async (port) => {
        await withClient(port, async (wire) => {
          const sets = await ask(wire, KEYS.map((k) => cmd("SET", k, `v-${k}`)));
          assert.deepEqual(sets.replies, KEYS.map(() => R.ok));
          await replicated(masters, replicas);
          // Beside them, clients that send garbage and that leave in the middle of a GET: the replicas'
          // shared connections serve the checking client byte for byte all the same.
          const bad = withClient(port, async (w) => {
            await w.send("*2\r\n$3\r\nGET\r\n$-abc\r\n");
            return (await ask(w, [], 1)).replies[0];
          });
          await withClient(port, (w) => w.send("*2\r\n$3\r\nGET\r\n$10\r\nkey:"));
          const gets = await ask(wire, KEYS.map((k) => cmd("GET", k)));
          assert.deepEqual(gets.replies, KEYS.map((k) => R.bulk(`v-${k}`)));
          assert.match(await bad, /^-ERR Protocol error/);
          const mget = await ask(wire, cmd("MGET", ...KEYS.slice(0, 10)));
          assert.deepEqual(mget.replies, [R.bulks(...KEYS.slice(0, 10).map((k) => `v-${k}`))]);
        });
        let replicaGets = 0;
        for (let i = 0; i < 2; i++) {
          assert.equal(await callsOf(masters[i].port, "get"), 0, "a master served a read");
          assert.equal(await callsOf(masters[i].port, "mget"), 0, "a master served a read");
          replicaGets += await callsOf(replicas[i].port, "get");
          // The replica applied its master's writes and no other: a write sent to it would show here.
          assert.equal(await callsOf(replicas[i].port, "set"), await callsOf(masters[i].port, "set"));
          assert.ok(await callsOf(replicas[i].port, "get") > 0, `replica ${i + 1} served no read`);
        }
        assert.equal(replicaGets, KEYS.length);
      });
    });
  },
});

Deno.test({
  ...needs("redis-server"),
  name:
    "read_from replica: a replica out of sync is not read from: reads of its server fail, none reaches the master",
  async fn() {
    await withReplicated(async (masters, replicas) => {
      await withProxy(masters, replicas, "replica", async (port, proxy) => {
        const key = "{a}one"; // any key: its server is found below
        await withClient(port, (wire) => ask(wire, cmd("SET", key, "1")));
        await replicated(masters, replicas);
        const owner = (await callsOf(masters[0].port, "set")) === 1 ? 0 : 1;
        // Its replica loses its master: master_link_status goes down.
        await askDirect(replicas[owner].port, [cmd("REPLICAOF", "127.0.0.1", `${freePort()}`)]);
        await until("the replica seen out of sync", async () => {
          const pool = (await readStats(proxy.statsPort)).ha as Record<string, Record<string, number>>;
          return pool[`s${owner + 1}`].replicas_in_sync === 0;
        });
        const before = await callsOf(replicas[owner].port, "get");
        const got = await withClient(port, (wire) => ask(wire, cmd("GET", key)));
        assert.deepEqual(got.replies, [R.err("ERR no replica available")]);
        assert.equal(await callsOf(replicas[owner].port, "get"), before);
        assert.equal(await callsOf(masters[owner].port, "get"), 0);
      });
    });
  },
});

Deno.test({
  ...needs("redis-server"),
  name: "read_from prefer-replica: reads fall back to the master when the replica is out of sync or down",
  async fn() {
    await withReplicated(async (masters, replicas) => {
      await withProxy(masters, replicas, "prefer-replica", async (port, proxy) => {
        await withClient(port, (wire) => ask(wire, KEYS.map((k) => cmd("SET", k, "v"))));
        await replicated(masters, replicas);
        // Replica 1 out of sync, replica 2 gone.
        await askDirect(replicas[0].port, [cmd("REPLICAOF", "127.0.0.1", `${freePort()}`)]);
        await replicas[1].stop();
        await until("replica 1 seen out of sync", async () => {
          const pool = (await readStats(proxy.statsPort)).ha as Record<string, Record<string, number>>;
          return pool.s1.replicas_in_sync === 0 && pool.s2.replicas_in_sync === 0;
        });
        const gets = await withClient(port, (wire) => ask(wire, KEYS.map((k) => cmd("GET", k))));
        assert.deepEqual(gets.replies, KEYS.map(() => R.bulk("v")));
        assert.equal(
          (await callsOf(masters[0].port, "get")) + (await callsOf(masters[1].port, "get")),
          KEYS.length,
        );
      });
    });
  },
});

Deno.test({
  ...needs("redis-server"),
  name: "read_from prefer-replica: a replica whose connections fail is ejected after server_failure_limit " +
    "failures and its reads go to the master",
  async fn() {
    await withReplicated(async (masters, replicas) => {
      await withProxy(masters, replicas, "prefer-replica", async (port, proxy) => {
        await withClient(port, (wire) => ask(wire, cmd("SET", "one", "1")));
        await replicated(masters, replicas);
        const owner = (await callsOf(masters[0].port, "set")) === 1 ? 0 : 1;
        await replicas[owner].stop(); // no check runs before the minute is up: only failures tell
        const replies: string[] = [];
        for (let i = 0; i < 4; i++) {
          replies.push(...(await withClient(port, (wire) => ask(wire, cmd("GET", "one")))).replies);
        }
        assert.deepEqual(replies, [
          R.err("ERR Connection refused"),
          R.err("ERR Connection refused"),
          R.bulk("1"),
          R.bulk("1"),
        ]);
        assert.equal(await callsOf(masters[owner].port, "get"), 2);
        assert.match(
          proxy.stderr(),
          new RegExp(
            `replica '127\\.0\\.0\\.1:${replicas[owner].port}:1' of server 's${
              owner + 1
            }' of pool ha ejected`,
          ),
        );
      }, 60_000);
    });
  },
});

/**
 * Live reload in the proxy core: what a new configuration keeps (listeners, clients, server
 * connections, ejection state), what it replaces, and that keys land where a fresh start with the
 * new configuration puts them.
 */
import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import { freePort } from "../../harness/procs.ts";
import { Wire } from "../../harness/wire.ts";
import { parseConfig } from "../../src/config/load.ts";
import { Pool, type Server } from "../../src/core/pool.ts";
import { describeChanges } from "../../src/core/reload.ts";
import { protocolFor } from "../../src/protocol/index.ts";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import { type InProcess, until, withInProcess } from "../support/inproc.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = (s: string) => new TextEncoder().encode(s);
/** Server connections end with their fakes, after the test body: the sanitizers would see them. */
const loose = { sanitizeOps: false, sanitizeResources: false };

/** A memcache pool `name` on `port` over `servers` (YAML server entries). */
function mcPool(name: string, port: number, servers: string[], extra = ""): string {
  return `${name}:\n  listen: 127.0.0.1:${port}\n${extra}  servers:\n${
    servers.map((s) => `   - ${s}\n`).join("")
  }`;
}

async function exchange(w: Wire, request: string, n: number): Promise<string[]> {
  await w.send(request);
  const r = await w.replies(new MemcacheReplyParser(), n, 5000);
  assert.equal(r.replies.length, n, `${n} replies to ${JSON.stringify(request.slice(0, 60))}`);
  return r.replies.map(text);
}

/** The server name a fresh start with `yaml` gives each key of pool `pool`. */
async function freshPlacement(yaml: string, pool: string, keys: string[]): Promise<string[]> {
  const pc = (await parseConfig(yaml, "fresh.yml")).pools.find((p) => p.name === pool)!;
  const fresh = new Pool(pc, protocolFor(pc, 16384), 16384);
  return keys.map((k) => pc.servers[fresh.route(enc(k), 0, k.length)].name);
}

/** Which fake holds each key, read from the backends themselves ("" for none). */
async function heldBy(fakes: Map<string, FakeMemcached>, keys: string[]): Promise<string[]> {
  const owners: string[] = keys.map(() => "");
  for (const [name, fake] of fakes) {
    const w = await Wire.connect(fake.port);
    const replies = await exchange(w, keys.map((k) => `get ${k}\r\n`).join(""), keys.length);
    replies.forEach((r, i) => {
      if (r.startsWith("VALUE")) owners[i] += owners[i] === "" ? name : `+${name}`;
    });
    // The next step starts empty.
    await exchange(w, keys.map((k) => `delete ${k}\r\n`).join(""), keys.length);
    w.close();
  }
  return owners;
}

async function startFakes(names: string[]): Promise<Map<string, FakeMemcached>> {
  const fakes = new Map<string, FakeMemcached>();
  for (const name of names) fakes.set(name, await FakeMemcached.start());
  return fakes;
}

async function closeFakes(fakes: Map<string, FakeMemcached>): Promise<void> {
  for (const f of fakes.values()) await f.close();
}

const server = (pool: Pool, name: string): Server => pool.servers.find((s) => s.config.name === name)!;

Deno.test({
  name:
    "servers added, removed and reweighted: keys land where a fresh start puts them; the client and kept servers' connections stay",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a", "b", "c", "d"]);
    const entry = (name: string, weight = 1) => `${fakes.get(name)!.address}:${weight} ${name}`;
    const port = freePort();
    const keys = Array.from({ length: 80 }, (_, i) => `key${i}`);
    const sets = keys.map((k) => `set ${k} 0 0 1\r\nx\r\n`).join("");
    try {
      await withInProcess(
        mcPool("mc", port, [entry("a"), entry("b"), entry("c")]),
        {},
        async (proxy: InProcess) => {
          const client = await Wire.connect(port);
          await exchange(client, sets, keys.length);
          const pool = proxy.pools[0];
          const kept = server(pool, "a").connections[0];
          assert.ok(kept !== undefined);
          const steps: [string[], string][] = [
            [[entry("a"), entry("b"), entry("c"), entry("d")], "servers added: mc/d"],
            [[entry("a"), entry("c"), entry("d")], "servers removed: mc/b"],
            [[entry("a", 3), entry("c"), entry("d", 2)], "servers changed: mc/a, mc/d"],
          ];
          await heldBy(fakes, keys);
          for (const [servers, summary] of steps) {
            const yaml = mcPool("mc", port, servers);
            assert.equal(describeChanges(await proxy.reload(yaml)), `pools changed: mc; ${summary}`);
            await exchange(client, sets, keys.length);
            assert.deepEqual(await heldBy(fakes, keys), await freshPlacement(yaml, "mc", keys));
          }
          assert.equal(proxy.pools[0], pool, "the pool (its listener, clients and stats) is kept");
          assert.equal(server(pool, "a").connections[0], kept, "a kept server keeps its connection");
          assert.equal(server(pool, "a").config.weight, 3);
          assert.deepEqual(
            await exchange(client, "get key1\r\n", 1),
            ["END\r\n"],
            "the client is still served",
          );
          client.close();
        },
      );
    } finally {
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name: "a hash change moves keys to where a fresh start with the new hash puts them",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a", "b", "c"]);
    const servers = [...fakes.entries()].map(([name, f]) => `${f.address}:1 ${name}`);
    const port = freePort();
    const keys = Array.from({ length: 80 }, (_, i) => `user:${i}`);
    try {
      await withInProcess(mcPool("mc", port, servers), {}, async (proxy) => {
        const yaml = mcPool("mc", port, servers, "  hash: murmur\n  distribution: modula\n");
        assert.equal(describeChanges(await proxy.reload(yaml)), "pools changed: mc");
        const client = await Wire.connect(port);
        await exchange(client, keys.map((k) => `set ${k} 0 0 1\r\nx\r\n`).join(""), keys.length);
        client.close();
        assert.deepEqual(await heldBy(fakes, keys), await freshPlacement(yaml, "mc", keys));
      });
    } finally {
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name:
    "a removed server answers the requests already sent on it, then its connection closes; no new request reaches it",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a", "b"]);
    const [a, b] = [fakes.get("a")!, fakes.get("b")!];
    const port = freePort();
    try {
      await withInProcess(mcPool("mc", port, [`${b.address}:1 b`]), {}, async (proxy) => {
        const client = await Wire.connect(port);
        await exchange(client, "set k 0 0 1\r\nx\r\n", 1);
        b.faults.set({ mode: "delay", ms: 400 });
        await client.send("get k\r\n");
        await until(() => b.stats.requests === 2, "the get to reach b");
        const leaving = server(proxy.pools[0], "b");
        await proxy.reload(mcPool("mc", port, [`${a.address}:1 a`]));
        const [reply] = (await client.replies(new MemcacheReplyParser(), 1, 5000)).replies.map(text);
        assert.equal(reply, "VALUE k 0 1\r\nx\r\nEND\r\n", "answered by the server it was sent to");
        await until(() => leaving.connections.length === 0, "the removed server's connection to close");
        assert.deepEqual(await exchange(client, "get k\r\n", 1), ["END\r\n"], "now routed to a");
        assert.equal(b.stats.requests, 2, "nothing more reached b");
        assert.equal(leaving.stats.server_err + leaving.stats.server_eof, 0, "a clean close, not a failure");
        client.close();
      });
    } finally {
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name: "an ejected server that stays is still ejected after a reload, and its retry time is kept",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a", "b", "c"]);
    const [entryA, entryB, entryC] = [...fakes.entries()].map(([name, f]) => `${f.address}:1 ${name}`);
    const entries = [entryA, entryB];
    const port = freePort();
    const eject = "  auto_eject_hosts: true\n  server_failure_limit: 1\n  server_retry_timeout: 60000\n";
    try {
      await withInProcess(mcPool("mc", port, entries, eject), {}, async (proxy) => {
        const pool = proxy.pools[0];
        await fakes.get("a")!.refuse();
        const client = await Wire.connect(port);
        // Keys until one lands on a: its connect fails and a is ejected.
        for (let i = 0; i < 40 && !server(pool, "a").ejected; i++) await exchange(client, `get k${i}\r\n`, 1);
        const retryAt = server(pool, "a").retryAt;
        assert.ok(retryAt > 0, "a is ejected");
        await proxy.reload(mcPool("mc", port, [...entries, entryC], eject));
        assert.equal(server(pool, "a").retryAt, retryAt);
        for (let i = 0; i < 40; i++) {
          assert.doesNotMatch((await exchange(client, `get k${i}\r\n`, 1))[0], /ERROR/);
        }
        client.close();
      });
    } finally {
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name:
    "a pool added listens, a pool removed stops accepting and its client is closed once answered; a pool that stays keeps its client",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a"]);
    const a = fakes.get("a")!;
    const [keep, gone, added] = [freePort(), freePort(), freePort()];
    const entry = `${a.address}:1 a`;
    try {
      await withInProcess(
        mcPool("keep", keep, [entry]) + mcPool("gone", gone, [entry]),
        {},
        async (proxy) => {
          const kept = await Wire.connect(keep);
          const leaving = await Wire.connect(gone);
          a.faults.set({ mode: "delay", ms: 300 });
          await leaving.send("get slow\r\n");
          await until(() => a.stats.requests === 1, "the request to reach the server");
          const changes = await proxy.reload(mcPool("keep", keep, [entry]) + mcPool("added", added, [entry]));
          assert.equal(describeChanges(changes), "pools added: added; pools removed: gone");
          a.faults.clear();
          await assert.rejects(
            Deno.connect({ hostname: "127.0.0.1", port: gone }),
            "the removed pool's port is closed",
          );
          assert.equal(
            text((await leaving.replies(new MemcacheReplyParser(), 1, 5000)).replies[0]),
            "END\r\n",
          );
          assert.equal((await leaving.drain(3000)).closed, true, "closed once answered");
          assert.deepEqual(await exchange(kept, "get x\r\n", 1), ["END\r\n"]);
          const fresh = await Wire.connect(added);
          assert.deepEqual(await exchange(fresh, "get x\r\n", 1), ["END\r\n"]);
          assert.deepEqual(proxy.pools.map((p) => p.config.name), ["keep", "added"]);
          for (const w of [kept, leaving, fresh]) w.close();
        },
      );
    } finally {
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name: "a new pool whose address is taken refuses the whole reload: nothing changes",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a", "b"]);
    const [a, b] = [fakes.get("a")!, fakes.get("b")!];
    const port = freePort();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const takenPort = (taken.addr as Deno.NetAddr).port;
    try {
      await withInProcess(mcPool("mc", port, [`${a.address}:1 a`]), {}, async (proxy) => {
        const before = proxy.pools[0].servers;
        await assert.rejects(
          proxy.reload(
            mcPool("mc", port, [`${b.address}:1 b`]) + mcPool("new", takenPort, [`${b.address}:1 b`]),
          ),
          /bind on p to addr '127\.0\.0\.1:\d+' failed/,
        );
        assert.equal(proxy.pools.length, 1);
        assert.equal(proxy.pools[0].servers, before, "the old servers still serve");
      });
    } finally {
      taken.close();
      await closeFakes(fakes);
    }
  },
});

Deno.test({
  name: "a new timeout holds for the next requests on connections kept from before the reload",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a"]);
    const a = fakes.get("a")!;
    const port = freePort();
    const entry = `${a.address}:1 a`;
    try {
      await withInProcess(mcPool("mc", port, [entry]), {}, async (proxy) => {
        const client = await Wire.connect(port);
        await exchange(client, "get x\r\n", 1);
        const conn = server(proxy.pools[0], "a").connections[0];
        await proxy.reload(mcPool("mc", port, [entry], "  timeout: 100\n"));
        assert.equal(server(proxy.pools[0], "a").connections[0], conn, "same connection");
        a.faults.set({ mode: "silent" });
        assert.deepEqual(await exchange(client, "get x\r\n", 1), ["SERVER_ERROR Connection timed out\r\n"]);
        client.close();
      });
    } finally {
      await closeFakes(fakes);
    }
  },
});

/** A RESP command. */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`;
}

Deno.test({
  name:
    "reloads under pipelined redis load (SET, GET, MGET over moving servers): no error reply, no reply crossed, no client dropped",
  ...loose,
  async fn() {
    const fakes = new Map<string, FakeRedis>();
    for (const name of ["a", "b", "c", "d"]) fakes.set(name, await FakeRedis.start());
    const entry = (name: string, weight = 1) => `${fakes.get(name)!.address}:${weight} ${name}`;
    const port = freePort();
    const pool = (servers: string[], extra = "") =>
      `rd:\n  listen: 127.0.0.1:${port}\n  redis: true\n${extra}  servers:\n${
        servers.map((s) => `   - ${s}\n`).join("")
      }`;
    const configs = [
      pool([entry("a"), entry("b"), entry("c"), entry("d")]),
      pool([entry("a"), entry("c"), entry("d")]),
      pool([entry("a", 2), entry("c"), entry("d", 3)], "  hash: murmur\n"),
      pool([entry("b"), entry("c")], '  hash_tag: "{}"\n'),
    ];
    try {
      await withInProcess(pool([entry("a"), entry("b"), entry("c")]), {}, async (proxy) => {
        let stop = false;
        const problems: string[] = [];
        let served = 0;
        const client = async (id: number) => {
          const w = await Wire.connect(port);
          const parser = new RedisReplyParser();
          for (let round = 0; !stop; round++) {
            const keys = Array.from({ length: 8 }, (_, i) => `c${id}:k${(round * 8 + i) % 64}`);
            const req = keys.map((k) => resp("SET", k, `v-${k}`)).join("") +
              keys.map((k) => resp("GET", k)).join("") + resp("MGET", ...keys);
            await w.send(req);
            const r = await w.replies(parser, keys.length * 2 + 1, 5000);
            if (r.closed || r.replies.length !== keys.length * 2 + 1) {
              problems.push(`client ${id} got ${r.replies.length} replies${r.closed ? ", closed" : ""}`);
              return;
            }
            const replies = r.replies.map(text);
            served += replies.length;
            for (const reply of replies) if (reply.startsWith("-")) problems.push(`error: ${reply.trim()}`);
            keys.forEach((k, i) => {
              const got = replies[keys.length + i];
              // A nil is a key that moved between its SET and its GET (a reload between two reads).
              if (got !== `$${`v-${k}`.length}\r\nv-${k}\r\n` && got !== "$-1\r\n") {
                problems.push(`GET ${k} -> ${JSON.stringify(got)}`);
              }
            });
            for (const value of replies.at(-1)!.matchAll(/v-(c\d+:k\d+)/g)) {
              if (!keys.includes(value[1])) problems.push(`MGET crossed: ${value[1]}`);
            }
          }
          w.close();
        };
        const clients = [0, 1, 2, 3].map(client);
        for (const yaml of configs) {
          await new Promise((r) => setTimeout(r, 150));
          await proxy.reload(yaml);
        }
        await new Promise((r) => setTimeout(r, 150));
        stop = true;
        await Promise.all(clients);
        assert.deepEqual(problems.slice(0, 5), []);
        assert.ok(served > 0);
      });
    } finally {
      for (const f of fakes.values()) await f.close();
    }
  },
});

Deno.test({
  name: "a pool renamed (or of another protocol) on the same address is served again at once by its new self",
  ...loose,
  async fn() {
    const fakes = await startFakes(["a"]);
    const entry = `${fakes.get("a")!.address}:1 a`;
    const port = freePort();
    try {
      await withInProcess(mcPool("old", port, [entry]), {}, async (proxy) => {
        const before = await Wire.connect(port);
        const changes = await proxy.reload(mcPool("new", port, [entry]));
        assert.equal(describeChanges(changes), "pools added: new; pools removed: old");
        const after = await Wire.connect(port);
        assert.deepEqual(await exchange(after, "get x\r\n", 1), ["END\r\n"]);
        assert.deepEqual(proxy.pools.map((p) => p.config.name), ["new"]);
        await proxy.reload(
          `new:\n  listen: 127.0.0.1:${port}\n  redis: true\n  servers:\n   - ${entry}\n`,
        );
        const redis = await Wire.connect(port);
        await redis.send("*1\r\n$4\r\nPING\r\n");
        assert.equal(text((await redis.replies(new RedisReplyParser(), 1, 5000)).replies[0]), "+PONG\r\n");
        for (const w of [before, after, redis]) w.close();
      });
    } finally {
      await closeFakes(fakes);
    }
  },
});

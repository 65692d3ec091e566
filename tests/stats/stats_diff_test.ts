import assert from "assert";
import { MemcacheReplyParser } from "../../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../../src/protocol/redis/reply_parser.ts";
import {
  freePort,
  type Proc,
  readStatsText,
  startMemcached,
  startNutcracker,
  startRedis,
  startTsproxy,
} from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { Wire } from "../../harness/wire.ts";

/** A sample scenario: one memcache client and one redis client, still connected. */
async function traffic(mcPort: number, redisPort: number): Promise<Wire[]> {
  const mc = await Wire.connect(mcPort);
  await mc.send("set k1 0 0 2\r\nv1\r\nget k1 k2 bar\r\n");
  assert.equal((await mc.replies(new MemcacheReplyParser(), 2)).replies.length, 2);
  const rd = await Wire.connect(redisPort);
  await rd.send("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n");
  assert.equal((await rd.replies(new RedisReplyParser(), 2)).replies.length, 2);
  return [mc, rd];
}

/** Values that legitimately differ between two runs: time, and fragments (counted by tsproxy only). */
function normalize(doc: string): string {
  return doc.replace(/"(uptime|timestamp|fragments)":\d+/g, '"$1":N');
}

Deno.test(
  "stats port serves nutcracker's document byte for byte (layout, order, counters) for the same traffic",
  needs("nutcracker", "memcached", "redis-server"),
  async () => {
    const started: Proc[] = [];
    const wires: Wire[] = [];
    try {
      const run = async (start: typeof startNutcracker) => {
        const mc1 = await startMemcached(), mc2 = await startMemcached(), rs = await startRedis();
        started.push(mc1, mc2, rs);
        const mcPort = freePort(), redisPort = freePort();
        // Server names fixed so both proxies place keys alike whatever the ports.
        const yaml = `alpha:\n  listen: 127.0.0.1:${mcPort}\n  servers:\n` +
          `   - 127.0.0.1:${mc1.port}:1 s31211\n   - 127.0.0.1:${mc2.port}:1 s31212\n` +
          `beta:\n  listen: 127.0.0.1:${redisPort}\n  redis: true\n  servers:\n   - 127.0.0.1:${rs.port}:1 redis1\n`;
        const proxy = await start(yaml, [mcPort, redisPort], ["-i", "100"]);
        started.push(proxy);
        wires.push(...await traffic(mcPort, redisPort));
        await new Promise((r) => setTimeout(r, 400)); // nutcracker hands counters over every -i ms
        return await readStatsText(proxy.statsPort);
      };
      const nc = await run(startNutcracker);
      const ts = await run(startTsproxy);
      assert.ok(ts.endsWith("}}}\n"));
      assert.equal(normalize(ts), normalize(nc));
      assert.match(ts, /"alpha": \{[^{]*"fragments":1, /);
    } finally {
      for (const w of wires) w.close();
      for (const p of started.reverse()) await p.stop();
    }
  },
);

/** A client's counters after it quits: the pool part of the stats document. */
async function afterQuit(start: typeof startNutcracker, started: Proc[]): Promise<string> {
  const mc = await startMemcached(), rs = await startRedis();
  started.push(mc, rs);
  const mcPort = freePort(), redisPort = freePort();
  const yaml = `alpha:\n  listen: 127.0.0.1:${mcPort}\n  servers:\n   - 127.0.0.1:${mc.port}:1 m1\n` +
    `beta:\n  listen: 127.0.0.1:${redisPort}\n  redis: true\n  servers:\n   - 127.0.0.1:${rs.port}:1 r1\n`;
  const proxy = await start(yaml, [mcPort, redisPort], ["-i", "100"]);
  started.push(proxy);
  const quit = async (port: number, bytes: string) => {
    const w = await Wire.connect(port);
    await w.send(bytes);
    assert.equal((await w.drain(3000)).closed, true, `${bytes} closes the client`);
    w.close();
  };
  await quit(mcPort, "quit\r\n");
  await quit(redisPort, "*1\r\n$4\r\nQUIT\r\n");
  await new Promise((r) => setTimeout(r, 400)); // nutcracker hands counters over every -i ms
  const doc = await readStatsText(proxy.statsPort);
  return [...doc.matchAll(/"(alpha|beta)": \{"client_eof":\d+, "client_err":\d+, "client_connections":\d+/g)]
    .map((m) => m[0]).join("\n");
}

Deno.test(
  "a client that quits (memcache quit, redis QUIT) counts one client_eof and no client_err, as in nutcracker",
  needs("nutcracker", "memcached", "redis-server"),
  async () => {
    const started: Proc[] = [];
    try {
      const nc = await afterQuit(startNutcracker, started);
      const ts = await afterQuit(startTsproxy, started);
      assert.equal(ts, nc);
      // One eof for the port probe that waited for the pool to listen, one for the quit.
      assert.match(ts, /"beta": \{"client_eof":2, "client_err":0, "client_connections":0/);
    } finally {
      for (const p of started.reverse()) await p.stop();
    }
  },
);

/**
 * `deno task start`: tsproxy on conf/demo.yml in front of backends it starts itself: real memcached
 * and redis-server when installed, else the in-process fakes from harness/. Ctrl-C stops everything.
 */
import { FakeMemcached } from "../harness/fake_memcached.ts";
import { FakeRedis } from "../harness/fake_redis.ts";
import { loadConfig } from "./config/load.ts";
import type { ServerConfig } from "./config/types.ts";
import { createPools, startProxy } from "./core/proxy.ts";
import { setupLog } from "./log.ts";
import { takeSnapshot } from "./stats/snapshot.ts";
import { serveStats } from "./stats/stats_server.ts";

const CONF = new URL("../conf/demo.yml", import.meta.url).pathname;
const STATS_PORT = 22222;

/** A backend the demo started, and how to stop it. */
interface Backend {
  what: string;
  stop(): Promise<void>;
}

function installed(bin: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${bin}`], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false; // no shell to ask: use the in-process fakes
  }
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`backend on port ${port} did not start`);
}

async function startProcess(what: string, cmd: string, args: string[], port: number): Promise<Backend> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  await waitPort(port);
  return {
    what: `${what} (pid ${child.pid})`,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

async function startBackend(server: ServerConfig, redis: boolean): Promise<Backend> {
  const port = server.port;
  const host = server.host;
  if (redis && installed("redis-server")) {
    const args = ["--port", String(port), "--bind", host, "--save", "", "--appendonly", "no"];
    return await startProcess(`redis-server ${host}:${port}`, "redis-server", args, port);
  }
  if (!redis && installed("memcached")) {
    const args = [
      "-l",
      host,
      "-p",
      String(port),
      "-U",
      "0",
      "-m",
      "64",
      ...(Deno.uid() === 0 ? ["-u", "root"] : []),
    ];
    return await startProcess(`memcached ${host}:${port}`, "memcached", args, port);
  }
  const fake = redis ? await FakeRedis.start({ host, port }) : await FakeMemcached.start({ host, port });
  return {
    what: `in-process fake ${redis ? "redis" : "memcached"} ${host}:${port}`,
    stop: () => fake.close(),
  };
}

const config = await loadConfig(CONF);
setupLog(5, null);
const backends: Backend[] = [];
const stopAll = async () => {
  await Promise.all(backends.map((b) => b.stop().catch(() => {})));
};
try {
  for (const pool of config.pools) {
    for (const server of pool.servers) backends.push(await startBackend(server, pool.redis));
  }
  const pools = await createPools(config, 16384);
  serveStats("127.0.0.1", STATS_PORT, () => Promise.resolve(takeSnapshot(pools)));
  startProxy(pools, 16384);
} catch (err) {
  console.error(`tsproxy demo: ${err instanceof Error ? err.message : err}`);
  await stopAll();
  Deno.exit(1);
}

console.log(`tsproxy is running on ${CONF}`);
for (const b of backends) console.log(`  backend: ${b.what}`);
console.log(`
Talk to it:
  memcache pool demo_memcache:  exec 3<>/dev/tcp/127.0.0.1/22121; printf 'set greeting 0 0 5\\r\\nhello\\r\\nget greeting\\r\\n' >&3; timeout 1 cat <&3
  redis pool demo_redis:        redis-cli -p 22122 set greeting hello && redis-cli -p 22122 get greeting
  stats:                        exec 4<>/dev/tcp/127.0.0.1/${STATS_PORT}; cat <&4
Ctrl-C stops the proxy and every backend it started.`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await stopAll();
    Deno.exit(0);
  });
}

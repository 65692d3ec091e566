/**
 * The demo (`deno task start`, harness/demo.ts): it serves conf/demo.yml's pools in front of backends it
 * starts itself and stops them on Ctrl-C; it refuses to start, naming the port, when one it needs is
 * taken; and conf/demo.yml's hash spreads keys over every server. The demo runs on a copy of
 * conf/demo.yml with free ports (`--config`, `--stats-port`), so a machine that uses the demo's fixed
 * ports can still run these tests.
 */
import assert from "assert";
import { loadConfig } from "../src/config/load.ts";
import { MemcacheReplyParser } from "../src/protocol/memcache/reply_parser.ts";
import { RedisReplyParser } from "../src/protocol/redis/reply_parser.ts";
import { Router } from "../src/routing/router.ts";
import { freePort, readStats, runScript, waitForPort } from "../harness/procs.ts";
import { Wire } from "../harness/wire.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DEMO = `${ROOT}harness/demo.ts`;
const DEMO_YML = `${ROOT}conf/demo.yml`;

function portOpen(port: number): Promise<boolean> {
  return Deno.connect({ hostname: "127.0.0.1", port }).then((c) => (c.close(), true), () => false);
}

/** conf/demo.yml with every port replaced by a free one, in a temp dir. */
interface DemoConf {
  dir: string;
  file: string;
  /** Old port -> new port. */
  ports: Map<number, number>;
  mcPort: number;
  redisPort: number;
  backendPorts: number[];
  statsPort: number;
}

function demoConf(): DemoConf {
  const ports = new Map<number, number>();
  const yaml = Deno.readTextFileSync(DEMO_YML).replace(/127\.0\.0\.1:(\d+)/g, (_, p: string) => {
    if (!ports.has(Number(p))) ports.set(Number(p), freePort());
    return `127.0.0.1:${ports.get(Number(p))}`;
  });
  assert.equal(ports.size, 10, "conf/demo.yml names 2 listen ports and 8 backend ports");
  const dir = Deno.makeTempDirSync({ prefix: "demo-test-" });
  const file = `${dir}/demo.yml`;
  Deno.writeTextFileSync(file, yaml);
  const at = (p: number) => ports.get(p)!;
  return {
    dir,
    file,
    ports,
    mcPort: at(22121),
    redisPort: at(22122),
    backendPorts: [...ports.entries()].filter(([old]) => old !== 22121 && old !== 22122).map(([, p]) => p),
    statsPort: freePort(),
  };
}

/** A pid still alive and running `name` (so a reused pid is never signalled). */
function aliveAs(pid: number, name: string): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(name);
  } catch {
    return false;
  }
}

/**
 * The demo as a child process on `conf`, its output collected. `stop()` sends Ctrl-C's SIGINT, then
 * SIGKILL after 5 s, and ends any backend process whose pid the demo printed that is still alive.
 */
function startDemo(conf: DemoConf, env?: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEMO, "--config", conf.file, "--stats-port", String(conf.statsPort)],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  const dec = new TextDecoder();
  const collect = (s: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of s) out += dec.decode(chunk, { stream: true });
    })();
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const backendPids = () => [...out.matchAll(/backend: (memcached|redis-server) \S+ \(pid (\d+)\)/g)];
  return {
    output: () => out,
    backendPids,
    /** Ctrl-C, bounded; returns whether the demo exited on it without being killed. */
    async stop(): Promise<boolean> {
      let clean = true;
      if (!exited) {
        try {
          child.kill("SIGINT");
        } catch { /* gone */ }
        const timer = setTimeout(() => {
          clean = false;
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        await status;
        clearTimeout(timer);
      }
      await reading;
      for (const [, name, pid] of backendPids()) {
        if (aliveAs(Number(pid), name)) {
          clean = false;
          Deno.kill(Number(pid), "SIGKILL");
        }
      }
      return clean;
    },
  };
}

/**
 * Runs the demo on free ports with `env`, talks to both pools and the stats port, stops it with
 * Ctrl-C's SIGINT and checks every backend is gone. Returns the demo's output.
 */
async function demoRoundTrip(env?: Record<string, string>): Promise<string> {
  const conf = demoConf();
  const demo = startDemo(conf, env);
  try {
    await waitForPort(conf.mcPort, 20000).catch((e) => {
      throw new Error(`${e}\n${demo.output()}`);
    });
    await waitForPort(conf.redisPort, 5000);
    const mc = await Wire.connect(conf.mcPort);
    await mc.send("set demo 0 0 2\r\nhi\r\nget demo\r\n");
    const m = await mc.replies(new MemcacheReplyParser(), 2);
    assert.equal(new TextDecoder().decode(m.replies[1]), "VALUE demo 0 2\r\nhi\r\nEND\r\n");
    mc.close();
    const rd = await Wire.connect(conf.redisPort);
    await rd.send("*3\r\n$3\r\nSET\r\n$4\r\ndemo\r\n$2\r\nhi\r\n*2\r\n$3\r\nGET\r\n$4\r\ndemo\r\n");
    const r = await rd.replies(new RedisReplyParser(), 2);
    assert.equal(new TextDecoder().decode(r.replies[1]), "$2\r\nhi\r\n");
    rd.close();
    const stats = await readStats(conf.statsPort);
    assert.ok("demo_memcache" in stats && "demo_redis" in stats, "stats name both pools");
    assert.ok(await demo.stop(), `the demo and its backends stop on SIGINT:\n${demo.output()}`);
    for (const port of conf.backendPorts) {
      assert.equal(await portOpen(port), false, `backend on ${port} still up`);
    }
    const output = demo.output();
    assert.match(
      output,
      new RegExp(`tsproxy is running on ${conf.file}, stats on 127\\.0\\.0\\.1:${conf.statsPort}`),
    );
    return output;
  } finally {
    await demo.stop();
    Deno.removeSync(conf.dir, { recursive: true });
  }
}

Deno.test("deno task start runs harness/demo.ts (src/ never imports harness/)", () => {
  const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.start;
  assert.equal(task, "deno run -A harness/demo.ts");
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (e.name.endsWith(".ts") && /from "[^"]*harness\//.test(Deno.readTextFileSync(path))) {
        offenders.push(path.slice(ROOT.length));
      }
    }
  };
  walk(`${ROOT}src`);
  assert.deepEqual(offenders, []);
});

Deno.test("the demo serves conf/demo.yml's pools, and Ctrl-C stops every backend it started", async () => {
  const output = await demoRoundTrip();
  // Whatever the backends are, each of the eight is listed.
  assert.equal(output.match(/ {2}backend: /g)?.length, 8, output);
});

Deno.test("without memcached and redis-server installed, the demo runs on the in-process fakes", async () => {
  // A PATH with deno alone: the demo finds neither backend binary (nor a shell to ask).
  const bin = Deno.makeTempDirSync();
  Deno.symlinkSync(Deno.execPath(), `${bin}/deno`);
  try {
    const output = await demoRoundTrip({ PATH: bin });
    assert.match(output, /in-process fake memcached 127\.0\.0\.1:\d+/);
    assert.match(output, /in-process fake redis 127\.0\.0\.1:\d+/);
  } finally {
    Deno.removeSync(bin, { recursive: true });
  }
});

/**
 * Holds `held` (one of conf's ports) with a listener of our own and runs the demo: it must exit 1 with
 * `message` at once, having started nothing: the other ports stay closed.
 */
async function refusesWith(conf: DemoConf, held: number, message: string): Promise<void> {
  const holder = Deno.listen({ hostname: "127.0.0.1", port: held });
  try {
    const ran = await runScript(DEMO, ["--config", conf.file, "--stats-port", String(conf.statsPort)], {
      cwd: ROOT,
      timeoutMs: 20_000,
    });
    assert.equal(ran.code, 1, `exit code; stderr: ${ran.stderr}`);
    assert.equal(ran.stderr.trim(), message);
    assert.doesNotMatch(ran.stdout, /backend:/, "nothing was started");
    for (const port of [...conf.ports.values(), conf.statsPort]) {
      if (port !== held) assert.equal(await portOpen(port), false, `port ${port} left open`);
    }
  } finally {
    holder.close();
  }
}

Deno.test("the demo refuses to start, naming the port, when one of its ports is taken", async (t) => {
  const conf = demoConf();
  try {
    const redis1 = conf.ports.get(26379)!;
    await t.step("a backend port (a foreign redis-server on redis1's port)", () =>
      refusesWith(
        conf,
        redis1,
        `tsproxy demo: port ${redis1} (backend redis1 of pool demo_redis) is already in use; ` +
          `stop what holds it or edit ${conf.file}`,
      ));
    await t.step("a pool's listen port", () =>
      refusesWith(
        conf,
        conf.mcPort,
        `tsproxy demo: port ${conf.mcPort} (listen address of pool demo_memcache) is already in use; ` +
          `stop what holds it or edit ${conf.file}`,
      ));
    await t.step("the stats port", () =>
      refusesWith(
        conf,
        conf.statsPort,
        `tsproxy demo: port ${conf.statsPort} (stats port) is already in use; ` +
          `stop what holds it or pass --stats-port N`,
      ));
  } finally {
    Deno.removeSync(conf.dir, { recursive: true });
  }
});

Deno.test("the demo's command line: --help prints usage and exits 0, a bad argument exits 2", async () => {
  const help = await runScript(DEMO, ["--help"], { cwd: ROOT, timeoutMs: 20_000 });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task start \[--config FILE\] \[--stats-port N\]/);
  assert.match(help.stdout, /--stats-port N .* default: 22222/);
  const bad = await runScript(DEMO, ["--bogus"], { cwd: ROOT, timeoutMs: 20_000 });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^tsproxy demo: unknown argument '--bogus'\n\nUsage: /);
  assert.equal(bad.stdout, "");
  const port = await runScript(DEMO, ["--stats-port", "70000"], { cwd: ROOT, timeoutMs: 20_000 });
  assert.equal(port.code, 2);
  assert.match(port.stderr, /--stats-port 70000: must be a port number in 1\.\.65535/);
});

Deno.test("conf/demo.yml's pools spread 100 keys over all four servers, none under 10%", async () => {
  const config = await loadConfig(DEMO_YML);
  assert.deepEqual(config.pools.map((p) => p.name).sort(), ["demo_memcache", "demo_redis"]);
  const enc = new TextEncoder();
  for (const pool of config.pools) {
    assert.equal(pool.servers.length, 4, pool.name);
    const router = new Router(pool);
    for (const prefix of ["key:", "user:", "demo:"]) {
      const counts = pool.servers.map(() => 0);
      for (let i = 0; i < 100; i++) {
        const key = enc.encode(`${prefix}${i}`);
        counts[router.pick(key, 0, key.length)]++;
      }
      const spread = pool.servers.map((s, i) => `${s.name} ${counts[i]}`).join(", ");
      assert.ok(counts.every((n) => n >= 10), `${pool.name} (${pool.hash}), keys ${prefix}0..99: ${spread}`);
    }
  }
});

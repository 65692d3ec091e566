/**
 * `deno task start`: tsproxy on conf/demo.yml in front of backends it starts itself: real memcached
 * and redis-server when installed, else the in-process fakes of this harness. Ctrl-C stops everything.
 *
 * Before starting anything it checks that every port it needs (each pool's listen port, each backend's
 * port and the stats port) is free, and refuses to start, naming the port, when one is taken: the demo
 * must never write its keys into a redis-server or memcached it did not start.
 *
 * `--config FILE` runs another configuration (TCP pools only) and `--stats-port N` another stats port,
 * so the tests can run the demo on free ports.
 */
import { FakeMemcached } from "./fake_memcached.ts";
import { FakeRedis } from "./fake_redis.ts";
import { hasBinary } from "./procs.ts";
import { loadConfig } from "../src/config/load.ts";
import type { Config, ServerConfig } from "../src/config/types.ts";
import { createPools, startProxy } from "../src/core/proxy.ts";
import { protocolFor } from "../src/protocol/index.ts";
import { setupLog } from "../src/log.ts";
import { serveAdmin } from "../src/admin/admin_server.ts";
import { ProcessMetrics } from "../src/metrics/process_metrics.ts";
import { BUILD } from "../src/version.ts";
import type { ReloadOutcome } from "../src/reload.ts";
import { type StatsSnapshot, takeSnapshot } from "../src/stats/snapshot.ts";
import { serveStats } from "../src/stats/stats_server.ts";

const DEFAULT_CONF = new URL("../conf/demo.yml", import.meta.url).pathname;
const DEFAULT_STATS_PORT = 22222;
const STATS_ADDR = "127.0.0.1";
/** tsproxy's default admin endpoint, where `deno task top` looks. */
const ADMIN_ADDR = "127.0.0.1";
const ADMIN_PORT = 22223;
const MBUF_SIZE = 16384;

const USAGE = `Usage: deno task start [--config FILE] [--stats-port N]
       (deno run -A harness/demo.ts [--config FILE] [--stats-port N])

Runs tsproxy on a demo configuration in front of backends it starts itself: real memcached and
redis-server when installed, else tsproxy's in-process fakes. Ctrl-C stops everything it started.
It refuses to start when a port it needs (a pool's listen port, a backend's port, the stats port)
is already in use.

  -c, --config FILE     configuration to run (TCP pools only)   default: conf/demo.yml
  -s, --stats-port N    stats port, on 127.0.0.1                 default: ${DEFAULT_STATS_PORT}
  -h, --help            this text
`;

/** What the command line asked for. */
interface DemoArgs {
  conf: string;
  /** The configuration as the messages name it. */
  confName: string;
  statsPort: number;
}

/** Parses the command line; `help` for -h, or the reason it is wrong. */
export function parseDemoArgs(args: readonly string[]): DemoArgs | "help" | { error: string } {
  let conf = DEFAULT_CONF;
  let confName = "conf/demo.yml";
  let statsPort = DEFAULT_STATS_PORT;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "-h" || arg === "--help") return "help";
    const eq = arg.indexOf("=");
    const [flag, inline] = arg.startsWith("--") && eq > 0
      ? [arg.slice(0, eq), arg.slice(eq + 1)]
      : [arg, null];
    if (!["-c", "--config", "-s", "--stats-port"].includes(flag)) {
      return { error: `unknown argument '${arg}'` };
    }
    const value = inline ?? args[++i];
    if (value === undefined || value === "") return { error: `${flag} needs a value` };
    if (flag === "-c" || flag === "--config") {
      conf = value;
      confName = value;
    } else {
      const n = Number(value);
      if (!/^[0-9]+$/.test(value) || n < 1 || n > 65535) {
        return { error: `${flag} ${value}: must be a port number in 1..65535` };
      }
      statsPort = n;
    }
  }
  return { conf, confName, statsPort };
}

/** One TCP port the demo binds or starts a backend on, and what it is for. */
interface PortUse {
  host: string;
  port: number;
  what: string;
  /** What to do when it is taken. */
  fix: string;
}

/** Every port the demo needs, in the order it checks them; throws for a pool it cannot run. */
function portsOf(config: Config, confName: string, statsPort: number): PortUse[] {
  const edit = `stop what holds it or edit ${confName}`;
  const uses: PortUse[] = [];
  for (const pool of config.pools) {
    if (pool.listen.kind !== "tcp") throw new Error(`pool ${pool.name}: the demo listens on TCP only`);
    uses.push({
      host: pool.listen.host,
      port: pool.listen.port,
      what: `listen address of pool ${pool.name}`,
      fix: edit,
    });
    for (const server of pool.servers) {
      if (server.kind !== "tcp") throw new Error(`pool ${pool.name}: the demo starts TCP backends only`);
      uses.push({
        host: server.host,
        port: server.port,
        what: `backend ${server.name} of pool ${pool.name}`,
        fix: edit,
      });
    }
  }
  uses.push({
    host: STATS_ADDR,
    port: statsPort,
    what: "stats port",
    fix: "stop what holds it or pass --stats-port N",
  });
  return uses;
}

/** Whether something holds host:port: it cannot be bound, or something accepts connections on it. */
async function portTaken(host: string, port: number): Promise<boolean> {
  try {
    Deno.listen({ hostname: host, port }).close();
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) return true;
    throw new Error(`cannot bind ${host}:${port}: ${err instanceof Error ? err.message : err}`);
  }
  // Bound fine; a listener on another address of the same port (0.0.0.0 on BSDs) may still answer.
  const connect = Deno.connect({ hostname: host, port }).then((c) => (c.close(), true), () => false);
  const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 1000));
  return await Promise.race([connect, timeout]);
}

/** The reasons the demo cannot start on these ports: taken ones, and ports named twice. */
async function portProblems(uses: readonly PortUse[]): Promise<string[]> {
  const problems: string[] = [];
  const first = new Map<number, PortUse>();
  for (const use of uses) {
    const earlier = first.get(use.port);
    if (earlier) {
      problems.push(`port ${use.port} is both the ${earlier.what} and the ${use.what}; ${use.fix}`);
      continue;
    }
    first.set(use.port, use);
    if (await portTaken(use.host, use.port)) {
      problems.push(`port ${use.port} (${use.what}) is already in use; ${use.fix}`);
    }
  }
  return problems;
}

/** A backend the demo started, and how to stop it. */
interface Backend {
  what: string;
  stop(): Promise<void>;
}

/** A backend process: waits for its port, fails (after stopping it) when it exits or never listens. */
async function startProcess(what: string, cmd: string, args: string[], port: number): Promise<Backend> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" }).spawn();
  let stderr = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr += dec.decode(chunk, { stream: true });
  })().catch(() => {});
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));
  const stop = async () => {
    if (exited === null) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3000);
      await status;
      clearTimeout(timer);
    }
    await reading;
  };
  for (let i = 0;; i++) {
    if (exited !== null) {
      await reading;
      const why = stderr.trim() || `exit code ${(exited as Deno.CommandStatus).code}`;
      throw new Error(`${what} exited at start: ${why}`);
    }
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      break;
    } catch {
      if (i >= 100) {
        await stop();
        throw new Error(`${what} did not listen on port ${port} within 5 s`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { what: `${what} (pid ${child.pid})`, stop };
}

async function startBackend(server: ServerConfig, redis: boolean): Promise<Backend> {
  const { host, port } = server;
  if (redis && hasBinary("redis-server")) {
    const args = ["--port", String(port), "--bind", host, "--save", "", "--appendonly", "no"];
    return await startProcess(`redis-server ${host}:${port}`, "redis-server", args, port);
  }
  if (!redis && hasBinary("memcached")) {
    const args = ["-l", host, "-p", String(port), "-U", "0", "-m", "64"];
    if (Deno.uid() === 0) args.push("-u", "root");
    return await startProcess(`memcached ${host}:${port}`, "memcached", args, port);
  }
  const fake = redis ? await FakeRedis.start({ host, port }) : await FakeMemcached.start({ host, port });
  return {
    what: `in-process fake ${redis ? "redis" : "memcached"} ${host}:${port}`,
    stop: () => fake.close(),
  };
}

/** How to talk to each pool and to the stats port. */
/** The demo's pools are its backends': a configuration change needs a restart of the demo. */
function refuseReload(): Promise<ReloadOutcome> {
  return Promise.resolve({
    ok: false,
    changed: false,
    checksum: "",
    summary: "the configuration in force is kept",
    error: "deno task start does not reload its configuration: stop it and start it again",
    ms: 0,
  });
}

/**
 * The admin endpoint on its default address, for `deno task top`; the demo goes on without it
 * when that port is taken. Returns its URL, or null.
 */
function serveDemoAdmin(snapshot: () => Promise<StatsSnapshot>): string | null {
  try {
    serveAdmin(ADMIN_ADDR, ADMIN_PORT, { snapshot, reload: refuseReload, build: BUILD });
    return `http://${ADMIN_ADDR}:${ADMIN_PORT}`;
  } catch {
    return null;
  }
}

function talkText(config: Config, statsPort: number, admin: string | null): string {
  const lines = ["Talk to it:"];
  for (const pool of config.pools) {
    if (pool.listen.kind !== "tcp") continue;
    const { host, port } = pool.listen;
    lines.push(
      pool.redis
        ? `  redis pool ${pool.name}:  redis-cli -h ${host} -p ${port} set greeting hello && ` +
          `redis-cli -h ${host} -p ${port} get greeting`
        : `  memcache pool ${pool.name}:  exec 3<>/dev/tcp/${host}/${port}; ` +
          `printf 'set greeting 0 0 5\\r\\nhello\\r\\nget greeting\\r\\n' >&3; timeout 1 cat <&3`,
    );
  }
  lines.push(`  stats:  exec 4<>/dev/tcp/${STATS_ADDR}/${statsPort}; cat <&4`);
  lines.push(
    admin === null
      ? `  admin endpoint: off (port ${ADMIN_PORT} is taken)`
      : `  metrics:  curl ${admin}/metrics    live view:  deno task top`,
  );
  lines.push("Ctrl-C stops the proxy and every backend it started.");
  return lines.join("\n");
}

async function main(): Promise<number> {
  const parsed = parseDemoArgs(Deno.args);
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  if ("error" in parsed) {
    console.error(`tsproxy demo: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const { conf, confName, statsPort } = parsed;

  let config: Config;
  let uses: PortUse[];
  try {
    config = await loadConfig(conf);
    uses = portsOf(config, confName, statsPort);
  } catch (err) {
    console.error(`tsproxy demo: ${confName}: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  // Every port is checked before anything starts: nothing to stop when one is taken.
  const problems = await portProblems(uses);
  if (problems.length > 0) {
    for (const p of problems) console.error(`tsproxy demo: ${p}`);
    return 1;
  }

  setupLog(5, null);
  const backends: Backend[] = [];
  let admin: string | null = null;
  let stopping: Promise<void> | null = null;
  const stopAll = () =>
    stopping ??= Promise.all(backends.reverse().map((b) => b.stop().catch(() => {}))).then(() => {});
  // A signal during start-up is acted on between backends, so the one being started is stopped too.
  let starting = true;
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      interrupted = true;
      if (starting) return;
      await stopAll();
      Deno.exit(0);
    });
  }
  try {
    for (const pool of config.pools) {
      for (const server of pool.servers) {
        const backend = await startBackend(server, pool.redis);
        backends.push(backend);
        console.log(`  backend: ${backend.what}`);
        if (interrupted) throw new Error("interrupted");
      }
    }
    const pools = await createPools(config, MBUF_SIZE, protocolFor, true);
    const health = new ProcessMetrics();
    const snapshot = (withHealth: boolean) =>
      takeSnapshot(pools, { listening: true, health: withHealth ? health.snapshot() : null, reload: null });
    serveStats(STATS_ADDR, statsPort, () => Promise.resolve(snapshot(false)));
    startProxy(pools, MBUF_SIZE);
    health.start();
    admin = serveDemoAdmin(() => Promise.resolve(snapshot(true)));
  } catch (err) {
    if (!interrupted) console.error(`tsproxy demo: ${err instanceof Error ? err.message : err}`);
    await stopAll();
    return interrupted ? 0 : 1;
  }
  starting = false;
  if (interrupted) {
    await stopAll();
    return 0;
  }
  console.log(`tsproxy is running on ${confName}, stats on ${STATS_ADDR}:${statsPort}\n`);
  console.log(talkText(config, statsPort, admin));
  return -1; // runs until a signal
}

if (import.meta.main) {
  const code = await main();
  if (code >= 0) Deno.exit(code);
}

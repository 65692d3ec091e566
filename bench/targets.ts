/**
 * The bench's targets on free loopback ports: the backends themselves (redis-server, memcached -t 1),
 * nutcracker 0.5.0 and tsproxy (optionally a second tsproxy with `--workers N`), each proxy with the
 * same YAML shape (one redis pool, one memcache pool, one server each) and nutcracker's command line.
 */
import { freePorts, start, type Started, waitForPort } from "./procs.ts";

/** Something the loads run against: a redis port and a memcache port, and the proxy process if any. */
export interface Target {
  name: string;
  redisPort: number;
  mcPort: number;
  /** The proxy's process; absent for `direct`. */
  proc?: Started;
}

/** The YAML every proxy runs: a redis pool and a memcache pool of one server each. */
export function poolsYaml(
  redisListen: number,
  mcListen: number,
  redisServer: number,
  mcServer: number,
): string {
  const pool = (name: string, listen: number, server: number, redis: boolean) =>
    [
      `${name}:`,
      `  listen: 127.0.0.1:${listen}`,
      "  hash: fnv1a_64",
      "  distribution: ketama",
      ...(redis ? ["  redis: true"] : []),
      "  server_connections: 1",
      "  auto_eject_hosts: false",
      "  timeout: 4000",
      "  servers:",
      `   - 127.0.0.1:${server}:1`,
    ].join("\n") + "\n";
  return pool("redis_pool", redisListen, redisServer, true) + pool("mc_pool", mcListen, mcServer, false);
}

/** What was started: the targets that run, those that could not start, and every process. */
export interface Fixture {
  targets: Target[];
  unavailable: Record<string, string>;
  procs: Started[];
}

/** A proxy to start: its name and its command; nutcracker's flags go between `args` and `extra`. */
interface ProxySpec {
  name: string;
  cmd: string;
  args: string[];
  extra: string[];
  /** Whether a failure to start is reported rather than fatal. */
  optional: boolean;
}

const REPO = new URL("..", import.meta.url).pathname;
/** tsproxy as `deno run -A src/main.ts`, run from the repository root. */
const TSPROXY = ["run", "-A", "src/main.ts"];

/**
 * Starts everything in `dir` (configs and logs). A required process that fails to start stops the
 * ones already started and throws; an optional proxy that fails is listed in `unavailable`.
 */
export async function startFixture(dir: string, workers: number | null): Promise<Fixture> {
  const proxies: ProxySpec[] = [
    { name: "nutcracker", cmd: "nutcracker", args: [], extra: [], optional: false },
    { name: "tsproxy", cmd: Deno.execPath(), args: TSPROXY, extra: [], optional: false },
  ];
  if (workers !== null) {
    const extra = ["--workers", String(workers)];
    proxies.push({ name: `tsproxy-w${workers}`, cmd: Deno.execPath(), args: TSPROXY, extra, optional: true });
  }
  const ports = freePorts(2 + 3 * proxies.length);
  const [redisPort, mcPort] = ports;
  const fx: Fixture = { targets: [], unavailable: {}, procs: [] };
  const launch = (name: string, cmd: string, args: string[]) => {
    const p = start(name, cmd, args, { logDir: dir, cwd: REPO });
    fx.procs.push(p);
    return p;
  };
  try {
    const redis = launch("redis", "redis-server", [
      ...["--port", String(redisPort), "--bind", "127.0.0.1", "--save", ""],
      ...["--appendonly", "no", "--protected-mode", "no"],
    ]);
    const mc = launch("memcached", "memcached", [
      ...["-u", "root", "-l", "127.0.0.1", "-p", String(mcPort), "-U", "0"],
      ...["-t", "1", "-m", "256", "-c", "4096"],
    ]);
    await waitForPort(redis, redisPort);
    await waitForPort(mc, mcPort);
    fx.targets.push({ name: "direct", redisPort, mcPort });
    for (const [i, spec] of proxies.entries()) {
      const [pr, pm, stats] = ports.slice(2 + 3 * i, 5 + 3 * i);
      const conf = `${dir}/${spec.name}.yml`;
      Deno.writeTextFileSync(conf, poolsYaml(pr, pm, redisPort, mcPort));
      const args = [
        ...spec.args,
        "-c",
        conf,
        "-s",
        String(stats),
        "-a",
        "127.0.0.1",
        "-v",
        "4",
        ...spec.extra,
      ];
      const p = launch(spec.name, spec.cmd, args);
      try {
        await waitForPort(p, pr);
        await waitForPort(p, pm);
        fx.targets.push({ name: spec.name, redisPort: pr, mcPort: pm, proc: p });
      } catch (e) {
        if (!spec.optional) throw e;
        await p.stop();
        fx.unavailable[spec.name] = e instanceof Error ? e.message : String(e);
      }
    }
  } catch (e) {
    for (const p of fx.procs.reverse()) await p.stop();
    throw e;
  }
  return fx;
}

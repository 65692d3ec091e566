/**
 * The bench's targets on free loopback ports: the backends themselves (redis-server, memcached -t 1),
 * nutcracker 0.5.0 and tsproxy (optionally tsproxy with `--workers N`, and the A/B target tsproxy-b:
 * tsproxy with TSPROXY_B_FLAGS), each proxy with the same YAML shape (one redis pool, one memcache
 * pool, one server each) and nutcracker's command line; each tsproxy has an admin port of its own.
 */
import { type Knobs, TSPROXY_B } from "./knobs.ts";
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

/**
 * Whether tsproxy flags set the admin port: `--admin-port=N`, `--admin-port N`, or an abbreviation
 * getopt_long takes for it (down to `--admin-p`; shorter is ambiguous with --admin-addr), before `--`.
 */
export function setsAdminPort(flags: readonly string[]): boolean {
  const end = flags.indexOf("--");
  return flags.slice(0, end < 0 ? flags.length : end).some((w) => {
    const name = w.startsWith("--") ? w.slice(2).split("=")[0] : "";
    return name.length >= "admin-p".length && "admin-port".startsWith(name);
  });
}

/**
 * A tsproxy target's flags: `flags`, plus `--admin-port=<port>` unless they set it themselves, so that
 * tsproxy targets never contend for the default admin port (the loser would run without an admin
 * endpoint, with only a warning in its log).
 */
export function withAdminPort(flags: readonly string[], port: number): string[] {
  return setsAdminPort(flags) ? [...flags] : [...flags, `--admin-port=${port}`];
}

/**
 * A proxy to start: its name and its command; nutcracker's flags go between `args` and the flags
 * `extra` returns given a free port for an admin endpoint (tsproxy's; nutcracker has none).
 */
interface ProxySpec {
  name: string;
  cmd: string;
  args: string[];
  extra: (adminPort: number) => string[];
  /** Whether a failure to start is reported rather than fatal. */
  optional: boolean;
}

const REPO = new URL("..", import.meta.url).pathname;

/** tsproxy as `deno run -A src/main.ts`, run from the repository root, with `flags` after nutcracker's. */
function tsproxySpec(name: string, flags: readonly string[], optional: boolean): ProxySpec {
  return {
    name,
    cmd: Deno.execPath(),
    args: ["run", "-A", "src/main.ts"],
    extra: (port) => withAdminPort(flags, port),
    optional,
  };
}

/** Loopback ports per proxy: redis listen, memcache listen, stats, admin. */
const PORTS_PER_PROXY = 4;

/**
 * Starts everything in `dir` (configs and logs). A required process that fails to start stops the
 * ones already started and throws; an optional proxy that fails is listed in `unavailable`.
 */
export async function startFixture(
  dir: string,
  { workers, bFlags }: Pick<Knobs, "workers" | "bFlags">,
): Promise<Fixture> {
  const proxies: ProxySpec[] = [
    { name: "nutcracker", cmd: "nutcracker", args: [], extra: () => [], optional: false },
    tsproxySpec("tsproxy", [], false),
  ];
  // --workers may be unsupported where the bench runs; TSPROXY_B_FLAGS were asked for, so they must work.
  if (workers !== null) {
    proxies.push(tsproxySpec(`tsproxy-w${workers}`, ["--workers", String(workers)], true));
  }
  if (bFlags !== null) proxies.push(tsproxySpec(TSPROXY_B, bFlags, false));
  const ports = freePorts(2 + PORTS_PER_PROXY * proxies.length);
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
      const [pr, pm, stats, admin] = ports.slice(2 + PORTS_PER_PROXY * i, 2 + PORTS_PER_PROXY * (i + 1));
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
        ...spec.extra(admin),
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

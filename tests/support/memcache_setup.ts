/**
 * Test support: a memcache pool of fresh real memcached servers named s1..sN (names, not ports,
 * place keys, so two such pools place keys alike) behind tsproxy or the real nutcracker.
 */
import {
  freePort,
  type Proc,
  type ProxyKind,
  startMemcached,
  startNutcracker,
  startTsproxy,
} from "../../harness/procs.ts";
import { withClient } from "../../harness/wire.ts";

export { withClient };

/** A proxy and its backends, all started by the test. */
export interface MemcacheSetup {
  kind: ProxyKind;
  /** The pool's listen port. */
  port: number;
  statsPort: number;
  /** Backends in name order: backends[i] is `s${i + 1}`. */
  backends: { name: string; port: number }[];
  /** Ends the proxy, then every backend, by pid. */
  stop(): Promise<void>;
}

/** Options of a setup. */
export interface SetupOptions {
  /** Number of memcached servers (default 4). */
  count?: number;
  /** Extra proxy command line arguments, e.g. `-m 512`. */
  args?: string[];
  /** Extra pool directives, e.g. `{ server_connections: "3" }`. */
  directives?: Record<string, string>;
}

/** The YAML of one memcache pool `alpha` on `port` over the named backends. */
export function memcachePoolYaml(
  port: number,
  backends: readonly { name: string; port: number }[],
  directives: Record<string, string> = {},
): string {
  const extra = Object.entries(directives).map(([k, v]) => `  ${k}: ${v}\n`).join("");
  const servers = backends.map((b) => `   - 127.0.0.1:${b.port}:1 ${b.name}`).join("\n");
  return `alpha:\n  listen: 127.0.0.1:${port}\n  hash: fnv1a_64\n  distribution: ketama\n${extra}  servers:\n${servers}\n`;
}

/** Starts memcached servers and the proxy in front of them. */
export async function startMemcacheSetup(kind: ProxyKind, opts: SetupOptions = {}): Promise<MemcacheSetup> {
  const procs: Proc[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop();
  };
  try {
    const backends: { name: string; port: number }[] = [];
    for (let i = 0; i < (opts.count ?? 4); i++) {
      const mc = await startMemcached();
      procs.push(mc);
      backends.push({ name: `s${i + 1}`, port: mc.port });
    }
    const port = freePort();
    const yaml = memcachePoolYaml(port, backends, opts.directives);
    const proxy = kind === "tsproxy"
      ? await startTsproxy(yaml, [port], opts.args)
      : await startNutcracker(yaml, [port], opts.args);
    procs.push(proxy);
    return { kind, port, statsPort: proxy.statsPort, backends, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * Awaits every promise (clients running at once), then rethrows the first failure: unlike
 * Promise.all, no client is still running when the caller moves on to stop the processes.
 */
export async function allClients<T>(runs: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(runs);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

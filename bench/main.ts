/**
 * `deno task bench`: tsproxy side by side with nutcracker 0.5.0 and the bare backends.
 *
 * Starts redis-server, memcached -t 1, nutcracker and tsproxy (and, with TSPROXY_WORKERS=N, tsproxy
 * --workers N; with TSPROXY_B_FLAGS, tsproxy-b: tsproxy plus those flags) on free loopback ports; runs
 * every case against every target, interleaved (the target order rotates each round) and repeated
 * ROUNDS times; measures each proxy's CPU time per request around each load, its peak RSS, and its RSS
 * with IDLE idle clients. Prints medians (ratios are medians of per-round ratios; with tsproxy-b, also
 * tsproxy-b over tsproxy per case) and writes them to bench/results/latest.json.
 *
 * Knobs: environment variables, defined with their defaults and bounds in knobs.ts; `--help` lists them.
 * Needs redis-server, redis-benchmark, memcached and nutcracker on PATH.
 */
import { cpuSeconds, memoryKb } from "./proc_stats.ts";
import { idleRss } from "./idle_rss.ts";
import { type Case, caseLabel, type Knobs, knobsHelp, readKnobs } from "./knobs.ts";
import { type LoadResult, mcLoad, redisLoad } from "./loads.ts";
import { onPath, type Started } from "./procs.ts";
import { type BenchRecord, type IdleRss, resultDocument, type Sample } from "./report.ts";
import { startFixture, type Target } from "./targets.ts";

const RESULTS = new URL("./results/", import.meta.url).pathname;

/** What `--help` prints (and a bad argument, to stderr). */
export function usage(): string {
  return `Usage: deno task bench [-h | --help]
       (deno run -A bench/main.ts)

Runs tsproxy side by side with nutcracker 0.5.0 and the bare backends (redis-server, memcached -t 1),
all started on free loopback ports: every case against every target, interleaved, ROUNDS times. Prints
the medians (ratios are medians of per-round ratios), each proxy's CPU time per request, peak RSS and
idle RSS, and writes them to bench/results/latest.json. TSPROXY_B_FLAGS adds an A/B target, tsproxy-b:
the report then shows it over tsproxy (throughput and CPU per request) per case. Needs redis-server,
redis-benchmark, memcached and nutcracker on PATH. Exits 0 when every load ran, 1 when one failed, 2 on
a bad argument or knob or a missing binary.

Knobs are environment variables, e.g. ROUNDS=3 CASES='redis get P1,mc mget10 P1' deno task bench:

${knobsHelp()}
`;
}

/** The command line: run, print help, or the reason it is wrong. */
export function parseBenchArgs(args: readonly string[]): "run" | "help" | { error: string } {
  if (args.length === 0) return "run";
  if (args.some((a) => a === "-h" || a === "--help")) return "help";
  return {
    error: `unknown argument '${args[0]}' (the bench takes no arguments; its knobs are env variables)`,
  };
}

function note(text: string): void {
  console.error(text);
}

/** One load of `c` against `t`. */
function load(c: Case, t: Target, k: Knobs, secs = k.mcSecs): Promise<LoadResult> {
  if (c.proto === "redis") {
    const n = c.pipeline === 1 ? k.redisN1 : k.redisN16;
    return redisLoad(t.redisPort, c.op, c.pipeline, n, k.conns, k.runTimeout);
  }
  return mcLoad(t.mcPort, c.op, c.pipeline, k.conns, secs, k.mcMax, k.runTimeout);
}

/** One load with the proxy's CPU time read before and after it. */
async function measure(c: Case, t: Target, k: Knobs, round: number): Promise<Sample & { error?: string }> {
  const before = t.proc ? cpuSeconds(t.proc.pid) : null;
  const r = await load(c, t, k);
  const after = t.proc ? cpuSeconds(t.proc.pid) : null;
  if ("error" in r) return { round, opsPerSec: null, cpuUsPerOp: null, userUsPerOp: null, error: r.error };
  const perOp = (secs: number) => secs * 1e6 / r.requests;
  return {
    round,
    opsPerSec: r.opsPerSec,
    cpuUsPerOp: before && after ? perOp(after.user + after.system - before.user - before.system) : null,
    userUsPerOp: before && after ? perOp(after.user - before.user) : null,
    ...(r.loaderCpuSecs === undefined ? {} : { loaderCpuSecs: r.loaderCpuSecs }),
  };
}

/** Short bounded loads on every target: JIT, pools, memcached keys. */
async function warmUp(targets: Target[], k: Knobs): Promise<void> {
  for (const t of targets) {
    await redisLoad(t.redisPort, "get", 16, 50_000, k.conns, k.runTimeout);
    await mcLoad(t.mcPort, "get", 16, k.conns, 0.4, k.mcMax, k.runTimeout);
    await mcLoad(t.mcPort, "mget", 1, k.conns, 0.3, k.mcMax, k.runTimeout);
  }
}

async function bench(k: Knobs, dir: string, procs: Started[]): Promise<BenchRecord> {
  const fx = await startFixture(dir, k);
  procs.push(...fx.procs);
  const targets = fx.targets;
  for (const [name, why] of Object.entries(fx.unavailable)) note(`${name}: not available (${why})`);
  note(`targets: ${targets.map((t) => `${t.name} (redis ${t.redisPort}, mc ${t.mcPort})`).join(", ")}`);
  await warmUp(targets, k);

  const samples: Record<string, Record<string, Sample[]>> = {};
  const errors: string[] = [];
  const t0 = performance.now();
  for (let round = 0; round < k.rounds; round++) {
    const shift = round % targets.length;
    const order = [...targets.slice(shift), ...targets.slice(0, shift)];
    for (const c of k.cases) {
      const label = caseLabel(c);
      for (const t of order) {
        const { error, ...s } = await measure(c, t, k, round);
        if (error !== undefined) errors.push(`round ${round + 1} ${label} ${t.name}: ${error}`);
        ((samples[label] ??= {})[t.name] ??= []).push(s);
      }
    }
    note(`round ${round + 1}/${k.rounds} done at ${Math.round((performance.now() - t0) / 1000)}s`);
  }

  const peakRssKb: Record<string, number> = {};
  const idle: Record<string, IdleRss> = {};
  for (const t of targets) if (t.proc) peakRssKb[t.name] = memoryKb(t.proc.pid, "VmHWM");
  if (k.idle > 0) {
    for (const t of targets) if (t.proc) idle[t.name] = await idleRss(t.proc.pid, t.mcPort, k.idle);
  }
  return {
    settings: {
      rounds: k.rounds,
      conns: k.conns,
      mcSecs: k.mcSecs,
      memcachedThreads: 1,
      redisRequests: { p1: k.redisN1, p16: k.redisN16 },
      idleClients: k.idle,
      workers: k.workers,
      tsproxyBFlags: k.bFlags,
    },
    targets: targets.map((t) => t.name),
    cases: k.cases.map(caseLabel),
    samples,
    peakRssKb,
    idle,
    unavailable: fx.unavailable,
    errors,
    benchSecs: (performance.now() - t0) / 1000,
    logDir: dir,
  };
}

async function main(): Promise<number> {
  const args = parseBenchArgs(Deno.args);
  if (args === "help") {
    console.log(usage());
    return 0;
  }
  if (args !== "run") {
    note(`tsproxy bench: ${args.error}\n\n${usage()}`);
    return 2;
  }
  let k: Knobs;
  try {
    k = readKnobs(Deno.env.toObject());
  } catch (e) {
    note(`tsproxy bench: ${e instanceof Error ? e.message : e}`);
    return 2;
  }
  const missing = ["redis-server", "redis-benchmark", "memcached", "nutcracker"].filter((b) => !onPath(b));
  if (missing.length > 0) {
    note(
      `tsproxy bench: missing ${missing.join(", ")} (Debian: nutcracker memcached redis-server redis-tools)`,
    );
    return 2;
  }
  const dir = Deno.makeTempDirSync({ prefix: "tsproxy-bench-" });
  note(`logs and configs in ${dir}`);
  const procs: Started[] = [];
  const stopAll = async () => {
    for (const p of [...procs].reverse()) await p.stop();
  };
  const interrupted = () => stopAll().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", interrupted);
  Deno.addSignalListener("SIGTERM", interrupted);
  let record: BenchRecord;
  try {
    record = await bench(k, dir, procs);
  } catch (e) {
    note(`tsproxy bench: ${e instanceof Error ? e.message : e}`);
    return 1;
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", interrupted);
    Deno.removeSignalListener("SIGTERM", interrupted);
  }
  const doc = resultDocument(record);
  console.log(["", ...doc.lines].join("\n"));
  Deno.mkdirSync(RESULTS, { recursive: true });
  Deno.writeTextFileSync(`${RESULTS}latest.json`, JSON.stringify(doc, null, 1) + "\n");
  note(`wrote ${RESULTS}latest.json`);
  return record.errors.length > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());

/**
 * The bench's loads, each a child process bounded in requests and in time: redis-benchmark for redis,
 * bench/mc_load.ts (a `deno run` of its own) for memcache. A load yields requests per second and the
 * number of requests it made, or an error.
 */
import type { McOp } from "./mc_batches.ts";
import { withFdLimit } from "./procs.ts";

/** A finished load: requests per second and requests done, or why it failed. */
export type LoadResult = { opsPerSec: number; requests: number; loaderCpuSecs?: number } | { error: string };

/** The requests per second of `test` in redis-benchmark's --csv output, null when absent. */
export function parseRedisCsv(stdout: string, test: string): number | null {
  for (const line of stdout.split("\n")) {
    const cols = line.split(",").map((c) => c.trim().replace(/^"|"$/g, ""));
    if (cols[0]?.toLowerCase() === test.toLowerCase()) {
      const rps = Number(cols[1]);
      return Number.isFinite(rps) && rps > 0 ? rps : null;
    }
  }
  return null;
}

/** The last line of mc_load's stdout as a result. */
export function parseMcLoadOutput(stdout: string): LoadResult {
  const last = stdout.trim().split("\n").pop() ?? "";
  try {
    const j = JSON.parse(last);
    if (typeof j.error === "string") return { error: j.error };
    if (typeof j.ops_per_s !== "number" || typeof j.ops !== "number") return { error: `bad output: ${last}` };
    return { opsPerSec: j.ops_per_s, requests: j.ops, loaderCpuSecs: j.cpu_s };
  } catch {
    return { error: `no result: ${last.slice(-200)}` };
  }
}

async function run(cmd: string, args: string[], timeoutSecs: number): Promise<Deno.CommandOutput | string> {
  const sh = withFdLimit(cmd, args);
  try {
    return await new Deno.Command(sh.cmd, {
      args: sh.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutSecs * 1000), // kills the child (by pid) when it runs over
    }).output();
  } catch (e) {
    return `${cmd}: ${e instanceof Error ? e.message : e}`;
  }
}

const tail = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim().slice(-200);

/** One redis-benchmark run: `-t test -c conns -n requests -P pipeline -r 10000 -d 32 --csv`. */
export async function redisLoad(
  port: number,
  test: "get" | "set",
  pipeline: number,
  requests: number,
  conns: number,
  timeoutSecs: number,
): Promise<LoadResult> {
  const args = [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-t",
    test,
    "-c",
    String(conns),
    "-n",
    String(requests),
  ];
  args.push("-P", String(pipeline), "-r", "10000", "-d", "32", "--csv");
  const out = await run("redis-benchmark", args, timeoutSecs);
  if (typeof out === "string") return { error: out };
  const rps = parseRedisCsv(new TextDecoder().decode(out.stdout), test);
  if (rps === null) {
    return { error: `redis-benchmark code ${out.code}: ${tail(out.stderr) || tail(out.stdout)}` };
  }
  return { opsPerSec: rps, requests };
}

const MC_LOAD = new URL("./mc_load.ts", import.meta.url).pathname;

/** One mc_load run of `seconds` (at most `maxRequests` requests). */
export async function mcLoad(
  port: number,
  op: McOp,
  pipeline: number,
  conns: number,
  seconds: number,
  maxRequests: number,
  timeoutSecs: number,
): Promise<LoadResult> {
  const args = ["run", "--allow-net=127.0.0.1", MC_LOAD, "--port", String(port), "--op", op];
  args.push("--pipeline", String(pipeline), "--conns", String(conns), "--seconds", String(seconds));
  args.push("--requests", String(maxRequests));
  const out = await run(Deno.execPath(), args, timeoutSecs);
  if (typeof out === "string") return { error: out };
  const r = parseMcLoadOutput(new TextDecoder().decode(out.stdout));
  if ("error" in r && out.stderr.length > 0) r.error += ` (${tail(out.stderr)})`;
  return r;
}

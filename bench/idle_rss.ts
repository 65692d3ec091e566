/**
 * A proxy's resident memory with many idle clients: VmRSS of its process tree before, and 1 s after
 * bench/idle_clients.ts (its own process, bounded in time) reports its clients connected and idle.
 */
import { memoryKb } from "./proc_stats.ts";
import { withFdLimit } from "./procs.ts";
import type { IdleRss } from "./report.ts";

const IDLE_CLIENTS = new URL("./idle_clients.ts", import.meta.url).pathname;

/** Holds `clients` memcache clients (one GET each first) on `port` for 3 s and measures `pid`'s RSS. */
export async function idleRss(pid: number, port: number, clients: number): Promise<IdleRss> {
  const beforeKb = memoryKb(pid, "VmRSS");
  const holdSecs = 3;
  const sh = withFdLimit(Deno.execPath(), [
    ...["run", "--allow-net=127.0.0.1", IDLE_CLIENTS],
    ...["--port", String(port), "--conns", String(clients), "--hold", String(holdSecs)],
  ]);
  const child = new Deno.Command(sh.cmd, {
    args: sh.args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout((holdSecs + 60) * 1000),
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await new Promise((r) => setTimeout(r, 1000));
  const duringKb = memoryKb(pid, "VmRSS");
  await reader.cancel();
  await child.status;
  return { clients, beforeKb, duringKb, line: text.trim() || "no READY line" };
}

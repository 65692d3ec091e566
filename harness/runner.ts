/**
 * Runs the harness's checks behind one or both proxies, one at a time, and reports each as it ends:
 * passed, failed (with the first difference found) or skipped (a backend binary is not installed).
 */

import { show } from "./bytes.ts";
import type { ProxyKind } from "./procs.ts";

/** One verifiable behaviour: it starts what it needs, plays, and throws on any difference. */
export interface Check {
  /** What the check is about: "memcache failures", "redis failures", "routing". */
  group: string;
  /** The behaviour it verifies, as a sentence. */
  name: string;
  /** Binaries it needs besides the proxy (e.g. memcached, redis-server). */
  needs: string[];
  run(kind: ProxyKind): Promise<void>;
}

/** How one check ended behind one proxy. */
export interface Result {
  group: string;
  name: string;
  kind: ProxyKind;
  status: "passed" | "failed" | "skipped";
  ms: number;
  /** Why it failed, or what is missing. */
  detail?: string;
}

export interface RunOptions {
  /** Writes one line of the report. */
  write(line: string): void;
  /** Whether a binary is installed. */
  installed(binary: string): boolean;
}

/** Plays every check behind every proxy in `kinds`; a failure does not stop the run. */
export async function runChecks(checks: Check[], kinds: ProxyKind[], opts: RunOptions): Promise<Result[]> {
  const results: Result[] = [];
  let group = "";
  for (const check of checks) {
    if (check.group !== group) {
      group = check.group;
      opts.write(group);
    }
    for (const kind of kinds) {
      const result = await runOne(check, kind, opts);
      results.push(result);
      opts.write(formatResult(result, kinds.length > 1));
    }
  }
  const count = (s: Result["status"]) => results.filter((r) => r.status === s).length;
  opts.write(`${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped`);
  return results;
}

async function runOne(check: Check, kind: ProxyKind, opts: RunOptions): Promise<Result> {
  const base = { group: check.group, name: check.name, kind };
  const missing = [...(kind === "nutcracker" ? ["nutcracker"] : []), ...check.needs]
    .filter((b) => !opts.installed(b));
  if (missing.length > 0) {
    return { ...base, status: "skipped", ms: 0, detail: `${missing.join(", ")} not installed` };
  }
  const t0 = performance.now();
  try {
    await check.run(kind);
    return { ...base, status: "passed", ms: performance.now() - t0 };
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    return { ...base, status: "failed", ms: performance.now() - t0, detail };
  }
}

/** One report line (and the failure's detail, indented, below it). */
export function formatResult(r: Result, showKind: boolean): string {
  const mark = { passed: "ok  ", failed: "FAIL", skipped: "skip" }[r.status];
  const who = showKind ? ` [${r.kind}]` : "";
  const time = r.status === "skipped" ? "" : ` (${Math.round(r.ms)} ms)`;
  const line = `  ${mark} ${r.name}${who}${time}`;
  if (r.detail === undefined) return line;
  return `${line}\n${r.detail.split("\n").map((l) => `       ${l}`).join("\n")}`;
}

/** What a client saw at one step: the bytes, and whether the proxy closed the connection. */
export type Step = [reply: string, closed: boolean];

/**
 * Throws, naming the first step that differs, unless `got` has exactly the steps of `want` with the
 * same bytes and the same open/closed outcome.
 */
export function assertSteps(got: Record<string, Step>, want: Record<string, Step>): void {
  for (const [label, [reply, closed]] of Object.entries(want)) {
    if (!(label in got)) throw new Error(`step "${label}" was never played`);
    const [gotReply, gotClosed] = got[label];
    if (gotReply !== reply || gotClosed !== closed) {
      throw new Error(
        `step "${label}":\n  got  ${show(gotReply)}${gotClosed ? " and the close" : ""}` +
          `\n  want ${show(reply)}${closed ? " and the close" : ""}`,
      );
    }
  }
  const extra = Object.keys(got).filter((label) => !(label in want));
  if (extra.length > 0) throw new Error(`steps nobody expected: ${extra.join(", ")}`);
}

/** What a check with figures found: its one-line figures, the criteria it failed, and evidence for them. */
export interface Outcome {
  figures: string;
  failed: string[];
  detail: string[];
}

/**
 * Plays a check only tsproxy can pass (a feature nutcracker 0.5.0 lacks, named by `lacking`): behind
 * nutcracker it says it does not apply; behind tsproxy it prints the figures and throws on a failed
 * criterion.
 */
export async function playTsproxyOnly(
  kind: ProxyKind,
  lacking: string,
  play: () => Promise<Outcome>,
  write: (line: string) => void,
): Promise<void> {
  if (kind === "nutcracker") {
    write(`    nutcracker: not applicable, nutcracker 0.5.0 has no ${lacking}`);
    return;
  }
  const out = await play();
  write(`    ${kind}: ${out.figures}`);
  if (out.failed.length > 0) throw new Error([...out.failed, ...out.detail].join("\n"));
}

/**
 * The bench's report (pure): medians of the samples, per-round ratios between targets (and of the A/B
 * target tsproxy-b over tsproxy), the aligned tables and memory lines it prints, and the JSON document
 * it writes.
 */
import { TSPROXY_B } from "./knobs.ts";

/** One load's measurement on one target in one round (ops null when the load failed). */
export interface Sample {
  round: number;
  opsPerSec: number | null;
  /** Proxy CPU time (user+system) per request, µs; null for a backend or a failed load. */
  cpuUsPerOp: number | null;
  /** Its user part, µs. */
  userUsPerOp: number | null;
  /** CPU seconds of the load generator itself, when it reports them (mc_load does). */
  loaderCpuSecs?: number;
}

/** RSS of a proxy before and while idle clients hold connections. */
export interface IdleRss {
  clients: number;
  beforeKb: number;
  duringKb: number;
  /** The idle-client process's READY/FAILED line. */
  line: string;
}

/** Everything a run measured, with the settings it ran with. */
export interface BenchRecord {
  settings: {
    rounds: number;
    conns: number;
    mcSecs: number;
    memcachedThreads: number;
    /** The flags tsproxy-b adds to tsproxy's. */
    tsproxyBFlags?: string[] | null;
    [k: string]: unknown;
  };
  /** Targets in column order: `direct` (the backends), `nutcracker`, then the tsproxy variants. */
  targets: string[];
  /** Case labels in row order. */
  cases: string[];
  /** samples[case][target], in round order. */
  samples: Record<string, Record<string, Sample[]>>;
  peakRssKb: Record<string, number>;
  idle: Record<string, IdleRss>;
  /** Targets that could not start, with the reason. */
  unavailable: Record<string, string>;
  errors: string[];
  benchSecs: number;
  logDir: string;
}

/** Per-case figures: median ops/s per target, ratios, median proxy CPU µs per request. */
export interface CaseSummary {
  ops: Record<string, number | null>;
  ratios: Record<string, number | null>;
  cpuUsPerOp: Record<string, { total: number; user: number | null } | null>;
  /** tsproxy-b over tsproxy (medians of per-round ratios), when both ran. */
  ab?: { opsPerSec: number | null; cpuUsPerOp: number | null };
}

/** The A/B pair: tsproxy-b, then the tsproxy it is compared with. */
export const AB_PAIR = [TSPROXY_B, "tsproxy"] as const;

const hasAb = (targets: readonly string[]) => AB_PAIR.every((t) => targets.includes(t));

/** Median of the numbers, null for none. */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** What a ratio compares in a sample; null when not measured. */
export type Measure = (s: Sample) => number | null;

/**
 * Median over rounds of a's measure (ops/s unless told) divided by b's in the same round, over the
 * rounds where both are positive (a failed load has none; a CPU time under a clock tick reads 0).
 */
export function perRoundRatio(
  a: readonly Sample[],
  b: readonly Sample[],
  measure: Measure = (s) => s.opsPerSec,
): number | null {
  const byRound = new Map(b.filter((s) => measure(s)).map((s) => [s.round, measure(s)!]));
  const ratios = a.filter((s) => measure(s) && byRound.has(s.round))
    .map((s) => measure(s)! / byRound.get(s.round)!);
  return median(ratios);
}

/** Short name of a target in column headers: `nc` for nutcracker. */
export function shortName(target: string): string {
  return target === "nutcracker" ? "nc" : target;
}

/** The ratio columns: `nc/direct`, then each tsproxy variant over nutcracker. */
export function ratioPairs(targets: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  if (targets.includes("nutcracker") && targets.includes("direct")) pairs.push(["nutcracker", "direct"]);
  for (const t of targets) {
    if (t !== "direct" && t !== "nutcracker" && targets.includes("nutcracker")) pairs.push([t, "nutcracker"]);
  }
  return pairs;
}

const proxiesOf = (targets: readonly string[]) => targets.filter((t) => t !== "direct");

/** The figures of one case. */
export function summarizeCase(samples: Record<string, Sample[]>, targets: readonly string[]): CaseSummary {
  const out: CaseSummary = { ops: {}, ratios: {}, cpuUsPerOp: {} };
  for (const t of targets) {
    out.ops[t] = median((samples[t] ?? []).flatMap((s) => s.opsPerSec ? [s.opsPerSec] : []));
  }
  for (const [a, b] of ratioPairs(targets)) {
    out.ratios[`${shortName(a)}/${shortName(b)}`] = perRoundRatio(samples[a] ?? [], samples[b] ?? []);
  }
  for (const p of proxiesOf(targets)) {
    const ok = (samples[p] ?? []).filter((s) => s.cpuUsPerOp !== null);
    const total = median(ok.map((s) => s.cpuUsPerOp!));
    const user = median(ok.flatMap((s) => s.userUsPerOp === null ? [] : [s.userUsPerOp]));
    out.cpuUsPerOp[p] = total === null ? null : { total, user };
  }
  if (hasAb(targets)) {
    const [b, a] = AB_PAIR.map((t) => samples[t] ?? []);
    out.ab = { opsPerSec: perRoundRatio(b, a), cpuUsPerOp: perRoundRatio(b, a, (s) => s.cpuUsPerOp) };
  }
  return out;
}

/** ops/s as the table shows it: `123k` from 10,000 up. */
export function formatOps(v: number | null): string {
  if (v === null) return "-";
  return v >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v));
}

/** Rows of cells as aligned lines: the first column left-aligned, the others right-aligned. */
export function alignTable(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r.map((cell, i) => i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])).join("  ").trimEnd()
  );
}

const mib = (kb: number) => (kb / 1024).toFixed(1);
const ratioCell = (v: number | null | undefined) => v?.toFixed(2) ?? "-";

/** The A/B table, tsproxy-b over tsproxy per case; none unless both ran. */
export function renderAb(r: BenchRecord, cases: Record<string, CaseSummary>): string[] {
  if (!hasAb(r.targets)) return [];
  const [b, a] = AB_PAIR;
  const flags = r.settings.tsproxyBFlags?.join(" ") ?? "?";
  const rows = [["case", "ops/s", "cpu us/op"]];
  for (const label of r.cases) {
    const ab = cases[label].ab;
    rows.push([label, ratioCell(ab?.opsPerSec), ratioCell(ab?.cpuUsPerOp)]);
  }
  return [
    `A/B: ${b} (${a} + ${flags}) over ${a}, medians of per-round ratios` +
    ` (ops/s above 1: ${b} faster; cpu us/op below 1: ${b} cheaper)`,
    ...alignTable(rows),
  ];
}

/** The lines the bench prints. */
export function renderReport(r: BenchRecord, cases: Record<string, CaseSummary>): string[] {
  const proxies = proxiesOf(r.targets);
  const pairs = ratioPairs(r.targets);
  const header = [
    "case",
    ...r.targets.map((t) => `${t} ops/s`),
    ...pairs.map(([a, b]) => `${shortName(a)}/${shortName(b)}`),
    ...proxies.map((p) => `${shortName(p)} cpu us/op`),
  ];
  const rows = [header];
  for (const label of r.cases) {
    const c = cases[label];
    rows.push([
      label,
      ...r.targets.map((t) => formatOps(c.ops[t])),
      ...pairs.map(([a, b]) => ratioCell(c.ratios[`${shortName(a)}/${shortName(b)}`])),
      ...proxies.map((p) => {
        const u = c.cpuUsPerOp[p];
        return u === null ? "-" : `${u.total.toFixed(2)} (usr ${u.user?.toFixed(2) ?? "-"})`;
      }),
    ]);
  }
  const s = r.settings;
  const lines = [
    `medians of ${s.rounds} interleaved rounds, ${s.conns} client connections, memcached -t ${s.memcachedThreads},` +
    ` memcache loads of ${s.mcSecs} s`,
    ...alignTable(rows),
    "cpu us/op = proxy CPU time per request, user+sys of its process tree, all threads (clock-tick resolution);" +
    " ratios = median of per-round ratios",
    ...renderAb(r, cases),
  ];
  for (const [name, kb] of Object.entries(r.peakRssKb)) {
    lines.push(`peak RSS ${name.padEnd(12)} ${mib(kb).padStart(7)} MiB`);
  }
  for (const [name, i] of Object.entries(r.idle)) {
    const perConn = (i.duringKb - i.beforeKb) / Math.max(1, i.clients);
    lines.push(
      `idle ${i.clients} clients  ${name.padEnd(12)} RSS ${mib(i.beforeKb).padStart(6)} -> ` +
        `${mib(i.duringKb).padStart(6)} MiB (+${perConn.toFixed(1)} KiB/conn) ${i.line}`,
    );
  }
  for (const [name, why] of Object.entries(r.unavailable)) lines.push(`not available: ${name}: ${why}`);
  for (const e of r.errors) lines.push(`ERROR ${e}`);
  lines.push(`bench time ${Math.round(r.benchSecs)}s; logs in ${r.logDir}`);
  return lines;
}

/** The JSON document of a run. */
export interface ResultDocument {
  date: string;
  settings: BenchRecord["settings"];
  targets: string[];
  unavailable: Record<string, string>;
  cases: Record<string, CaseSummary>;
  peak_rss_kb: Record<string, number>;
  idle: Record<string, IdleRss>;
  errors: string[];
  bench_secs: number;
  log_dir: string;
  /** The lines the bench printed. */
  lines: string[];
  raw: BenchRecord["samples"];
}

/** The JSON document of a run: settings, per-case figures, memory, errors, the printed lines, raw samples. */
export function resultDocument(r: BenchRecord, date = new Date()): ResultDocument {
  const cases = Object.fromEntries(
    r.cases.map((label) => [label, summarizeCase(r.samples[label] ?? {}, r.targets)]),
  );
  return {
    date: date.toISOString(),
    settings: r.settings,
    targets: r.targets,
    unavailable: r.unavailable,
    cases,
    peak_rss_kb: r.peakRssKb,
    idle: r.idle,
    errors: r.errors,
    bench_secs: Math.round(r.benchSecs),
    log_dir: r.logDir,
    lines: renderReport(r, cases),
    raw: r.samples,
  };
}

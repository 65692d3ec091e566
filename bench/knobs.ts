/**
 * The bench's settings: its cases and the environment knobs that size it (ROUNDS, CONNS, SECS, CASES,
 * REDIS_N_P1, REDIS_N_P16, MC_MAX, IDLE, RUN_TIMEOUT, TSPROXY_WORKERS, TSPROXY_B_FLAGS), each bounded.
 * Each knob's default, bounds and meaning are defined once, here, and `deno task bench --help` prints them.
 */
import type { McOp } from "./mc_batches.ts";

/** One measured case: a protocol, an operation and a pipeline depth. */
export type Case =
  | { proto: "redis"; op: "get" | "set"; pipeline: number }
  | { proto: "mc"; op: McOp; pipeline: number };

/** Every case, in the order they run and print. */
export const ALL_CASES: readonly Case[] = [
  { proto: "redis", op: "set", pipeline: 1 },
  { proto: "redis", op: "get", pipeline: 1 },
  { proto: "redis", op: "set", pipeline: 16 },
  { proto: "redis", op: "get", pipeline: 16 },
  { proto: "mc", op: "set", pipeline: 1 },
  { proto: "mc", op: "get", pipeline: 1 },
  { proto: "mc", op: "set", pipeline: 16 },
  { proto: "mc", op: "get", pipeline: 16 },
  { proto: "mc", op: "mget", pipeline: 1 },
];

/** A case's name, as the table prints it and CASES selects it: e.g. `redis get P16`, `mc mget10 P1`. */
export function caseLabel(c: Case): string {
  return `${c.proto} ${c.op}${c.op === "mget" ? "10" : ""} P${c.pipeline}`;
}

/** The bench's settings. */
export interface Knobs {
  rounds: number;
  conns: number;
  /** Seconds of each memcache load. */
  mcSecs: number;
  /** Request cap of each memcache load. */
  mcMax: number;
  redisN1: number;
  redisN16: number;
  /** Idle clients of the RSS measurement, 0 to skip it. */
  idle: number;
  /** Seconds after which a load is killed. */
  runTimeout: number;
  /** `--workers N` for a second tsproxy target, null for none. */
  workers: number | null;
  /** Extra flags of the A/B target tsproxy-b, null for no such target. */
  bFlags: string[] | null;
  cases: Case[];
}

/** One numeric environment knob: its name, default (null: unset), bounds and meaning. */
export interface NumericKnob {
  name: string;
  dflt: number | null;
  lo: number;
  hi: number;
  integer: boolean;
  meaning: string;
}

/** The numeric knobs, by the Knobs field each sets. */
export const NUMERIC_KNOBS = {
  rounds: {
    name: "ROUNDS",
    dflt: 5,
    lo: 1,
    hi: 50,
    integer: true,
    meaning: "rounds; each runs every case against every target, the target order rotating each round",
  },
  conns: {
    name: "CONNS",
    dflt: 50,
    lo: 1,
    hi: 1000,
    integer: true,
    meaning: "client connections of each load (redis-benchmark -c, mc_load --conns)",
  },
  mcSecs: {
    name: "SECS",
    dflt: 1.3,
    lo: 0.1,
    hi: 30,
    integer: false,
    meaning: "seconds each memcache load runs (it stops at SECS or MC_MAX, whichever comes first)",
  },
  mcMax: {
    name: "MC_MAX",
    dflt: 3_000_000,
    lo: 1000,
    hi: 100_000_000,
    integer: true,
    meaning: "most requests of one memcache load",
  },
  redisN1: {
    name: "REDIS_N_P1",
    dflt: 60_000,
    lo: 1000,
    hi: 10_000_000,
    integer: true,
    meaning: "requests of each redis load without pipelining (redis-benchmark -n, -P 1)",
  },
  redisN16: {
    name: "REDIS_N_P16",
    dflt: 600_000,
    lo: 1000,
    hi: 100_000_000,
    integer: true,
    meaning: "requests of each redis load with pipeline depth 16 (redis-benchmark -n, -P 16)",
  },
  idle: {
    name: "IDLE",
    dflt: 1000,
    lo: 0,
    hi: 5000,
    integer: true,
    meaning: "idle memcache clients held on each proxy to measure its idle RSS; 0 skips the measurement",
  },
  runTimeout: {
    name: "RUN_TIMEOUT",
    dflt: 60,
    lo: 5,
    hi: 600,
    integer: true,
    meaning: "seconds after which a load is killed and recorded as an error (the run then exits 1)",
  },
  workers: {
    name: "TSPROXY_WORKERS",
    dflt: null,
    lo: 1,
    hi: 64,
    integer: true,
    meaning: "adds a target tsproxy-wN: tsproxy --workers N (unset: no such target)",
  },
} as const satisfies Record<string, NumericKnob>;

/** What CASES means; its default is every case. */
export const CASES_MEANING = "comma-separated case names to run, in the table's order (unset: every case)";

/** The A/B target's name: tsproxy with TSPROXY_B_FLAGS appended. */
export const TSPROXY_B = "tsproxy-b";

/** The knob that adds the A/B target, and the most words it takes. */
export const B_FLAGS_KNOB = {
  name: "TSPROXY_B_FLAGS",
  maxWords: 16,
  meaning: `adds an A/B target ${TSPROXY_B}: tsproxy plus these flags (split on whitespace, e.g. ` +
    "'--admin-port=0'), reported over tsproxy per case (unset: no such target)",
} as const;

/** Every knob's name, as readKnobs reads them. */
export const KNOB_NAMES: readonly string[] = [
  ...Object.values(NUMERIC_KNOBS).map((k) => k.name),
  "CASES",
  B_FLAGS_KNOB.name,
];

function read(env: Record<string, string | undefined>, k: NumericKnob): number | null {
  const raw = env[k.name];
  if (raw === undefined || raw === "") return k.dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < k.lo || n > k.hi) {
    throw new Error(`${k.name}=${raw}: must be a number in ${k.lo}..${k.hi}`);
  }
  if (k.integer && !Number.isInteger(n)) throw new Error(`${k.name}=${raw}: must be an integer`);
  return n;
}

/**
 * TSPROXY_B_FLAGS as words, null when unset or blank. The first word must be a flag: tsproxy skips
 * operands, so `admin-port=0` would silently run a B identical to A.
 */
function readFlags(env: Record<string, string | undefined>): string[] | null {
  const { name, maxWords } = B_FLAGS_KNOB;
  const raw = env[name] ?? "";
  const words = raw.split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return null;
  if (words.length > maxWords) throw new Error(`${name}=${raw}: at most ${maxWords} words`);
  if (!words[0].startsWith("-")) throw new Error(`${name}=${raw}: must start with a flag ('-...')`);
  return words;
}

/** A knob with a default: never null. */
const value = (env: Record<string, string | undefined>, k: NumericKnob & { dflt: number }) => read(env, k)!;

/** Reads the knobs from an environment; throws on a value out of bounds or an unknown case name. */
export function readKnobs(env: Record<string, string | undefined>): Knobs {
  let cases = [...ALL_CASES];
  const wanted = (env.CASES ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (wanted.length > 0) {
    const known = new Set(ALL_CASES.map(caseLabel));
    const unknown = wanted.filter((w) => !known.has(w));
    if (unknown.length > 0) {
      throw new Error(`CASES: unknown ${unknown.join(", ")} (known: ${[...known].join(", ")})`);
    }
    cases = cases.filter((c) => wanted.includes(caseLabel(c)));
  }
  const k = NUMERIC_KNOBS;
  return {
    rounds: value(env, k.rounds),
    conns: value(env, k.conns),
    mcSecs: value(env, k.mcSecs),
    mcMax: value(env, k.mcMax),
    redisN1: value(env, k.redisN1),
    redisN16: value(env, k.redisN16),
    idle: value(env, k.idle),
    runTimeout: value(env, k.runTimeout),
    workers: read(env, k.workers),
    bFlags: readFlags(env),
    cases,
  };
}

/** The knobs: each one's name, default and bounds on a line, its meaning on the next; then the case names. */
export function knobsHelp(): string {
  const rows = Object.values(NUMERIC_KNOBS).map((k: NumericKnob) => [
    k.name,
    `default ${k.dflt ?? "unset"}, ${k.integer ? "an integer" : "a number"} in ${k.lo}..${k.hi}`,
    k.meaning,
  ]);
  rows.push(["CASES", "default unset, case names from the list below", CASES_MEANING]);
  rows.push([
    B_FLAGS_KNOB.name,
    `default unset, at most ${B_FLAGS_KNOB.maxWords} words, the first a flag`,
    B_FLAGS_KNOB.meaning,
  ]);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.flatMap((
    [name, dflt, meaning],
  ) => [`  ${name.padEnd(width)}  ${dflt}`, `      ${meaning}`]);
  lines.push("", "Cases, in the order they run:");
  for (const proto of ["redis", "mc"]) {
    lines.push(`  ${ALL_CASES.filter((c) => c.proto === proto).map(caseLabel).join(", ")}`);
  }
  return lines.join("\n");
}

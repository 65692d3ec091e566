/**
 * The bench's settings: its cases and the environment knobs that size it (ROUNDS, CONNS, SECS, CASES,
 * REDIS_N_P1, REDIS_N_P16, MC_MAX, IDLE, RUN_TIMEOUT, TSPROXY_WORKERS), each bounded.
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
  cases: Case[];
}

function num(
  env: Record<string, string | undefined>,
  name: string,
  dflt: number,
  lo: number,
  hi: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < lo || n > hi) {
    throw new Error(`${name}=${raw}: must be a number in ${lo}..${hi}`);
  }
  return n;
}

const int = (env: Record<string, string | undefined>, name: string, dflt: number, lo: number, hi: number) => {
  const n = num(env, name, dflt, lo, hi);
  if (!Number.isInteger(n)) throw new Error(`${name}=${env[name]}: must be an integer`);
  return n;
};

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
  const workers = env.TSPROXY_WORKERS;
  return {
    rounds: int(env, "ROUNDS", 5, 1, 50),
    conns: int(env, "CONNS", 50, 1, 1000),
    mcSecs: num(env, "SECS", 1.3, 0.1, 30),
    mcMax: int(env, "MC_MAX", 3_000_000, 1000, 100_000_000),
    redisN1: int(env, "REDIS_N_P1", 60_000, 1000, 10_000_000),
    redisN16: int(env, "REDIS_N_P16", 600_000, 1000, 100_000_000),
    idle: int(env, "IDLE", 1000, 0, 5000),
    runTimeout: int(env, "RUN_TIMEOUT", 60, 5, 600),
    workers: workers === undefined || workers === "" ? null : int(env, "TSPROXY_WORKERS", 0, 1, 64),
    cases,
  };
}

/**
 * The reload checks, memcache and redis on real backends, each reporting its figures on one line.
 * While clients pipeline verified SET/GET pairs, tsproxy's -c file is rewritten and reloaded with
 * POST /reload:
 *
 * - servers are added, removed and reweighted; the hash, the distribution and the hash tag change:
 *   no error reply, no reply crossed to another request, no client disconnected, and keys written
 *   afterwards are where a fresh tsproxy started on the final file looks for them;
 * - a pool is added and another removed beside the pool under load: the new one serves, the removed
 *   one's port refuses and its client is closed once the requests it sent are answered;
 * - an invalid file is refused with 422 and nothing changes but the failed reloads counter;
 * - with --workers=2, every worker applies every change.
 *
 * nutcracker 0.5.0 has no reload: behind it the checks are reported as not applicable.
 */
import { REAL_BINARY, sleep, Tally } from "../abuse_lab.ts";
import type { Proto } from "../fuzz.ts";
import { freePort, type ProxyKind, startTsproxy } from "../procs.ts";
import {
  type Answer,
  type ClientEnd,
  Load,
  type LoadSize,
  loadValue,
  pipeline,
  playOnce,
  type PoolSpec,
  type ReloadLab,
  withReloadLab,
} from "../reload_lab.ts";
import { type Check, type Outcome, playTsproxyOnly } from "../runner.ts";

/** How big each check plays: the harness's size, or the test suite's smaller one. */
export interface Sizes extends LoadSize {
  /** Load before the first reload, between two reloads, and after the last. */
  phaseMs: number;
  /** Keys written after the last reload whose placement is compared with a fresh start. */
  placed: number;
}

/** `deno task harness --only reload`. */
export const FULL: Sizes = { clients: 8, keys: 64, depth: 16, phaseMs: 500, placed: 200 };

/** The test suite's bounded run. */
export const SMALL: Sizes = { clients: 4, keys: 32, depth: 16, phaseMs: 250, placed: 100 };

const N = (n: number) => n.toLocaleString("en-US");

/** One file of a sequence: what it changes, and its one pool's directives and servers. */
interface Step {
  what: string;
  directives: string[];
  servers: PoolSpec["servers"];
}

const FNV = ["hash: fnv1a_64", "distribution: ketama"];
const THREE: PoolSpec["servers"] = [["s1", 1], ["s2", 1], ["s3", 1]];

/** Servers added, removed and reweighted (s4 is started with the others, unused at first). */
const SERVER_CHANGES: Step[] = [
  { what: "start", directives: FNV, servers: THREE },
  { what: "s4 added", directives: FNV, servers: [...THREE, ["s4", 1]] },
  { what: "s2 removed", directives: FNV, servers: [["s1", 1], ["s3", 1], ["s4", 1]] },
  { what: "reweighted", directives: FNV, servers: [["s1", 1], ["s3", 3], ["s4", 2]] },
];

/** The hash, then the distribution, then the hash tag. */
const HASH_CHANGES: Step[] = [
  { what: "start", directives: FNV, servers: THREE },
  { what: "fnv1a_64 -> murmur", directives: ["hash: murmur", "distribution: ketama"], servers: THREE },
  { what: "ketama -> modula", directives: ["hash: murmur", "distribution: modula"], servers: THREE },
  {
    what: 'hash_tag "{}"',
    directives: ["hash: murmur", "distribution: modula", 'hash_tag: "{}"'],
    servers: THREE,
  },
];

/** The backends a sequence's files name. */
function backendsOf(steps: readonly Step[]): string[] {
  return [...new Set(steps.flatMap((s) => s.servers.map(([name]) => name)))].sort();
}

// ---------------------------------------------------------------------------------------------
// What the checks judge

/** Rewrites the file to each text in turn, `phaseMs` apart, and reloads it; the answers. */
async function reloadEach(lab: ReloadLab, files: string[], phaseMs: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (const text of files) {
    await sleep(phaseMs);
    lab.rewrite(text);
    answers.push(await lab.reload());
  }
  await sleep(phaseMs);
  return answers;
}

/** Answers that are not "applied" (200, ok, changed), with every one of `workers` workers ok. */
function notApplied(answers: Answer[], workers: number): string[] {
  const failed: string[] = [];
  answers.forEach(({ status, outcome }, i) => {
    const each = outcome.workers ?? [];
    const workersOk = workers === 1 || (each.length === workers && each.every((w) => w.ok));
    if (status !== 200 || !outcome.ok || !outcome.changed || !workersOk) {
      failed.push(`reload ${i + 1} answered ${status} ${JSON.stringify(outcome)}`);
    }
  });
  return failed;
}

/** What the loading clients saw: one part of a figures line, and the failed criteria. */
function judgeLoad(load: Load, ends: ClientEnd[], seconds: number): [string, string[]] {
  const { tally } = load;
  const kept = ends.filter((e) => e.kept).length;
  const unanswered = ends.reduce((n, e) => n + e.unanswered, 0);
  const failed: string[] = [];
  if (tally.errors > 0) failed.push(`${tally.errors} error replies`);
  if (tally.crossed > 0) failed.push(`${tally.crossed} replies crossed to another request`);
  if (unanswered > 0) failed.push(`${unanswered} requests unanswered`);
  const closed = ends.filter((e) => e.closed).length;
  if (kept < ends.length) failed.push(`${ends.length - kept} clients lost (${closed} closed by the proxy)`);
  return [
    `${N(load.served)} requests served to ${ends.length} clients in ${seconds.toFixed(1)} s: ` +
    `${tally.errors} error replies, ${tally.crossed} crossed, ${unanswered} unanswered, ` +
    `${kept}/${ends.length} clients kept`,
    failed,
  ];
}

/**
 * Writes `count` keys through the lab's pool `pool` (as reloaded), then reads them through a fresh
 * tsproxy started on a file of that pool on another port: a key is found only if both proxies place
 * it on the same server.
 */
export async function samePlacement(
  lab: ReloadLab,
  pool: PoolSpec,
  count: number,
): Promise<{ found: number; samples: string[] }> {
  const keys = Array.from({ length: count }, (_, i) => `placed:{${i % 50}}:${i}`);
  const value = (key: string) => `${key}@reloaded`;
  const stored = new Tally();
  if (await playOnce(pool.port, lab.proto, pipeline(lab.proto, keys, ["set"], value), stored) !== count) {
    throw new Error(`storing ${count} keys through the reloaded proxy failed:\n${stored.samples.join("\n")}`);
  }
  const fresh = { ...pool, port: freePort() };
  const proxy = await startTsproxy(lab.file([fresh]), [fresh.port], ["--admin-port=0"]);
  try {
    const read = new Tally();
    const found = await playOnce(fresh.port, lab.proto, pipeline(lab.proto, keys, ["get"], value), read);
    return { found, samples: read.samples };
  } finally {
    await proxy.stop();
  }
}

/** Whether connecting to `port` is refused (nothing listens there). */
async function refuses(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

/** The evidence of a failed check: the wrong replies and the end of the proxy's log. */
function evidence(failed: string[], tally: Tally, lab: ReloadLab): string[] {
  return failed.length === 0 ? [] : [...tally.samples, `tsproxy's log:\n${lab.stderr().slice(-2000)}`];
}

// ---------------------------------------------------------------------------------------------
// The checks

/**
 * Clients load one pool while its file goes through `steps` (one reload each); then keys written
 * through the proxy must be found by a fresh tsproxy on the final file.
 */
function changesUnderLoad(proto: Proto, sizes: Sizes, steps: Step[], workers = 1): Promise<Outcome> {
  const port = freePort();
  const pools = steps.map((s): PoolSpec => ({ name: "reload", port, ...s }));
  const opts = { proxyArgs: workers > 1 ? [`--workers=${workers}`] : [], processes: workers };
  return withReloadLab(proto, backendsOf(steps), [pools[0]], opts, async (lab) => {
    await lab.preload(Load.keys("load", sizes), loadValue);
    const t0 = performance.now();
    const load = Load.start(port, proto, "load", sizes);
    const answers = await reloadEach(lab, pools.slice(1).map((p) => lab.file([p])), sizes.phaseMs);
    const ends = await load.stop();
    const [served, loadFailed] = judgeLoad(load, ends, (performance.now() - t0) / 1000);
    const placed = await samePlacement(lab, pools.at(-1)!, sizes.placed);
    const failed = [...notApplied(answers, workers), ...loadFailed];
    if (placed.found < sizes.placed) {
      failed.push(
        `${sizes.placed - placed.found} of ${sizes.placed} keys are not where a fresh start puts them`,
      );
    }
    const byWorkers = workers === 1
      ? ""
      : `, each answered by ${
        answers.map((a) => `${a.outcome.workers?.filter((w) => w.ok).length ?? 0}/${workers}`).join(", ")
      } workers ok`;
    return {
      figures: `${answers.length} reloads (${
        steps.slice(1).map((s) => s.what).join(", ")
      }) applied in ${
        answers.map((a) => a.outcome.ms).join(", ")
      } ms${byWorkers}; ${served}; ${placed.found}/${sizes.placed} keys written afterwards found by a ` +
        `fresh tsproxy on the final file`,
      failed,
      detail: [...evidence(failed, load.tally, lab), ...placed.samples],
    };
  });
}

/** How long the removed pool's backend is paused before the reload: its client's batch gets there. */
const PAUSE_MS = 100;

/** The drain the proxy logged for the removed pool: requests in flight when it began. */
const DRAIN_LOG =
  /drain of pools left by the reload \(gone\) started: (\d+) clients with (\d+) requests in flight/;

/**
 * Clients load a pool that stays while one client pipelines on a pool that the reload removes, and
 * another pool is added. The removed pool's backend is paused (SIGSTOP) across the reload so that
 * the client's batch is in flight when the drain begins. The kept pool's clients see nothing, the new
 * pool serves, the removed pool's port refuses, and its client gets the replies of the batch in
 * flight in full before its connection is closed.
 */
function poolsUnderLoad(proto: Proto, sizes: Sizes): Promise<Outcome> {
  const kept: PoolSpec = { name: "kept", port: freePort(), directives: FNV, servers: THREE };
  const gone: PoolSpec = { name: "gone", port: freePort(), servers: [["g1", 1]] };
  const added: PoolSpec = { name: "added", port: freePort(), servers: [["s2", 1], ["s3", 1]] };
  const leavingSize = { clients: 1, keys: sizes.keys, depth: sizes.depth };
  return withReloadLab(proto, ["s1", "s2", "s3", "g1"], [kept, gone], {}, async (lab) => {
    await lab.preload([...Load.keys("load", sizes), ...Load.keys("gone", leavingSize)], loadValue);
    const t0 = performance.now();
    const load = Load.start(kept.port, proto, "load", sizes);
    const leaving = Load.start(gone.port, proto, "gone", leavingSize);
    await sleep(sizes.phaseMs);
    lab.pause("g1", true);
    let answer: Answer;
    let refused: boolean;
    let before: number;
    try {
      await sleep(PAUSE_MS); // the client's batch reaches the paused backend
      before = leaving.batches;
      lab.rewrite(lab.file([kept, added]));
      answer = await lab.reload();
      refused = await refuses(gone.port);
    } finally {
      lab.pause("g1", false);
    }
    await sleep(sizes.phaseMs);
    const [ends, [left]] = await Promise.all([load.stop(), leaving.stop()]);
    const [served, failed] = judgeLoad(load, ends, (performance.now() - t0) / 1000);
    failed.unshift(...notApplied([answer], 1));
    const probe = new Tally();
    const ex = pipeline(proto, ["added:probe"], ["set", "get"], loadValue);
    const serves = await playOnce(added.port, proto, ex, probe) === 2;
    if (!serves) failed.push(`the added pool does not serve: ${probe.samples.join("\n")}`);
    if (!refused) failed.push("the removed pool's port still accepts connections after the reload");
    const wrong = leaving.tally.errors + leaving.tally.crossed;
    if (wrong > 0) failed.push(`the removed pool's client got ${wrong} wrong replies`);
    const after = leaving.batches - before;
    if (after === 0) failed.push("the removed pool's batch in flight at the reload was not answered");
    if (left.kept || !left.closed) failed.push("the removed pool's client was not closed");
    if (left.partly) failed.push("the removed pool's client was closed with requests unanswered");
    const drain = DRAIN_LOG.exec(lab.stderr());
    return {
      figures:
        `reload (${answer.outcome.summary}) applied in ${answer.outcome.ms} ms; kept pool: ${served}; ` +
        `added pool ${serves ? "serves" : "does NOT serve"}; removed pool: its port ${
          refused ? "refuses" : "still ACCEPTS"
        }, its client's batch in flight (${drain?.[2] ?? "?"} requests at the drain's start, held at the ` +
        `paused backend) ${after > 0 ? "answered" : "NOT answered"}, then the client ${
          left.closed && !left.partly ? "closed" : "NOT closed cleanly"
        } (${N(leaving.served)} replies right in all)`,
      failed,
      detail: [...evidence(failed, load.tally, lab), ...leaving.tally.samples],
    };
  });
}

/**
 * Under load, the file is replaced by one naming an unknown hash: the reload is refused with 422 and
 * its reason, the configuration in force and its checksum stay, the clients see nothing, and only
 * the failed reloads counter moves (by one).
 */
function invalidUnderLoad(proto: Proto, sizes: Sizes): Promise<Outcome> {
  const pool: PoolSpec = { name: "reload", port: freePort(), directives: FNV, servers: THREE };
  return withReloadLab(proto, ["s1", "s2", "s3"], [pool], {}, async (lab) => {
    await lab.preload(Load.keys("load", sizes), loadValue);
    const t0 = performance.now();
    const load = Load.start(pool.port, proto, "load", sizes);
    await sleep(sizes.phaseMs);
    const before = await lab.reloads();
    lab.rewrite(lab.file([{ ...pool, directives: ["hash: sha1", "distribution: ketama"] }]));
    const { status, outcome } = await lab.reload();
    await sleep(sizes.phaseMs);
    const ends = await load.stop();
    const after = await lab.reloads();
    const [served, failed] = judgeLoad(load, ends, (performance.now() - t0) / 1000);
    if (status !== 422 || outcome.ok || outcome.changed || !outcome.error) {
      failed.unshift(`the invalid file was answered ${status} ${JSON.stringify(outcome)}`);
    }
    if (after.failed !== before.failed + 1) {
      failed.push(`failed reloads went from ${before.failed} to ${after.failed}`);
    }
    if (after.ok !== before.ok) failed.push(`applied reloads went from ${before.ok} to ${after.ok}`);
    const same = after.checksum === before.checksum && outcome.checksum === before.checksum;
    if (!same) failed.push(`the checksum in force went from ${before.checksum} to ${after.checksum}`);
    return {
      figures:
        `${status} "${outcome.error}" in ${outcome.ms} ms; ${served}; failed reloads ${before.failed} -> ${after.failed}, applied ${before.ok} -> ${after.ok}, checksum in force ${
          same ? "unchanged" : "CHANGED"
        }`,
      failed,
      detail: evidence(failed, load.tally, lab),
    };
  });
}

/** One reload check: what it plays, on which protocol. */
export interface ReloadCheck {
  name: string;
  proto: Proto;
  play(sizes: Sizes): Promise<Outcome>;
}

const PLAYS: { name: string; play(proto: Proto, sizes: Sizes): Promise<Outcome> }[] = [
  {
    name:
      "servers added, removed and reweighted under pipelined load; keys land where a fresh start puts them",
    play: (proto, sizes) => changesUnderLoad(proto, sizes, SERVER_CHANGES),
  },
  {
    name: "the hash, the distribution and the hash tag changed under pipelined load; keys land where a " +
      "fresh start puts them",
    play: (proto, sizes) => changesUnderLoad(proto, sizes, HASH_CHANGES),
  },
  {
    name:
      "a pool added and a pool removed beside a pool under load: the removed pool's client is answered, " +
      "then closed",
    play: poolsUnderLoad,
  },
  {
    name: "an invalid file under load is refused with 422 and changes nothing but the failed reloads counter",
    play: invalidUnderLoad,
  },
  {
    name: "with --workers=2 every worker applies server changes under pipelined load",
    play: (proto, sizes) => changesUnderLoad(proto, sizes, SERVER_CHANGES, 2),
  },
];

export const RELOAD: ReloadCheck[] = PLAYS.flatMap(({ name, play }) =>
  (["memcache", "redis"] as const).map((proto) => ({
    name: `${proto}: ${name} (${REAL_BINARY[proto]})`,
    proto,
    play: (sizes: Sizes) => play(proto, sizes),
  }))
);

/** Plays one reload check and prints its figures; throws on a failed criterion. */
export function runReload(
  check: ReloadCheck,
  kind: ProxyKind,
  sizes: Sizes,
  write: (line: string) => void = console.log,
): Promise<void> {
  return playTsproxyOnly(kind, "configuration reload", () => check.play(sizes), write);
}

/** The reload checks at full size, for `deno task harness`. */
export const RELOAD_CHECKS: Check[] = RELOAD.map((c) => ({
  group: "reload: configuration changes under pipelined load (tsproxy only)",
  name: c.name,
  needs: [REAL_BINARY[c.proto]],
  run: (kind: ProxyKind) => runReload(c, kind, FULL),
}));

/**
 * The failover checks: tsproxy in front of a Sentinel lab (two masters with a replica each, three
 * sentinels), under pipelined load, each reporting its figures on one line:
 *
 * - a master killed: the time from the sentinels' +switch-master to the first reply from the new
 *   master, the errors (only on the dead master's keys, none for a request sent once the new master
 *   answered, none on the other master's), and every key still where its server's name puts it;
 * - a master failed over by hand (SENTINEL FAILOVER) while it is up: once tsproxy moved, the old
 *   master receives no request (counted on it);
 * - the sentinel in use killed: tsproxy moves to another one and still follows a failover;
 * - read_from replica: reads land on the replicas Sentinel names (counted on them), writes never do.
 *
 * nutcracker 0.5.0 has no Sentinel support: behind it the checks are reported as not applicable.
 */
import { freePort, type ProxyKind, type ProxyProc, readStats, startTsproxy } from "../procs.ts";
import { type Check, type Outcome, playTsproxyOnly } from "../runner.ts";
import { caughtUp, SentinelLab } from "../sentinel_lab.ts";
import { RespConnection, RespError, type RespValue } from "../../src/ha/resp_client.ts";

/** How big a play is: clients, requests each keeps in flight, keys. */
export interface Sizes {
  clients: number;
  depth: number;
  keys: number;
}

/** `deno task harness --only failover`. */
export const FULL: Sizes = { clients: 8, depth: 16, keys: 400 };

/** The test suite's bounded run. */
export const SMALL: Sizes = { clients: 4, depth: 8, keys: 100 };

const HOST = "127.0.0.1";
const TIMEOUT_MS = 3000;
const SWITCH_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The proxy's pools: `ha` reads from masters (nutcracker's way), `reads` from replicas only. */
function proxyYaml(lab: SentinelLab, ports: { ha: number; reads: number }): string {
  const pool = (name: string, port: number, extra: string[]) => [
    `${name}:`,
    `  listen: ${HOST}:${port}`,
    "  redis: true",
    "  hash: fnv1a_64",
    "  distribution: ketama",
    `  timeout: ${TIMEOUT_MS}`,
    "  sentinel_poll_interval: 1000",
    ...extra,
    "  sentinels:",
    ...lab.sentinels.map((s) => `    - ${s.host}:${s.port}:1`),
    "  servers:",
    ...lab.masters.map((m) => `    - ${m.host}:${m.port}:1 ${m.name}`),
  ];
  return [...pool("ha", ports.ha, []), ...pool("reads", ports.reads, ["  read_from: replica"]), ""].join(
    "\n",
  );
}

/** A lab, tsproxy in front of it, and the keys written through it (each key's value is its name). */
interface Stage {
  lab: SentinelLab;
  proxy: ProxyProc;
  ports: { ha: number; reads: number };
  keys: string[];
  /** The server name each key was found on, read from the masters themselves. */
  owner: Map<string, string>;
}

async function withStage<T>(sizes: Sizes, fn: (stage: Stage) => Promise<T>): Promise<T> {
  const lab = await SentinelLab.start({ masters: 2 });
  let proxy: ProxyProc | null = null;
  try {
    const ports = { ha: freePort(), reads: freePort() };
    proxy = await startTsproxy(proxyYaml(lab, ports), [ports.ha, ports.reads]);
    const keys = Array.from({ length: sizes.keys }, (_, i) => `key:${i}`);
    const c = await RespConnection.open(HOST, ports.ha, TIMEOUT_MS);
    try {
      const replies = await Promise.all(keys.map((k) => c.command("SET", k, k)));
      if (replies.some((r) => r !== "OK")) {
        throw new Error(`a SET through tsproxy failed: ${replies.find((r) => r !== "OK")}`);
      }
    } finally {
      c.close();
    }
    const owner = new Map<string, string>();
    for (const m of lab.masters) {
      const direct = await RespConnection.open(m.host, m.port, TIMEOUT_MS);
      try {
        const found = await Promise.all(keys.map((k) => direct.command("EXISTS", k)));
        found.forEach((n, i) => n === 1 && owner.set(keys[i], m.name));
      } finally {
        direct.close();
      }
    }
    await replicated(lab);
    return await fn({ lab, proxy, ports, keys, owner });
  } finally {
    await proxy?.stop();
    await lab.stop();
  }
}

/** Waits until every replica of the lab has applied all its master wrote. */
function replicated(lab: SentinelLab): Promise<void> {
  return caughtUp(lab.masters.map((m) => m.port), lab.replicas.map((r) => r.port));
}

/** One reply the load saw: when, for which key, and whether it was right. */
interface Seen {
  /** When the request went out, and when its reply came (replies come in the client's order). */
  sentAt: number;
  at: number;
  key: string;
  ok: boolean;
  text: string;
}

/** Clients pipelining GETs of the keys (each must answer the key's own name) until stopped. */
class Load {
  readonly seen: Seen[] = [];
  #running = true;
  readonly #done: Promise<void>[];

  constructor(port: number, keys: string[], sizes: Sizes) {
    this.#done = Array.from({ length: sizes.clients }, (_, c) => this.#client(port, keys, sizes.depth, c));
  }

  async #client(port: number, keys: string[], depth: number, c: number): Promise<void> {
    let next = c;
    while (this.#running) {
      let conn: RespConnection;
      try {
        conn = await RespConnection.open(HOST, port, TIMEOUT_MS);
      } catch {
        await sleep(20);
        continue;
      }
      try {
        while (this.#running) {
          const batch = Array.from({ length: depth }, () => keys[next++ % keys.length]);
          // Each reply is timed as it comes: a batch's replies come from both masters, at their own pace.
          const sentAt = performance.now();
          const replies = await Promise.all(batch.map((k) =>
            conn.command("GET", k).then(
              (value) => this.#saw(seen(sentAt, k, { status: "fulfilled", value })),
              (reason) => this.#saw(seen(sentAt, k, { status: "rejected", reason })),
            )
          ));
          if (replies.some((r) => r.text.startsWith("connection:"))) break; // the connection is gone
        }
      } finally {
        conn.close();
      }
    }
  }

  #saw(s: Seen): Seen {
    this.seen.push(s);
    return s;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#done);
  }
}

function seen(sentAt: number, key: string, r: PromiseSettledResult<RespValue>): Seen {
  const at = performance.now();
  if (r.status === "rejected") return { sentAt, at, key, ok: false, text: `connection: ${r.reason}` };
  const v = r.value;
  if (v === key) return { sentAt, at, key, ok: true, text: "" };
  return { sentAt, at, key, ok: false, text: v instanceof RespError ? `-${v.message}` : JSON.stringify(v) };
}

/** Polls the stats port until server `name` of pool `pool` is at `address`; when it was seen there. */
async function proxyMoved(proxy: ProxyProc, pool: string, name: string, address: string): Promise<number> {
  const deadline = performance.now() + SWITCH_MS;
  for (;;) {
    const stats = await readStats(proxy.statsPort) as Record<string, Record<string, Record<string, unknown>>>;
    if (stats[pool][name].address === address) return performance.now();
    if (performance.now() > deadline) throw new Error(`tsproxy did not move ${pool}/${name} to ${address}`);
    await sleep(5);
  }
}

const ms = (n: number) => `${Math.round(n)} ms`;

/** The different error replies seen (at most three), for the figures. */
const kinds = (errors: Seen[]) => [...new Set(errors.map((e) => e.text))].slice(0, 3).join(" | ") || "none";

/** Every key read through tsproxy answers its value, from the master its server's name now names. */
async function placementKept(stage: Stage, failed: string[]): Promise<void> {
  const c = await RespConnection.open(HOST, stage.ports.ha, TIMEOUT_MS);
  try {
    const values = await Promise.all(stage.keys.map((k) => c.command("SET", k, `${k}!`)));
    if (values.some((v) => v !== "OK")) {
      failed.push(`a SET after the failover failed: ${values.find((v) => v !== "OK")}`);
    }
  } finally {
    c.close();
  }
  const stats = await readStats(stage.proxy.statsPort) as Record<
    string,
    Record<string, Record<string, unknown>>
  >;
  let misplaced = 0;
  for (const m of stage.lab.masters) {
    const [host, port] = String(stats.ha[m.name].address).split(":");
    const direct = await RespConnection.open(host, Number(port), TIMEOUT_MS);
    try {
      for (const k of stage.keys.filter((k) => stage.owner.get(k) === m.name)) {
        if (await direct.command("GET", k) !== `${k}!`) misplaced++;
      }
    } finally {
      direct.close();
    }
  }
  if (misplaced > 0) failed.push(`${misplaced} keys written after the failover not on their server's master`);
}

/** A master killed under load. */
async function masterKilled(sizes: Sizes): Promise<Outcome> {
  return await withStage(sizes, async (stage) => {
    const { lab, keys, owner } = stage;
    const failed: string[] = [];
    const load = new Load(stage.ports.ha, keys, sizes);
    await sleep(300);
    const killedAt = performance.now();
    await lab.kill("shard1");
    const sw = await lab.waitForSwitch("shard1", SWITCH_MS);
    let firstReply = Infinity;
    const deadline = performance.now() + 10_000;
    while (firstReply === Infinity && performance.now() < deadline) {
      await sleep(10);
      firstReply = load.seen.find((s) => s.at >= sw.seenAt && s.ok && owner.get(s.key) === "shard1")?.at ??
        Infinity;
    }
    await sleep(500);
    await load.stop();
    if (firstReply === Infinity) failed.push("no reply from the new master within 10 s of the switch");
    const errors = load.seen.filter((s) => !s.ok);
    const other = errors.filter((s) => owner.get(s.key) !== "shard1");
    // A request sent before the new master answered may still fail (its reply waits for the client's
    // earlier ones); none sent after.
    const late = errors.filter((s) => s.sentAt > firstReply);
    if (other.length > 0) failed.push(`${other.length} errors on the live master's keys: ${other[0].text}`);
    if (late.length > 0) {
      failed.push(`${late.length} errors for requests sent after the new master answered: ${late[0].text}`);
    }
    await placementKept(stage, failed);
    return {
      figures: `switch to first reply from the new master ${ms(firstReply - sw.seenAt)}; kill to switch ` +
        `${
          ms(sw.seenAt - killedAt)
        }; ${load.seen.length} replies, ${errors.length} errors, all on the dead ` +
        `master's keys, none for a request sent once the new master answered (${kinds(errors)}); ` +
        "placement by name kept",
      failed,
      detail: [],
    };
  });
}

/** SENTINEL FAILOVER with the old master up: once tsproxy moved, the old master gets no request. */
async function manualFailover(sizes: Sizes): Promise<Outcome> {
  return await withStage(sizes, async (stage) => {
    const { lab, keys } = stage;
    const failed: string[] = [];
    const load = new Load(stage.ports.ha, keys, sizes);
    await sleep(300);
    await lab.failover("shard2");
    const sw = await lab.waitForSwitch("shard2", SWITCH_MS);
    const movedAt = await proxyMoved(stage.proxy, "ha", "shard2", `${sw.host}:${sw.port}`);
    await sleep(200); // requests written before the move are answered by now
    const before = await lab.calls("shard2", "get");
    await sleep(1000);
    const after = await lab.calls("shard2", "get");
    await load.stop();
    if (after !== before) failed.push(`the old master served ${after - before} GETs after tsproxy moved`);
    const errors = load.seen.filter((s) => !s.ok);
    const late = errors.filter((s) => s.at > movedAt + 200);
    if (late.length > 0) failed.push(`${late.length} errors after the move: ${late[0].text}`);
    return {
      figures: `tsproxy moved ${ms(movedAt - sw.seenAt)} after +switch-master (stats polled); ` +
        `GETs on the old master after the move: ${after - before}; ${load.seen.length} replies, ` +
        `${errors.length} errors, none after the move (${kinds(errors)})`,
      failed,
      detail: [],
    };
  });
}

/** The sentinel in use killed: tsproxy uses another, and still follows a failover. */
async function sentinelKilled(sizes: Sizes): Promise<Outcome> {
  return await withStage(sizes, async (stage) => {
    const { lab, proxy } = stage;
    const failed: string[] = [];
    const inUse = async () =>
      (await readStats(proxy.statsPort) as Record<string, Record<string, unknown>>).ha.sentinel as string;
    const first = await inUse();
    const victim = lab.sentinels.find((s) => `${s.host}:${s.port}` === first);
    if (victim === undefined) throw new Error(`tsproxy uses no sentinel of the lab: "${first}"`);
    const killedAt = performance.now();
    await lab.kill(victim.name);
    let next = first;
    while ((next === first || next === "") && performance.now() - killedAt < 10_000) {
      await sleep(10);
      next = await inUse();
    }
    const movedOn = performance.now() - killedAt;
    if (next === first || next === "") failed.push("tsproxy did not move to another sentinel within 10 s");
    await lab.failover("shard1");
    const sw = await lab.waitForSwitch("shard1", SWITCH_MS);
    const movedAt = await proxyMoved(proxy, "ha", "shard1", `${sw.host}:${sw.port}`);
    return {
      figures: `moved from sentinel ${first} to ${next} in ${ms(movedOn)}; a failover after it followed ` +
        `${ms(movedAt - sw.seenAt)} after +switch-master`,
      failed,
      detail: [],
    };
  });
}

/** read_from replica: GETs counted on the replicas, never on the masters; SETs only on the masters. */
async function replicaReads(sizes: Sizes): Promise<Outcome> {
  return await withStage(sizes, async (stage) => {
    const { lab } = stage;
    const failed: string[] = [];
    const calls = async (command: string, list = lab.masters) => {
      let n = 0;
      for (const i of list) n += await lab.calls(i.port, command);
      return n;
    };
    const deadline = Date.now() + 10_000;
    for (;;) { // the replicas Sentinel named are checked in sync before they are read from
      const stats = await readStats(stage.proxy.statsPort) as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      if (lab.masters.every((m) => stats.reads[m.name].replicas_in_sync === 1)) break;
      if (Date.now() > deadline) throw new Error("tsproxy did not find the replicas in sync within 10 s");
      await sleep(20);
    }
    const [masterGets, replicaGets] = [await calls("get"), await calls("get", lab.replicas)];
    const load = new Load(stage.ports.reads, stage.keys, sizes);
    await sleep(1000);
    await load.stop();
    const ok = load.seen.filter((s) => s.ok).length;
    const errors = load.seen.length - ok;
    if (errors > 0) failed.push(`${errors} errors: ${load.seen.find((s) => !s.ok)!.text}`);
    const onMasters = await calls("get") - masterGets;
    const onReplicas = await calls("get", lab.replicas) - replicaGets;
    if (onMasters > 0) failed.push(`${onMasters} GETs reached a master`);
    if (onReplicas !== load.seen.length) {
      failed.push(`${onReplicas} GETs on replicas for ${load.seen.length} sent`);
    }
    // Writes through the replica pool go to the masters: each replica ran only what it replicated.
    const c = await RespConnection.open(HOST, stage.ports.reads, TIMEOUT_MS);
    try {
      const r = await c.command("SET", "written", "through-reads");
      if (r !== "OK") failed.push(`a SET through the replica pool answered ${JSON.stringify(r)}`);
    } finally {
      c.close();
    }
    await replicated(lab);
    for (let i = 0; i < lab.masters.length; i++) {
      const [m, r] = [
        await lab.calls(lab.masters[i].port, "set"),
        await lab.calls(lab.replicas[i].port, "set"),
      ];
      if (m !== r) failed.push(`${lab.replicas[i].name} ran ${r} SETs, its master ${m}`);
    }
    return {
      figures:
        `${load.seen.length} GETs: ${onReplicas} on replicas, ${onMasters} on masters, ${errors} errors; ` +
        "SETs on replicas only as replicated",
      failed,
      detail: [],
    };
  });
}

/** One failover check. */
export interface FailoverCheck {
  name: string;
  play(sizes: Sizes): Promise<Outcome>;
}

export const FAILOVER: FailoverCheck[] = [
  {
    name: "a master killed under pipelined load: the new master answers soon after +switch-master, errors " +
      "only on the dead master's keys, placement by name kept",
    play: masterKilled,
  },
  {
    name: "SENTINEL FAILOVER under pipelined load: the old master gets no request once tsproxy moved",
    play: manualFailover,
  },
  {
    name: "the sentinel in use killed: tsproxy moves to the next and follows a failover",
    play: sentinelKilled,
  },
  { name: "read_from replica: reads land on the replicas, writes never do", play: replicaReads },
];

/** Plays one failover check and prints its figures; throws on a failed criterion. */
export function runFailover(
  check: FailoverCheck,
  kind: ProxyKind,
  sizes: Sizes,
  write: (line: string) => void = console.log,
): Promise<void> {
  return playTsproxyOnly(kind, "Sentinel support", () => check.play(sizes), write);
}

/** The failover checks at full size, for `deno task harness`. */
export const FAILOVER_CHECKS: Check[] = FAILOVER.map((c) => ({
  group: "failover: Redis Sentinel and replicas under pipelined load (tsproxy only)",
  name: c.name,
  needs: ["redis-server"],
  run: (kind: ProxyKind) => runFailover(c, kind, FULL),
}));

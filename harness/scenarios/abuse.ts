/**
 * The abuse checks: misbehaving clients beside well-behaved checking clients on the same pool and
 * the same server connection, behind tsproxy or nutcracker, each reporting its figures on one line.
 *
 * - fuzzer: seeded random and mutated requests (see harness/fuzz.ts) from clients that reconnect
 *   whenever they are closed, while checking clients play set/get (redis SET/GET/INCR) on keys of
 *   their own and verify every reply byte for byte; the proxy must be alive and serving afterwards;
 * - many clients: thousands of connections open at once, one verified request each, the proxy's
 *   resident memory per client;
 * - slow reader: a client pipelines gets of a large value and never reads; another client's wait;
 * - abandoned upload: a client announces a large value, sends part of it and closes;
 * - resets: clients pipeline requests and reset the connection (SO_LINGER 0) with replies in flight;
 *   the proxy's open descriptors must come back to their baseline.
 *
 * The seed is printed with the fuzzer's figures; `ABUSE_SEED=<n> deno task harness --only fuzzer`
 * replays the same messages.
 */
import { latin1, show } from "../bytes.ts";
import {
  type AbuseLab,
  type BackendKind,
  checkingClient,
  cmd,
  type Exchange,
  type LabOptions,
  mib,
  ms,
  percentile,
  play,
  raw,
  REAL_BINARY,
  sampleRss,
  serves,
  sleep,
  Tally,
  withAbuseLab,
} from "../abuse_lab.ts";
import { Fuzzer, type Proto, Rng, runSeed } from "../fuzz.ts";
import type { ProxyKind } from "../procs.ts";
import type { Check, Outcome } from "../runner.ts";
import { Wire } from "../wire.ts";

/** How big each check plays: the harness's full size, or the test suite's bounded one. */
export interface Sizes {
  /**
   * Random and mutated messages per protocol (about as many valid requests go between them), sent
   * by `fuzzClients` clients beside `checkingClients`, and the time bound on sending them.
   */
  fuzzMessages: number;
  fuzzSeconds: number;
  fuzzClients: number;
  checkingClients: number;
  /** Connections open at once in the many-clients check. */
  clients: number;
  /** The slow reader's pipelined gets, the value's size, and the well-behaved client's requests. */
  slowGets: number;
  slowValue: number;
  wellBehaved: number;
  /** The abandoned upload's announced length and the bytes sent before the close. */
  uploadDeclared: number;
  uploadSent: number;
  /** Connections reset with requests in flight. */
  resets: number;
  /**
   * Whether wait times are pass criteria (the harness, run on its own) or figures only (the test
   * suite, on a machine busy with other tests: a test never times a load).
   */
  timed: boolean;
}

/** `deno task harness --only abuse`. */
export const FULL: Sizes = {
  fuzzMessages: 100_000,
  fuzzSeconds: 150,
  fuzzClients: 4,
  checkingClients: 4,
  clients: 5000,
  slowGets: 200,
  slowValue: 500_000,
  wellBehaved: 200,
  uploadDeclared: 1_000_000,
  uploadSent: 300_000,
  resets: 500,
  timed: true,
};

/** The test suite's bounded run. */
export const SMALL: Sizes = {
  fuzzMessages: 5000,
  fuzzSeconds: 30,
  fuzzClients: 4,
  checkingClients: 4,
  clients: 500,
  slowGets: 40,
  slowValue: 500_000,
  wellBehaved: 60,
  uploadDeclared: 1_000_000,
  uploadSent: 300_000,
  resets: 60,
  timed: false,
};

const N = (n: number) => n.toLocaleString("en-US");

// ---------------------------------------------------------------------------------------------
// Small client tools

/** Writes all of `bytes`; false when the peer is gone or the write takes longer than `timeoutMs`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs));
  const writing = (async () => {
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    return true;
  })().catch(() => false);
  const ok = await Promise.race([writing, timeout]);
  clearTimeout(timer);
  return ok;
}

/** Reads until `want` bytes came (or EOF, or the timeout, or more than `want`); what was read. */
async function readBytes(conn: Deno.Conn, want: number, timeoutMs: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  const buf = new Uint8Array(Math.max(1024, Math.min(want + 1, 65536)));
  while (got < want) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), deadline - Date.now())
    );
    const n = await Promise.race([conn.read(buf).catch(() => null), timeout]);
    clearTimeout(timer);
    if (n === "timeout" || n === null) break;
    chunks.push(buf.slice(0, n));
    got += n;
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** One request and its one expected reply. */
function single(proto: Proto, op: "set" | "get", key: string, value: Uint8Array): Exchange {
  const v = latin1(value);
  if (proto === "memcache") {
    return op === "set"
      ? { request: raw(`set ${key} 0 0 ${value.length}\r\n${v}\r\n`), replies: ["STORED\r\n"] }
      : { request: raw(`get ${key}\r\n`), replies: [`VALUE ${key} 0 ${value.length}\r\n${v}\r\nEND\r\n`] };
  }
  return op === "set"
    ? { request: raw(cmd("SET", key, v)), replies: ["+OK\r\n"] }
    : { request: raw(cmd("GET", key)), replies: [`$${value.length}\r\n${v}\r\n`] };
}

/** Stores `key` = `value` through the proxy; throws when the reply is not the expected one. */
async function store(port: number, proto: Proto, key: string, value: Uint8Array): Promise<void> {
  const wire = await Wire.connect(port);
  try {
    const tally = new Tally();
    if (!(await play(wire, proto, single(proto, "set", key, value), tally, 30_000)).ok) {
      throw new Error(`storing ${key} through the proxy failed:\n${tally.samples.join("\n")}`);
    }
  } finally {
    wire.close();
  }
}

/** A printable value of `n` bytes. */
function filler(n: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 0x61 + rng.int(26);
  return out;
}

/** Runs `fn` for 0..n-1 with at most `width` at a time. */
async function inParallel(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, width) }, async () => {
    while (next < n) await fn(next++);
  }));
}

// ---------------------------------------------------------------------------------------------
// 1. The fuzzer

/** What the fuzz clients did. */
interface FuzzTally {
  /** Random and mutated messages written. */
  sent: number;
  /** Valid requests written between them. */
  valid: number;
  connections: number;
  /** Connections the proxy closed (EOF or reset seen while the client still had messages to send). */
  closedByProxy: number;
  replyBytes: number;
}

/**
 * One fuzz client: sends its quota of messages in pipelined batches of 1..8, over connections that
 * each carry 1..100 of them (then close, sometimes before their replies came); reconnects whenever
 * the proxy closes it. Stops at the quota or the deadline.
 */
async function fuzzClient(
  port: number,
  fuzzer: Fuzzer,
  plan: Rng,
  quota: number,
  deadline: number,
  t: FuzzTally,
): Promise<void> {
  while (quota > 0 && Date.now() < deadline) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      await sleep(20);
      continue;
    }
    t.connections++;
    let closed = false;
    const reading = (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          t.replyBytes += n;
        }
      } catch { /* reset, or closed by us */ }
      closed = true;
    })();
    let onThis = plan.range(1, 100);
    while (onThis > 0 && quota > 0 && !closed && Date.now() < deadline) {
      const batch = Math.min(plan.range(1, 8), onThis);
      const pending: Uint8Array[] = [];
      let fuzzed = 0;
      while (pending.length < batch && fuzzed < quota) {
        const m = fuzzer.next();
        pending.push(m.bytes);
        if (m.mutation !== "valid") fuzzed++;
      }
      const bytes = new Uint8Array(pending.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of pending) {
        bytes.set(p, at);
        at += p.length;
      }
      if (!(await writeAll(conn, bytes, 2000))) break;
      t.sent += fuzzed;
      t.valid += pending.length - fuzzed;
      quota -= fuzzed;
      onThis -= pending.length;
      // Let the proxy read, forward and answer now and then.
      if (plan.chance(0.25)) await sleep(0);
    }
    if (closed && onThis > 0) t.closedByProxy++;
    await Promise.race([reading, sleep(plan.range(0, 20))]);
    try {
      conn.close();
    } catch { /* closed */ }
    await reading;
  }
}

/**
 * Fuzz clients send `fuzzMessages` seeded messages while checking clients play their pairs on the
 * same pool; every checking reply must be its own, and the proxy alive and serving afterwards.
 */
export function fuzzer(
  kind: ProxyKind,
  proto: Proto,
  backend: BackendKind,
  sizes: Sizes,
  seed = runSeed(),
  opts: LabOptions = {},
): Promise<Outcome> {
  return withAbuseLab(
    kind,
    proto,
    backend,
    { ...opts, directives: FUZZ_DIRECTIVES },
    (lab) => fuzzOn(lab, sizes, seed),
  );
}

/** The fuzzer's pool: a server stuck on a request fails it after 3 s (and the run goes on). */
export const FUZZ_DIRECTIVES = ["timeout: 3000"];

/** The fuzzer on a running lab (started with FUZZ_DIRECTIVES). */
export async function fuzzOn(lab: AbuseLab, sizes: Sizes, seed: number): Promise<Outcome> {
  const { kind, proto } = lab;
  const tally = new Tally();
  const fz: FuzzTally = { sent: 0, valid: 0, connections: 0, closedByProxy: 0, replyBytes: 0 };
  const t0 = performance.now();
  const deadline = Date.now() + sizes.fuzzSeconds * 1000;
  let fuzzing = true;
  const tag = `chk:${seed.toString(16)}`;
  const checkers = Array.from(
    { length: sizes.checkingClients },
    (_, c) =>
      checkingClient(
        lab.port,
        proto,
        `${tag}:${c}`,
        new Rng(seed ^ (c + 1) * 0x9e3779b1),
        tally,
        () => !fuzzing,
      ),
  );
  const fuzzers: Fuzzer[] = [];
  const quota = Math.ceil(sizes.fuzzMessages / sizes.fuzzClients);
  await Promise.all(Array.from({ length: sizes.fuzzClients }, (_, f) => {
    const fuzz = new Fuzzer(proto, (seed + f * 0x85ebca6b) >>> 0);
    fuzzers.push(fuzz);
    const plan = new Rng((seed ^ (f + 1) * 0xc2b2ae35) >>> 0);
    return fuzzClient(lab.port, fuzz, plan, Math.min(quota, sizes.fuzzMessages - f * quota), deadline, fz);
  }));
  fuzzing = false;
  await Promise.all(checkers);
  const seconds = (performance.now() - t0) / 1000;
  const executed = await lab.backendRequests().catch(() => NaN);
  const alive = lab.alive();
  const serving = alive && await serves(lab.port, proto, `${tag}:after`);
  const failed: string[] = [];
  if (tally.wrong > 0) failed.push(`${tally.wrong} wrong checking replies (${tally.crossed} crossed)`);
  if (!alive) failed.push("the proxy exited");
  else if (!serving) failed.push("the proxy no longer serves a new client");
  if (fz.sent < sizes.fuzzMessages) {
    failed.push(`only ${N(fz.sent)} of ${N(sizes.fuzzMessages)} messages sent in ${sizes.fuzzSeconds} s`);
  }
  const mutations = Object.entries(
    fuzzers.reduce((all, f) => {
      for (const [m, n] of Object.entries(f.counts)) if (m !== "valid") all[m] = (all[m] ?? 0) + n;
      return all;
    }, {} as Record<string, number>),
  ).map(([m, n]) => `${m} ${N(n)}`).join(", ");
  return {
    figures:
      `${N(fz.sent)} random and mutated messages (seed ${seed}; made: ${mutations}) and ${
        N(fz.valid)
      } valid requests sent over ${N(fz.connections)} connections (${
        N(fz.closedByProxy)
      } closed by the proxy, ${N(Math.round(fz.replyBytes / 1024))} KiB of replies read) in ${
        seconds.toFixed(1)
      } s, ${N(executed)} requests executed by the backend; ${tally.summary()}; ` +
      `proxy ${alive ? "alive" : "EXITED"}${serving ? " and serving" : alive ? " but NOT serving" : ""}`,
    failed,
    detail: [
      ...tally.samples,
      `replay: ABUSE_SEED=${seed} deno task harness --only "${proto} fuzzer" --proxy ${kind}`,
      ...(alive ? [] : [lab.stderr().slice(-2000)]),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Many clients at once

/**
 * `clients` connections opened and held at once, each sending one get of a key stored for it and
 * verifying the reply; the time, the failures and the proxy's resident memory per client.
 */
export function manyClients(
  kind: ProxyKind,
  proto: Proto,
  backend: BackendKind,
  sizes: Sizes,
): Promise<Outcome> {
  return withAbuseLab(kind, proto, backend, {}, async (lab) => {
    const n = sizes.clients;
    const key = (i: number) => `many:${i}`;
    const value = (i: number) => raw(`value-${i}-${"v".repeat(i % 50)}`);
    // The keys, stored through the proxy in pipelined chunks.
    const loader = await Wire.connect(lab.port);
    try {
      const tally = new Tally();
      for (let from = 0; from < n; from += 500) {
        const exs = Array.from(
          { length: Math.min(500, n - from) },
          (_, j) => single(proto, "set", key(from + j), value(from + j)),
        );
        const ex = {
          request: raw(exs.map((e) => latin1(e.request)).join("")),
          replies: exs.flatMap((e) => e.replies),
        };
        if (!(await play(loader, proto, ex, tally, 30_000)).ok) {
          throw new Error(`storing the keys failed: ${tally.samples[0]}`);
        }
      }
    } finally {
      loader.close();
    }
    await sleep(300);
    const before = lab.memory().rss;
    const conns: (Deno.Conn | null)[] = new Array(n).fill(null);
    const problems: string[] = [];
    let failures = 0;
    const t0 = performance.now();
    let slowestConnect = 0;
    await inParallel(n, 256, async (i) => {
      try {
        const c0 = performance.now();
        conns[i] = await Deno.connect({ hostname: "127.0.0.1", port: lab.port });
        slowestConnect = Math.max(slowestConnect, performance.now() - c0);
      } catch (err) {
        failures++;
        if (problems.length < 5) problems.push(`client ${i}: connect failed: ${err}`);
      }
    });
    const openMs = performance.now() - t0;
    const t1 = performance.now();
    await Promise.all(conns.map(async (conn, i) => {
      if (conn === null) return;
      const ex = single(proto, "get", key(i), value(i));
      const want = ex.replies[0];
      const sent = await writeAll(conn, ex.request, 30_000);
      const got = sent ? latin1(await readBytes(conn, want.length, 30_000)) : "";
      if (got !== want) {
        failures++;
        if (problems.length < 5) {
          problems.push(
            `client ${i}: request ${show(latin1(ex.request))}\n  expected ${show(want)}\n  got      ${
              show(got)
            }`,
          );
        }
      }
    }));
    const requestMs = performance.now() - t1;
    const open = lab.memory().rss;
    const fds = lab.fds();
    for (const c of conns) {
      try {
        c?.close();
      } catch { /* closed */ }
    }
    await sleep(1000);
    const after = lab.memory().rss;
    const failed: string[] = [];
    if (failures > 0) failed.push(`${failures} of ${n} clients failed`);
    if (!lab.alive()) failed.push("the proxy exited");
    return {
      figures:
        `${N(n)} clients open at once (${ms(openMs)} to connect them 256 at a time, slowest connect ${
          ms(slowestConnect)
        }, ${fds} proxy descriptors), ` +
        `${N(n - failures)} served, ${failures} failed, all requests answered in ${
          ms(requestMs)
        }; proxy RSS ` +
        `${mib(before)} before, ${mib(open)} with all open (${
          ((open - before) / n).toFixed(1)
        } KiB per client), ` +
        `${mib(after)} 1 s after they closed`,
      failed,
      detail: problems,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 3. A slow reader

/** The well-behaved client's p99 wait beside a slow reader. */
const P99_LIMIT_MS = 250;
/**
 * Its worst wait: a bound on a stall, not a latency goal. The first request queued behind the slow
 * reader's gets on the shared server connection waits while the proxy takes in the replies the slow
 * reader asked for (200 x 500 KB, measured: 0.4-1.2 s behind tsproxy, 0.06-0.13 s behind nutcracker).
 */
const WORST_LIMIT_MS = 2000;

/**
 * A client pipelines `slowGets` gets of a `slowValue`-byte value and does not read; meanwhile a
 * well-behaved client's sets and gets on the same server are timed one by one. Then the slow reader
 * reads: it must get every reply.
 */
export function slowReader(
  kind: ProxyKind,
  proto: Proto,
  backend: BackendKind,
  sizes: Sizes,
): Promise<Outcome> {
  return withAbuseLab(kind, proto, backend, {}, async (lab) => {
    const big = filler(sizes.slowValue);
    await store(lab.port, proto, "big", big);
    const before = lab.memory().rss;
    const sampler = sampleRss(lab.pid);
    const get = single(proto, "get", "big", big);
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: lab.port });
    let slowDrained = 0;
    try {
      const pipeline = new Uint8Array(get.request.length * sizes.slowGets);
      for (let i = 0; i < sizes.slowGets; i++) pipeline.set(get.request, i * get.request.length);
      await writeAll(slow, pipeline, 10_000);
      await sleep(300);
      const tally = new Tally();
      const waits: number[] = [];
      const wire = await Wire.connect(lab.port);
      try {
        const rng = new Rng(7);
        let value = raw("");
        for (let i = 0; i < sizes.wellBehaved; i++) {
          const k = `wb:${i >> 1}`;
          if (i % 2 === 0) value = raw(`${k}:${rng.word(rng.range(1, 100))}`);
          const { ok, ms } = await play(
            wire,
            proto,
            single(proto, i % 2 === 0 ? "set" : "get", k, value),
            tally,
          );
          waits.push(ms);
          if (!ok) break;
        }
      } finally {
        wire.close();
      }
      const peak = sampler.stop();
      const hwm = lab.memory().hwm;
      // Now the slow reader reads everything it asked for.
      const want = get.replies[0].length * sizes.slowGets;
      const t0 = performance.now();
      const bytes = await readBytes(slow, want, 60_000);
      const drainMs = performance.now() - t0;
      const reply = get.replies[0];
      for (let at = 0; at + reply.length <= bytes.length; at += reply.length) {
        if (latin1(bytes.subarray(at, at + reply.length)) !== reply) break;
        slowDrained++;
      }
      slow.close();
      await sleep(1000);
      const after = lab.memory().rss;
      const failed: string[] = [];
      const p99 = percentile(waits, 99);
      const worst = Math.max(...waits);
      if (tally.wrong > 0) failed.push(`${tally.wrong} wrong replies to the well-behaved client`);
      if (tally.verified < sizes.wellBehaved) {
        failed.push(`${tally.verified}/${sizes.wellBehaved} requests verified`);
      }
      if (sizes.timed && p99 > P99_LIMIT_MS) {
        failed.push(`the well-behaved client's p99 wait is ${ms(p99)} (limit ${P99_LIMIT_MS} ms)`);
      }
      if (sizes.timed && worst > WORST_LIMIT_MS) {
        failed.push(`its worst wait is ${ms(worst)} (limit ${WORST_LIMIT_MS} ms)`);
      }
      if (slowDrained !== sizes.slowGets) {
        failed.push(
          `the slow reader got ${slowDrained}/${sizes.slowGets} replies when it read (${
            N(bytes.length)
          } bytes)`,
        );
      }
      if (!lab.alive()) failed.push("the proxy exited");
      return {
        figures:
          `slow reader: ${sizes.slowGets} gets of ${N(sizes.slowValue)} bytes unread (${
            mib(want / 1024)
          }); well-behaved client: ${tally.verified}/${sizes.wellBehaved} verified, wait p50 ${
            ms(percentile(waits, 50))
          }, ` +
          `p99 ${ms(p99)}, worst ${ms(worst)} (request ${
            waits.indexOf(worst) + 1
          }); then the slow reader read ${slowDrained}/${sizes.slowGets} replies in ${
            ms(drainMs)
          }; proxy RSS ${mib(before)} before, peak ${mib(Math.max(peak, hwm))}, ${mib(after)} 1 s after`,
        failed,
        detail: tally.samples,
      };
    } finally {
      try {
        slow.close();
      } catch { /* closed */ }
    }
  });
}

// ---------------------------------------------------------------------------------------------
// 4. An abandoned upload

/**
 * A client announces an `uploadDeclared`-byte value, sends `uploadSent` bytes of it and closes; a
 * well-behaved client's sets and gets before, during and after must all be verified.
 */
export function abandonedUpload(
  kind: ProxyKind,
  proto: Proto,
  backend: BackendKind,
  sizes: Sizes,
): Promise<Outcome> {
  return withAbuseLab(kind, proto, backend, {}, async (lab) => {
    const tally = new Tally();
    const phases: Record<string, { verified: number; waits: number[] }> = {};
    const wire = await Wire.connect(lab.port);
    let pair = 0;
    const phase = async (name: string, count: number) => {
      const v0 = tally.verified;
      const waits: number[] = [];
      for (let i = 0; i < count; i++, pair++) {
        const k = `up:${pair}`;
        const value = raw(`${k}:${"u".repeat(pair % 40)}`);
        for (const op of ["set", "get"] as const) {
          waits.push((await play(wire, proto, single(proto, op, k, value), tally)).ms);
        }
      }
      phases[name] = { verified: tally.verified - v0, waits };
    };
    let uploader: Deno.Conn | null = null;
    let sentBytes = 0;
    try {
      await phase("before", 10);
      uploader = await Deno.connect({ hostname: "127.0.0.1", port: lab.port });
      const header = proto === "memcache"
        ? `set big 0 0 ${sizes.uploadDeclared}\r\n`
        : `*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${sizes.uploadDeclared}\r\n`;
      await writeAll(uploader, raw(header), 5000);
      const part = filler(65536, 3);
      while (sentBytes < sizes.uploadSent) {
        const n = Math.min(part.length, sizes.uploadSent - sentBytes);
        if (!(await writeAll(uploader, part.subarray(0, n), 5000))) break;
        sentBytes += n;
      }
      await sleep(100);
      await phase("during", 10);
      uploader.close();
      uploader = null;
      await sleep(200);
      await phase("after", 10);
    } finally {
      wire.close();
      uploader?.close();
    }
    const fresh = await serves(lab.port, proto, "up:fresh", tally);
    const failed: string[] = [];
    for (const [name, p] of Object.entries(phases)) {
      if (p.verified !== 2 * 10) failed.push(`${p.verified}/20 requests verified ${name} the upload`);
    }
    if (sentBytes < sizes.uploadSent) failed.push(`the proxy took only ${N(sentBytes)} bytes of the upload`);
    if (!fresh) failed.push("a new client is not served after the upload");
    if (!lab.alive()) failed.push("the proxy exited");
    const worst = (name: string) => ms(Math.max(...(phases[name]?.waits ?? [NaN])));
    return {
      figures:
        `upload of ${N(sizes.uploadDeclared)} announced, ${
          N(sentBytes)
        } sent, then closed; well-behaved client ` +
        `verified ${phases.before?.verified ?? 0}/20 before (worst ${worst("before")}), ${
          phases.during?.verified ?? 0
        }/20 during (worst ${worst("during")}), ${phases.after?.verified ?? 0}/20 after (worst ${
          worst("after")
        }); ` +
        `a new client ${fresh ? "served" : "NOT served"}`,
      failed,
      detail: tally.samples,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 5. Resets with requests in flight

/** Connects, sends a payload, waits a little, and resets (SO_LINGER 0), `count` times. */
const RESET_CLIENT = `
import os, socket, struct, sys, time
port, count, folder, first = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
payloads = [open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))]
delays = [0, 0, 0.001, 0.005, 0.02]
resets = errors = 0
for i in range(first, first + count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(payloads[i % len(payloads)])
        delay = delays[(i // len(payloads)) % len(delays)]
        if delay:
            time.sleep(delay)
        if i % 3 == 0:
            s.settimeout(0.05)
            try:
                s.recv(1000)
            except Exception:
                pass
        s.close()
        resets += 1
    except Exception:
        errors += 1
print(resets, errors)
`;

/** Reset clients running side by side. */
const RESETTERS = 4;

/** Pipelines the reset clients send: gets of a 100 KB value, sets and gets, a large set, a cut one. */
function resetPayloads(proto: Proto): Uint8Array[] {
  const small = "s".repeat(100);
  const large = "L".repeat(600_000);
  if (proto === "memcache") {
    const sets = Array.from({ length: 20 }, (_, i) => `set rst:${i} 0 0 ${small.length}\r\n${small}\r\n`)
      .join("");
    const gets = Array.from({ length: 20 }, (_, i) => `get rst:${i}\r\n`).join("");
    return [
      "get big\r\n".repeat(50),
      sets + gets,
      `set rst:large 0 0 ${large.length}\r\n${large}\r\nget big\r\n`,
      `set rst:cut 0 0 1000\r\n${"c".repeat(500)}`,
      "get big\r\n".repeat(10) + `get ${Array.from({ length: 100 }, (_, i) => `rst:${i}`).join(" ")}\r\n`,
    ].map(raw);
  }
  const sets = Array.from({ length: 20 }, (_, i) => cmd("SET", `rst:${i}`, small)).join("");
  const gets = Array.from({ length: 20 }, (_, i) => cmd("GET", `rst:${i}`)).join("");
  return [
    cmd("GET", "big").repeat(50),
    sets + gets,
    cmd("SET", "rst:large", large) + cmd("GET", "big"),
    `*3\r\n$3\r\nSET\r\n$6\r\nrst:cut\r\n$1000\r\n${"c".repeat(500)}`,
    cmd("GET", "big").repeat(10) + cmd("MGET", ...Array.from({ length: 100 }, (_, i) => `rst:${i}`)),
  ].map(raw);
}

/**
 * `resets` connections pipeline requests and reset (a python3 client: Deno cannot set SO_LINGER);
 * the proxy's open descriptors must come back to the baseline and a checking client be served.
 */
export function resets(kind: ProxyKind, proto: Proto, backend: BackendKind, sizes: Sizes): Promise<Outcome> {
  return withAbuseLab(kind, proto, backend, {}, async (lab) => {
    await store(lab.port, proto, "big", filler(100_000));
    // The server connection is open, the storing client gone: the baseline.
    if (!(await serves(lab.port, proto, "rst:warm"))) {
      throw new Error("the proxy does not serve before the resets");
    }
    await sleep(300);
    const baseline = lab.fds();
    const folder = Deno.makeTempDirSync({ prefix: "abuse-resets-" });
    let peak = baseline;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, lab.fds());
      } catch { /* gone */ }
    }, 20);
    let resetCount = 0;
    let connectErrors = 0;
    let pyOutput = "";
    try {
      resetPayloads(proto).forEach((p, i) => Deno.writeFileSync(`${folder}/${i}`, p));
      const share = Math.ceil(sizes.resets / RESETTERS);
      await Promise.all(Array.from({ length: RESETTERS }, async (_, r) => {
        const count = Math.max(0, Math.min(share, sizes.resets - r * share));
        const out = await new Deno.Command("python3", {
          args: ["-c", RESET_CLIENT, String(lab.port), String(count), folder, String(r * share)],
          stdin: "null",
          signal: AbortSignal.timeout(120_000),
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        const m = /^(\d+) (\d+)/.exec(text);
        if (m) {
          resetCount += Number(m[1]);
          connectErrors += Number(m[2]);
        } else pyOutput += text;
      }));
    } finally {
      clearInterval(timer);
      Deno.removeSync(folder, { recursive: true });
    }
    const t0 = performance.now();
    let now = lab.fds();
    while (now > baseline && performance.now() - t0 < 10_000) {
      await sleep(50);
      now = lab.fds();
    }
    const settleMs = performance.now() - t0;
    const served = await serves(lab.port, proto, "rst:after");
    const failed: string[] = [];
    if (resetCount < sizes.resets) {
      failed.push(`only ${resetCount}/${sizes.resets} resets played: ${pyOutput.trim()}`);
    }
    if (now > baseline) failed.push(`${now - baseline} descriptors leaked (${now} open, ${baseline} before)`);
    if (!served) failed.push("a checking client is not served after the resets");
    if (!lab.alive()) failed.push("the proxy exited");
    return {
      figures:
        `${N(resetCount)} connections reset by ${RESETTERS} clients side by side with pipelined requests ` +
        `in flight (${connectErrors} errors); ` +
        `proxy descriptors ${baseline} before, peak ${peak}, ${now} after (${ms(settleMs)} to return); ` +
        `checking client ${served ? "served" : "NOT served"}`,
      failed,
      detail: [],
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The checks

/** One abuse check: what it plays, and what nutcracker 0.5.0 is known to fail in it. */
export interface AbuseCheck {
  name: string;
  proto: Proto;
  backend: BackendKind;
  play(kind: ProxyKind, sizes: Sizes): Promise<Outcome>;
  /** Binaries it needs besides the proxy and the real backend. */
  needs?: string[];
  /**
   * Failures nutcracker 0.5.0 is known to show here (measured): behind nutcracker they are
   * reported as a known failure instead of failing the run.
   */
  nutcracker?: { known: RegExp; why: string };
}

export const ABUSE: AbuseCheck[] = [
  {
    name: "memcache fuzzer: 100,000 random and mutated requests beside 4 checking clients (memcached)",
    proto: "memcache",
    backend: "real",
    play: (kind, sizes) => fuzzer(kind, "memcache", "real", sizes),
    nutcracker: {
      known: /wrong checking replies/,
      why: "it forwards requests memcached reads as another one (control characters in a key, numbers " +
        "past memcached's limits), and the extra or missing reply shifts every later reply on the shared " +
        "server connection to another request",
    },
  },
  {
    name: "redis fuzzer: 100,000 random and mutated requests beside 4 checking clients (redis-server)",
    proto: "redis",
    backend: "real",
    play: (kind, sizes) => fuzzer(kind, "redis", "real", sizes),
    nutcracker: {
      known: /wrong checking replies/,
      why:
        "it forwards requests redis refuses and closes the connection for (a length with a leading zero, " +
        "`$03`), and the other clients' requests in flight on the shared server connection fail",
    },
  },
  {
    name: "memcache: 5,000 clients open at once, one verified get each (fake memcached)",
    proto: "memcache",
    backend: "fake",
    play: (kind, sizes) => manyClients(kind, "memcache", "fake", sizes),
  },
  {
    name: "redis: 5,000 clients open at once, one verified GET each (redis-server)",
    proto: "redis",
    backend: "real",
    play: (kind, sizes) => manyClients(kind, "redis", "real", sizes),
  },
  {
    name:
      "memcache: a client pipelining 200 gets of 500 KB that never reads does not delay another (memcached)",
    proto: "memcache",
    backend: "real",
    play: (kind, sizes) => slowReader(kind, "memcache", "real", sizes),
  },
  {
    name:
      "redis: a client pipelining 200 GETs of 500 KB that never reads does not delay another (fake redis)",
    proto: "redis",
    backend: "fake",
    play: (kind, sizes) => slowReader(kind, "redis", "fake", sizes),
  },
  {
    name:
      "memcache: an upload of 1,000,000 bytes abandoned after 300,000 disturbs no other client (fake memcached)",
    proto: "memcache",
    backend: "fake",
    play: (kind, sizes) => abandonedUpload(kind, "memcache", "fake", sizes),
  },
  {
    name: "redis: a SET of $1000000 abandoned after 300,000 bytes disturbs no other client (redis-server)",
    proto: "redis",
    backend: "real",
    play: (kind, sizes) => abandonedUpload(kind, "redis", "real", sizes),
  },
  {
    name: "memcache: 500 resets with pipelined requests in flight leak no descriptor (memcached)",
    proto: "memcache",
    backend: "real",
    play: (kind, sizes) => resets(kind, "memcache", "real", sizes),
    needs: ["python3"],
  },
  {
    name: "redis: 500 resets with pipelined requests in flight leak no descriptor (fake redis)",
    proto: "redis",
    backend: "fake",
    play: (kind, sizes) => resets(kind, "redis", "fake", sizes),
    needs: ["python3"],
  },
];

/**
 * Plays one abuse check and prints its figures; throws on a failed criterion, except, behind
 * nutcracker, a failure listed as known for it (printed as such).
 */
export async function runAbuse(
  check: AbuseCheck,
  kind: ProxyKind,
  sizes: Sizes,
  write: (line: string) => void = console.log,
): Promise<Outcome> {
  const out = await check.play(kind, sizes);
  write(`    ${kind}: ${out.figures}`);
  if (out.failed.length === 0) return out;
  const known = kind === "nutcracker" && check.nutcracker !== undefined &&
    out.failed.every((f) => check.nutcracker!.known.test(f));
  if (known) {
    write(`    ${kind}: known nutcracker failure (${check.nutcracker!.why}): ${out.failed.join("; ")}`);
    for (const d of out.detail.slice(0, 3)) write(`      ${d.replaceAll("\n", "\n      ")}`);
    return out;
  }
  throw new Error([...out.failed, ...out.detail].join("\n"));
}

const GROUP = "abuse: misbehaving clients beside checking clients";

/** The abuse checks at full size, for `deno task harness`. */
export const ABUSE_CHECKS: Check[] = ABUSE.map((c) => ({
  group: GROUP,
  name: c.name,
  needs: abuseNeeds(c),
  run: async (kind: ProxyKind) => {
    await runAbuse(c, kind, FULL);
  },
}));

/** The binaries a check needs besides the proxy: the real backend, python3 for the resets. */
export function abuseNeeds(c: AbuseCheck): string[] {
  return [...(c.backend === "real" ? [REAL_BINARY[c.proto]] : []), ...(c.needs ?? [])];
}

/**
 * The bench's memcache ASCII load generator, run as its own process (loopback only):
 *
 *   deno run --allow-net=127.0.0.1 bench/mc_load.ts --port N [--op get|set|mget] [--conns 50]
 *     [--pipeline 1] [--mget 10] [--keys 1000] [--vsize 32] [--requests 200000] [--seconds 3]
 *
 * One event loop, N connections, each keeping exactly one batch of P requests in flight (P=1: request
 * and response; P>1: pipelined). Replies are counted by their exact expected byte length; the tail of
 * each batch is checked, and the first batches are checked byte for byte before the timed part (after
 * a preload of every key, so that gets hit). Stops at --requests or --seconds, whichever comes first;
 * a connection without reply 5 s past the end fails the run.
 *
 * Prints one line of JSON: {"op","pipeline","conns","ops","secs","ops_per_s","cpu_s"[,"error"]};
 * ops counts requests (an mget of 10 keys is one request), cpu_s is this process's own CPU time.
 * Exit code 1 with an "error" field when the load failed.
 */
import process from "node:process";
import { type Batch, type BatchShape, buildBatches, type McOp, preloadBatches } from "./mc_batches.ts";

/** The command line of a load. */
export interface McLoadOptions {
  port: number;
  op: McOp;
  conns: number;
  shape: BatchShape;
  requests: number;
  seconds: number;
}

/** Parses `--name value` flags; throws on anything unknown or out of bounds. */
export function parseMcLoadArgs(args: string[]): McLoadOptions {
  const v: Record<string, string> = {
    op: "get",
    conns: "50",
    pipeline: "1",
    mget: "10",
    keys: "1000",
    vsize: "32",
    requests: "200000",
    seconds: "3",
  };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i].replace(/^--/, "");
    if (!args[i].startsWith("--") || !(name in v || name === "port") || i + 1 >= args.length) {
      throw new Error(`bad argument: ${args[i]}`);
    }
    v[name] = args[i + 1];
  }
  const int = (name: string, lo: number, hi: number): number => {
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`--${name} must be ${lo}..${hi}`);
    return n;
  };
  if (!["get", "set", "mget"].includes(v.op)) throw new Error("--op must be get, set or mget");
  const seconds = Number(v.seconds);
  if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be in (0, 60]");
  return {
    port: int("port", 1, 65535),
    op: v.op as McOp,
    conns: int("conns", 1, 5000),
    shape: {
      keys: int("keys", 1, 1_000_000),
      vsize: int("vsize", 1, 1 << 20),
      mgetKeys: int("mget", 1, 1000),
      pipeline: int("pipeline", 1, 1024),
    },
    requests: int("requests", 1, 100_000_000),
    seconds,
  };
}

const HOST = "127.0.0.1";

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Whether buf[0, n) ends with `tail` (n >= tail.length). */
function endsWith(buf: Uint8Array, n: number, tail: Uint8Array): boolean {
  for (let i = 0, off = n - tail.length; i < tail.length; i++) if (buf[off + i] !== tail[i]) return false;
  return true;
}

/** Sends each batch on one connection and checks its reply byte for byte, within `deadline`. */
async function checkExact(port: number, batches: Batch[], deadline: number): Promise<void> {
  const conn = await Deno.connect({ hostname: HOST, port });
  const timer = setTimeout(() => conn.close(), Math.max(0, deadline - Date.now()));
  try {
    for (const b of batches) {
      await writeAll(conn, b.request);
      const got = new Uint8Array(b.reply.length);
      let off = 0;
      while (off < got.length) {
        const n = await conn.read(got.subarray(off));
        if (n === null) throw new Error("connection closed during check");
        off += n;
      }
      if (!got.every((x, i) => x === b.reply[i])) {
        const show = (a: Uint8Array) => JSON.stringify(new TextDecoder().decode(a.subarray(0, 80)));
        throw new Error(`reply mismatch: expected ${show(b.reply)} got ${show(got)}`);
      }
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** One load's outcome, the JSON line printed. */
export interface McLoadResult {
  op: McOp;
  pipeline: number;
  conns: number;
  ops: number;
  secs: number;
  ops_per_s: number;
  cpu_s: number;
  error?: string;
}

/** Runs one load against 127.0.0.1:port. */
export async function runMcLoad(o: McLoadOptions): Promise<McLoadResult> {
  const batches = buildBatches(o.op, o.shape);
  const check = [...(o.op === "set" ? [] : preloadBatches(o.shape)), ...batches.slice(0, 4)];
  await checkExact(o.port, check, Date.now() + 10_000);

  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < o.conns; i++) {
    const c = await Deno.connect({ hostname: HOST, port: o.port });
    c.setNoDelay(true);
    conns.push(c);
  }
  const P = o.shape.pipeline;
  const requests = batches.map((b) => b.request);
  const lengths = batches.map((b) => b.reply.length);
  const tails = batches.map((b) => b.reply.subarray(b.reply.length - 5));
  let budget = Math.floor(o.requests / P); // batches left to send
  let ops = 0;
  let inflight = 0;
  let error: string | undefined;
  const closeAll = () => {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  const fail = (why: string) => {
    if (error !== undefined) return;
    error = why;
    budget = 0;
    closeAll();
  };

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let running = true;
  const stopper = setTimeout(() => running = false, o.seconds * 1000);
  const watchdog = setTimeout(
    () => fail(`stalled: ${inflight} batches without reply`),
    o.seconds * 1000 + 5000,
  );

  const drive = async (conn: Deno.TcpConn, first: number) => {
    const buf = new Uint8Array(1 << 16);
    let b = first;
    while (budget > 0 && running) {
      budget--;
      inflight++;
      const req = requests[b];
      const w = await conn.write(req);
      if (w < req.length) await writeAll(conn, req.subarray(w));
      const need = lengths[b];
      let got = 0;
      let n = 0;
      while (got < need) {
        const r = await conn.read(buf);
        if (r === null) throw new Error("server closed a connection");
        n = r;
        got += n;
      }
      if (got > need || (n >= 5 && !endsWith(buf, n, tails[b]))) {
        const text = new TextDecoder().decode(buf.subarray(Math.max(0, n - 60), n));
        throw new Error(`unexpected reply bytes: ${JSON.stringify(text)}`);
      }
      inflight--;
      ops += P;
      b = b + 1 === batches.length ? 0 : b + 1;
    }
  };
  await Promise.all(
    conns.map((c, i) =>
      drive(c, i % batches.length).catch((e) => fail(e instanceof Error ? e.message : String(e)))
    ),
  );
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearTimeout(stopper);
  clearTimeout(watchdog);
  if (error === undefined) closeAll();
  return {
    op: o.op,
    pipeline: P,
    conns: o.conns,
    ops,
    secs: Math.round(secs * 1000) / 1000,
    ops_per_s: secs > 0 ? Math.round(ops / secs) : 0,
    cpu_s: Math.round((cpu.user + cpu.system) / 1000) / 1000,
    ...(error ? { error } : {}),
  };
}

if (import.meta.main) {
  let result: McLoadResult | { error: string };
  try {
    result = await runMcLoad(parseMcLoadArgs(Deno.args));
  } catch (e) {
    result = { error: e instanceof Error ? e.message : String(e) };
  }
  console.log(JSON.stringify(result));
  Deno.exit(result.error ? 1 : 0);
}

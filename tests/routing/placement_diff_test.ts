/**
 * Differential placement test against the real nutcracker 0.5.0: keys written through nutcracker are
 * looked up on the memcached backends directly, and the backend holding each key must be the server
 * that tsproxy's Router picks, for every hash x {ketama, modula} and several pool shapes.
 */
import assert from "assert";
import { parseConfig } from "../../src/config/load.ts";
import { type Distribution, HASH_NAMES, type HashName, type PoolConfig } from "../../src/config/types.ts";
import { Router } from "../../src/routing/router.ts";
import { prng } from "../support/memcache_scripts.ts";
import { concat } from "../../harness/bytes.ts";
import { freePort, startMemcached, startNutcracker } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";

/** Pool shapes, each over the same three backends; `p` holds the backend ports. */
const VARIANTS: { id: string; tag: string | null; servers: (p: number[]) => string[] }[] = [
  // Weights 3/1/2 listed out of sorted order, unnamed (names `127.0.0.1:port`).
  {
    id: "weighted",
    tag: null,
    servers: (p) => [`127.0.0.1:${p[2]}:2`, `127.0.0.1:${p[0]}:3`, `127.0.0.1:${p[1]}:1`],
  },
  // Named servers: the names, not the addresses, place keys (sorted al, beta, zeta).
  {
    id: "named",
    tag: null,
    servers: (p) => [`127.0.0.1:${p[0]}:3 zeta`, `127.0.0.1:${p[1]}:1 al`, `127.0.0.1:${p[2]}:2 beta`],
  },
  {
    id: "tagged",
    tag: "{}",
    servers: (p) => [`127.0.0.1:${p[1]}:1`, `127.0.0.1:${p[2]}:2`, `127.0.0.1:${p[0]}:3`],
  },
  // Equal weights; names sort by length first (s, server9, server10).
  {
    id: "equal",
    tag: null,
    servers: (p) => [`127.0.0.1:${p[0]}:1 server10`, `127.0.0.1:${p[1]}:1 server9`, `127.0.0.1:${p[2]}:1 s`],
  },
  // Names longer than the 272 bytes of a ketama point name.
  {
    id: "longnames",
    tag: null,
    servers: (
      p,
    ) => [
      `127.0.0.1:${p[0]}:1 ${"a".repeat(300)}`,
      `127.0.0.1:${p[1]}:2 ${"b".repeat(280)}`,
      `127.0.0.1:${p[2]}:1 ${"c".repeat(90)}`,
    ],
  },
];
const DISTRIBUTIONS: Distribution[] = ["ketama", "modula"];
const KEYS_PER_POOL = 2000;
const IO_TIMEOUT_MS = 20_000;

/**
 * Random memcache keys: 1..250 bytes of 0x21-0x7e and 0x80-0xff (no space, control bytes, CR or LF,
 * which end or break a memcache key), a third of them carrying a `{tag}` (also empty or unclosed).
 */
function keyMaker(rnd: () => number): () => Uint8Array {
  const int = (n: number) => Math.floor(rnd() * n);
  const byte = () => {
    const v = int(94 + 128);
    return v < 94 ? 0x21 + v : 0x80 + v - 94;
  };
  const tags = ["{user1}", "{user2}", "{}", "{", "}", "{x}", "{\u00e9t\u00e9}", "}{q}"].map((t) =>
    new TextEncoder().encode(t)
  );
  return () => {
    const r = rnd();
    const len = r < 0.3 ? 1 + int(8) : r < 0.7 ? 9 + int(56) : 65 + int(186);
    const key = Uint8Array.from({ length: len }, byte);
    if (rnd() < 0.35) {
      const tag = rnd() < 0.5 ? tags[int(tags.length)] : new TextEncoder().encode(`{${int(1000)}}`);
      const at = int(Math.max(1, len - tag.length));
      key.set(tag.subarray(0, Math.min(tag.length, len - at)), at);
    }
    return key;
  };
}

/** Growing receive buffer. */
class Inbox {
  buf = new Uint8Array(1 << 16);
  len = 0;
  append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }
}

/** Writes `payload` to 127.0.0.1:port while reading until `done` says the replies are complete. */
async function exchange(port: number, payload: Uint8Array, done: (inbox: Inbox) => boolean): Promise<Inbox> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), IO_TIMEOUT_MS);
  const inbox = new Inbox();
  try {
    const writing = (async () => {
      for (let off = 0; off < payload.length;) off += await conn.write(payload.subarray(off));
    })();
    const chunk = new Uint8Array(1 << 16);
    while (!done(inbox)) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error(`port ${port} closed after ${inbox.len} bytes`);
      inbox.append(chunk.subarray(0, n));
    }
    await writing;
    return inbox;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

const te = new TextEncoder();
const STORED = te.encode("STORED\r\n");

/** Stores every key (value `x`) through nutcracker in one pipeline; all must answer STORED. */
async function setAll(port: number, keys: Uint8Array[]): Promise<void> {
  const parts: Uint8Array[] = [];
  for (const k of keys) parts.push(te.encode("set "), k, te.encode(" 0 0 1\r\nx\r\n"));
  const want = keys.length * STORED.length;
  const inbox = await exchange(port, concat(parts), (i) => i.len >= want);
  for (let j = 0; j < inbox.len; j++) {
    if (inbox.buf[j] !== STORED[j % STORED.length]) {
      throw new Error(
        `set reply ${Math.floor(j / 8)} via port ${port}: ${
          new TextDecoder().decode(inbox.buf.subarray(j - (j % 8), j + 40))
        }`,
      );
    }
  }
}

/** Which of `keys` a memcached holds: one pipelined `get` per key, replies parsed in order. */
async function heldBy(port: number, keys: Uint8Array[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const k of keys) parts.push(te.encode("get "), k, te.encode("\r\n"));
  const held = new Uint8Array(keys.length);
  let replies = 0, pos = 0;
  // A reply is `END\r\n` (miss) or `VALUE <key> 0 1\r\nx\r\nEND\r\n` (hit); keys hold no CR/LF.
  const parse = (inbox: Inbox) => {
    const b = inbox.buf;
    while (replies < keys.length) {
      if (pos + 5 > inbox.len) break;
      if (b[pos] === 0x45 /* E */) {
        pos += 5;
        replies++;
        continue;
      }
      let eol = pos;
      while (eol + 1 < inbox.len && !(b[eol] === 0x0d && b[eol + 1] === 0x0a)) eol++;
      if (eol + 2 + 3 + 5 > inbox.len) break;
      held[replies++] = 1;
      pos = eol + 2 + 3 + 5;
    }
    return replies === keys.length;
  };
  await exchange(port, concat(parts), parse);
  return held;
}

async function flushAll(port: number): Promise<void> {
  const ok = te.encode("OK\r\n");
  await exchange(port, te.encode("flush_all\r\n"), (i) => i.len >= ok.length);
}

function hex(key: Uint8Array): string {
  return Array.from(key, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test({
  name: "Router places >= 10,000 keys per hash and distribution on the same backend as nutcracker 0.5.0",
  ...needs("nutcracker", "memcached"),
  async fn() {
    const backends = await Promise.all([0, 1, 2].map(() => startMemcached()));
    const ports = backends.map((b) => b.port);
    const used = new Set(ports);
    const pools: { name: string; hash: HashName; distribution: Distribution; port: number }[] = [];
    let yaml = "";
    for (const hash of HASH_NAMES) {
      for (const distribution of DISTRIBUTIONS) {
        for (const v of VARIANTS) {
          let port = freePort();
          while (used.has(port)) port = freePort();
          used.add(port);
          const name = `${hash}_${distribution}_${v.id}`;
          pools.push({ name, hash, distribution, port });
          yaml += `${name}:\n  listen: 127.0.0.1:${port}\n  hash: ${hash}\n  distribution: ${distribution}\n`;
          if (v.tag) yaml += `  hash_tag: "${v.tag}"\n`;
          yaml += `  servers:\n${v.servers(ports).map((s) => `    - ${s}\n`).join("")}`;
        }
      }
    }
    const config = await parseConfig(yaml, "placement.yml");
    const byName = new Map<string, PoolConfig>(config.pools.map((p) => [p.name, p]));
    const nc = await startNutcracker(yaml, pools.map((p) => p.port));
    const seed = Date.now() >>> 0;
    const nextKey = keyMaker(prng(seed));
    try {
      for (const hash of HASH_NAMES) {
        // One round per hash: its pools are written together with keys unique within the round,
        // then the backends are read and flushed so that no key outlives its round.
        const round = pools.filter((p) => p.hash === hash);
        const seen = new Set<string>();
        const keysOf = round.map(() => {
          const keys: Uint8Array[] = [];
          while (keys.length < KEYS_PER_POOL) {
            const k = nextKey();
            const id = hex(k);
            if (!seen.has(id)) {
              seen.add(id);
              keys.push(k);
            }
          }
          return keys;
        });
        await Promise.all(round.map((p, i) => setAll(p.port, keysOf[i])));
        const all = keysOf.flat();
        const held = await Promise.all(ports.map((port) => heldBy(port, all)));
        await Promise.all(ports.map(flushAll));

        const compared = new Map<Distribution, number>();
        const mismatches: string[] = [];
        let k = 0;
        round.forEach((p, i) => {
          const pool = byName.get(p.name)!;
          const router = new Router(pool);
          for (const key of keysOf[i]) {
            const holders = ports.filter((_, b) => held[b][k] === 1);
            k++;
            const picked = pool.servers[router.pick(key, 0, key.length)].port;
            if (holders.length !== 1 || holders[0] !== picked) {
              mismatches.push(
                `${p.name} key ${hex(key)}: nutcracker ${holders.join(",") || "none"}, Router ${picked}`,
              );
            }
            compared.set(p.distribution, (compared.get(p.distribution) ?? 0) + 1);
          }
        });
        for (const [distribution, n] of compared) {
          const bad = mismatches.filter((m) => m.startsWith(`${hash}_${distribution}_`)).length;
          console.log(`${hash} ${distribution}: ${n} keys compared, ${bad} mismatches`);
        }
        assert.equal(mismatches.length, 0, `seed ${seed}\n${mismatches.slice(0, 10).join("\n")}`);
      }
    } finally {
      await nc.stop();
      for (const b of backends) await b.stop();
    }
  },
});

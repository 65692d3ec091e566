import assert from "assert";
import { freePort, startRedis } from "../../harness/procs.ts";
import { SentinelLab } from "../../harness/sentinel_lab.ts";
import { RespDecoder, type RespValue } from "../../src/ha/resp_client.ts";
import {
  type ReplicaAddress,
  type SentinelAddress,
  type SentinelEvents,
  SentinelWatcher,
  usableReplicas,
} from "../../src/ha/sentinel.ts";
import { needs } from "../support/needs.ts";

type Event =
  | { kind: "master"; name: string; at: string; cause: string }
  | { kind: "replicas"; name: string; replicas: string[] }
  | { kind: "state"; connected: boolean; address: string | null }
  | { kind: "log"; level: string; message: string };

/** Every event a watcher reports, in order, with a way to wait for one. */
class Recorder {
  readonly events: Event[] = [];
  /** performance.now() of each event. */
  readonly times: number[] = [];
  readonly handlers: SentinelEvents = {
    master: (name, host, port, cause) => this.#add({ kind: "master", name, at: `${host}:${port}`, cause }),
    replicas: (name, replicas) => this.#add({ kind: "replicas", name, replicas: replicas.map(text) }),
    state: (connected, address) => this.#add({ kind: "state", connected, address }),
    log: (level, message) => this.#add({ kind: "log", level, message }),
  };

  #add(e: Event): void {
    this.events.push(e);
    this.times.push(performance.now());
  }

  /** The index of the first event at or after `from` that `match` accepts; throws after `timeoutMs`. */
  async waitFor(match: (e: Event) => boolean, timeoutMs: number, from = 0): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e, i) => i >= from && match(e));
      if (i >= 0) return i;
      if (performance.now() > deadline) {
        throw new Error(`no such event within ${timeoutMs} ms; got:\n${this.show(from)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  of<K extends Event["kind"]>(kind: K, from = 0): Extract<Event, { kind: K }>[] {
    return this.events.slice(from).filter((e): e is Extract<Event, { kind: K }> => e.kind === kind);
  }

  show(from = 0): string {
    return this.events.slice(from).map((e) => JSON.stringify(e)).join("\n");
  }
}

const text = (a: ReplicaAddress | SentinelAddress) => `${a.host}:${a.port}`;

const isMaster = (name: string, cause?: string) => (e: Event) =>
  e.kind === "master" && e.name === name && (cause === undefined || e.cause === cause);

Deno.test("usable replicas: not down, not disconnected, master link ok", () => {
  const replica = (port: number, flags: string, link: string) => [
    "name",
    `127.0.0.1:${port}`,
    "ip",
    "127.0.0.1",
    "port",
    String(port),
    "flags",
    flags,
    "master-link-status",
    link,
  ];
  const answer = [
    replica(1, "slave", "ok"),
    replica(2, "slave,s_down", "ok"),
    replica(3, "slave,disconnected", "ok"),
    replica(4, "slave,o_down", "ok"),
    replica(5, "slave", "err"),
    replica(6, "slave,promoted", "ok"),
  ];
  assert.deepEqual(usableReplicas(answer).map(text), ["127.0.0.1:1", "127.0.0.1:6"]);
  assert.deepEqual(usableReplicas([]), []);
  assert.throws(() => usableReplicas("nonsense"), /SENTINEL replicas answered/);
});

/**
 * An in-process sentinel: answers get-master-addr-by-name from `masters` (nil for other names),
 * SENTINEL replicas with `replicas`, SUBSCRIBE with confirmations; `publish` sends to subscribers.
 * While `hold` is set, master queries wait for it (a reply that arrives after a message).
 */
class FakeSentinel {
  readonly masters = new Map<string, string>();
  replicas: RespValue = [];
  hold: Promise<void> | null = null;
  /** Master queries received. */
  asked = 0;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #subscribers = new Set<Deno.Conn>();
  readonly #serving: Promise<void>[] = [];
  readonly #accepting: Promise<void>;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    this.#accepting = this.#accept();
  }

  get address(): SentinelAddress {
    return { host: "127.0.0.1", port: (this.#listener.addr as Deno.NetAddr).port };
  }

  async publish(channel: string, message: string): Promise<void> {
    for (const c of this.#subscribers) await c.write(encode(["message", channel, message]));
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) c.close();
    await this.#accepting;
    await Promise.all(this.#serving);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#serving.push(this.#serve(conn));
      }
    } catch { /* closed */ }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const decoder = new RespDecoder();
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const request of decoder.push(buf.slice(0, n))) {
          const args = (request as string[]).map((a) => a.toLowerCase());
          if (args[0] === "subscribe") {
            this.#subscribers.add(conn);
            for (const [i, ch] of args.slice(1).entries()) await conn.write(encode(["subscribe", ch, i + 1]));
          } else if (args[1] === "get-master-addr-by-name") {
            this.asked++;
            const at = this.masters.get(args[2]);
            await this.hold;
            await conn.write(encode(at === undefined ? null : at.split(":")));
          } else if (args[1] === "replicas") {
            await conn.write(encode(this.replicas));
          } else {
            await conn.write(new TextEncoder().encode("-ERR unknown command\r\n"));
          }
        }
      }
    } catch { /* closed */ }
    this.#subscribers.delete(conn);
    this.#conns.delete(conn);
    try {
      conn.close();
    } catch { /* closed by close() */ }
  }
}

function encode(v: RespValue): Uint8Array {
  const out = (v: RespValue): string => {
    if (v === null) return "$-1\r\n";
    if (typeof v === "number") return `:${v}\r\n`;
    if (typeof v === "string") return `$${v.length}\r\n${v}\r\n`;
    if (Array.isArray(v)) return `*${v.length}\r\n` + v.map(out).join("");
    return `-${v.message}\r\n`;
  };
  return new TextEncoder().encode(out(v));
}

const OPTS = { pollInterval: 60_000, timeout: 1000, wantReplicas: () => true };

Deno.test("an answer to a query sent before a +switch-master is dropped, not taken as the master's address", async () => {
  const fake = new FakeSentinel();
  fake.masters.set("shard1", "127.0.0.1:1111");
  const rec = new Recorder();
  const w = new SentinelWatcher([fake.address], () => ["shard1"], rec.handlers, OPTS);
  try {
    await w.start();
    assert.deepEqual(rec.of("master"), [{
      kind: "master",
      name: "shard1",
      at: "127.0.0.1:1111",
      cause: "start",
    }]);

    let release = () => {};
    fake.hold = new Promise((r) => release = r);
    const asked = fake.asked;
    w.refresh();
    while (fake.asked === asked) await new Promise((r) => setTimeout(r, 5));
    // The sentinel answered the query with the old address, then switched; the message won the race.
    await fake.publish("+switch-master", "shard1 127.0.0.1 1111 127.0.0.1 2222");
    await rec.waitFor(isMaster("shard1", "switch"), 2000);
    release();
    fake.hold = null;
    await rec.waitFor((e) => e.kind === "replicas", 2000, rec.events.length);

    fake.masters.set("shard1", "127.0.0.1:2222");
    const from = rec.events.length;
    w.refresh();
    await rec.waitFor(isMaster("shard1", "poll"), 2000, from);
    assert.deepEqual(rec.of("master").map((e) => `${e.at} ${e.cause}`), [
      "127.0.0.1:1111 start",
      "127.0.0.1:2222 switch",
      "127.0.0.1:2222 poll",
    ]);
  } finally {
    await w.stop();
    await fake.close();
  }
});

Deno.test("names a sentinel does not know are warned about once and skipped; switches of other masters ignored", async () => {
  const fake = new FakeSentinel();
  fake.masters.set("shard1", "127.0.0.1:1111");
  const rec = new Recorder();
  const w = new SentinelWatcher([fake.address], () => ["shard1", "nosuch"], rec.handlers, OPTS);
  try {
    await w.start();
    let from = rec.events.length;
    w.refresh();
    await rec.waitFor(isMaster("shard1", "poll"), 2000, from);
    await fake.publish("+switch-master", "other 127.0.0.1 1 127.0.0.1 2");
    from = rec.events.length;
    w.refresh();
    await rec.waitFor(isMaster("shard1", "poll"), 2000, from);
    const unknown = rec.of("log").filter((e) => e.message.includes("nosuch"));
    assert.equal(unknown.length, 1, rec.show());
    assert.match(unknown[0].message, /does not know master nosuch/);
    assert.equal(unknown[0].level, "warn");
    assert.ok(rec.of("master").every((e) => e.name === "shard1"), rec.show());
    assert.deepEqual(rec.of("state"), [{ kind: "state", connected: true, address: text(fake.address) }]);
  } finally {
    await w.stop();
    await fake.close();
  }
});

Deno.test("setSentinels: the sentinel in use is dropped when it leaves the list", async () => {
  const a = new FakeSentinel();
  const b = new FakeSentinel();
  a.masters.set("shard1", "127.0.0.1:1111");
  b.masters.set("shard1", "127.0.0.1:1111");
  const rec = new Recorder();
  const w = new SentinelWatcher([a.address, b.address], () => ["shard1"], rec.handlers, OPTS);
  try {
    await w.start();
    w.setSentinels([b.address, a.address]);
    w.refresh();
    w.setSentinels([b.address]);
    await rec.waitFor((e) => e.kind === "state" && e.address === text(b.address), 2000);
    assert.deepEqual(rec.of("state").map((e) => e.address), [text(a.address), null, text(b.address)]);
  } finally {
    await w.stop();
    await a.close();
    await b.close();
  }
});

Deno.test("a sentinel that stops answering is left for the next one after the timeout", async () => {
  const a = new FakeSentinel();
  const b = new FakeSentinel();
  a.masters.set("shard1", "127.0.0.1:1111");
  b.masters.set("shard1", "127.0.0.1:1111");
  const rec = new Recorder();
  const w = new SentinelWatcher([a.address, b.address], () => ["shard1"], rec.handlers, {
    ...OPTS,
    timeout: 300,
  });
  let release = () => {};
  try {
    await w.start();
    a.hold = new Promise((r) => release = r);
    const from = rec.events.length;
    const asked = performance.now();
    w.refresh();
    await rec.waitFor((e) => e.kind === "state" && e.address === text(b.address), 3000, from);
    const waited = performance.now() - asked;
    assert.ok(waited >= 290 && waited < 2000, `waited ${waited} ms`);
    assert.deepEqual(rec.of("state").map((e) => e.address), [text(a.address), null, text(b.address)]);
    const timedOut = (e: Event) =>
      e.kind === "log" && e.level === "warn" && /: connection timed out/.test(e.message);
    assert.ok(rec.events.some(timedOut), rec.show());
  } finally {
    release();
    await w.stop();
    await a.close();
    await b.close();
  }
});

Deno.test(
  "dead sentinels and a plain redis: start() resolves once each failed, retries back off, stop() leaves nothing",
  needs("redis-server"),
  async () => {
    const redis = await startRedis();
    const rec = new Recorder();
    const sentinels = [{ host: "127.0.0.1", port: redis.port }, { host: "127.0.0.1", port: freePort() }];
    const w = new SentinelWatcher(sentinels, () => ["shard1"], rec.handlers, { ...OPTS, pollInterval: 100 });
    try {
      const started = performance.now();
      await w.start();
      assert.ok(performance.now() - started < 1000);
      const warns = () => rec.of("log").filter((e) => e.level === "warn").map((e) => e.message);
      assert.match(warns()[0], new RegExp(`sentinel 127.0.0.1:${redis.port}: .*unknown command`));
      assert.match(warns()[1], /sentinel 127\.0\.0\.1:\d+: connect failed/);
      await new Promise((r) => setTimeout(r, 1000));
      // 0, 100, 200, 400, 800 ms between attempts: about five in the first second, not hundreds.
      assert.ok(warns().length >= 4 && warns().length <= 7, warns().join("\n"));
      assert.equal(rec.of("master").length + rec.of("state").length, 0, rec.show());
    } finally {
      await w.stop();
      await redis.stop();
    }
  },
);

Deno.test(
  "with real sentinels: start, a master killed, the sentinel in use killed, a forced failover",
  needs("redis-server"),
  async (t) => {
    const lab = await SentinelLab.start({ masters: 2 });
    const rec = new Recorder();
    const w = new SentinelWatcher(lab.sentinels, () => ["shard1", "shard2"], rec.handlers, {
      pollInterval: 500,
      timeout: 1000,
      wantReplicas: () => true,
    });
    const [shard1, shard2] = lab.masters;
    const [replica1, replica2] = lab.replicas;
    try {
      await t.step("start() reports the masters and their replicas from the first sentinel", async () => {
        await w.start();
        assert.deepEqual(rec.of("state"), [{
          kind: "state",
          connected: true,
          address: text(lab.sentinels[0]),
        }]);
        assert.deepEqual(rec.of("master").slice(0, 2), [
          { kind: "master", name: "shard1", at: text(shard1), cause: "start" },
          { kind: "master", name: "shard2", at: text(shard2), cause: "start" },
        ]);
        assert.deepEqual(rec.of("replicas").slice(0, 2), [
          { kind: "replicas", name: "shard1", replicas: [text(replica1)] },
          { kind: "replicas", name: "shard2", replicas: [text(replica2)] },
        ]);
        assert.ok(
          rec.of("log").some((e) =>
            e.level === "notice" && e.message === `using sentinel ${text(lab.sentinels[0])}`
          ),
        );
      });

      await t.step(
        "a master killed: the switch to its replica arrives, and no poll moves it back",
        async () => {
          const from = rec.events.length;
          await lab.kill("shard1");
          const i = await rec.waitFor(isMaster("shard1", "switch"), 30_000, from);
          assert.equal((rec.events[i] as Event & { kind: "master" }).at, text(replica1));
          const seen = await lab.waitForSwitch("shard1", 1000);
          assert.equal(`${seen.host}:${seen.port}`, text(replica1));
          // The watcher and the lab both heard the sentinels' message: a few ms apart at most.
          assert.ok(
            Math.abs(rec.times[i] - seen.seenAt) < 500,
            `watcher ${rec.times[i]}, lab ${seen.seenAt}`,
          );
          // Replicas re-queried: the dead master is not offered as a replica of the new one.
          const r = await rec.waitFor((e) => e.kind === "replicas" && e.name === "shard1", 5000, i);
          assert.deepEqual((rec.events[r] as Event & { kind: "replicas" }).replicas, []);
          await rec.waitFor(isMaster("shard1", "poll"), 5000, i);
          const after = rec.of("master", i).filter((e) => e.name === "shard1");
          assert.ok(after.every((e) => e.at === text(replica1)), rec.show(i));
        },
      );

      await t.step(
        "the sentinel in use killed: another is used, and a later failover still arrives",
        async () => {
          const from = rec.events.length;
          await lab.kill("sentinel1");
          await rec.waitFor((e) => e.kind === "state" && !e.connected, 5000, from);
          const up = await rec.waitFor((e) => e.kind === "state" && e.connected, 5000, from);
          assert.equal((rec.events[up] as Event & { kind: "state" }).address, text(lab.sentinels[1]));
          assert.ok(rec.of("log", from).some((e) => e.level === "warn"), rec.show(from));
          const after = rec.events.length;
          await lab.failover("shard2");
          const i = await rec.waitFor(isMaster("shard2", "switch"), 30_000, after);
          assert.equal((rec.events[i] as Event & { kind: "master" }).at, text(replica2));
        },
      );
    } finally {
      await w.stop();
      await lab.stop();
    }
  },
);

import assert from "assert";
import { FakeMemcached } from "../../harness/fake_memcached.ts";
import { FakeRedis } from "../../harness/fake_redis.ts";
import type { FakeServer, ListenOptions } from "../../harness/fake_server.ts";
import { freePort } from "../../harness/procs.ts";
import { RawClient } from "./raw_client.ts";

/** A fake plus requests its protocol understands, to drive the shared fault machinery. */
interface Kind {
  name: string;
  start(opts?: ListenOptions): Promise<FakeServer>;
  /** Stores k = v. */
  write: string;
  written: string;
  /** Reads k. */
  read: string;
  hit: string;
  miss: string;
  /** A reply a real server of this kind may send when failing. */
  raw: string;
}

const resp = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`;

const KINDS: Kind[] = [
  {
    name: "memcached",
    start: (opts) => FakeMemcached.start(opts),
    write: "set k 0 0 1\r\nv\r\n",
    written: "STORED\r\n",
    read: "get k\r\n",
    hit: "VALUE k 0 1\r\nv\r\nEND\r\n",
    miss: "END\r\n",
    raw: "SERVER_ERROR out of memory storing object\r\n",
  },
  {
    name: "redis",
    start: (opts) => FakeRedis.start(opts),
    write: resp("SET", "k", "v"),
    written: "+OK\r\n",
    read: resp("GET", "k"),
    hit: "$1\r\nv\r\n",
    miss: "$-1\r\n",
    raw: "-LOADING Redis is loading the dataset in memory\r\n",
  },
];

/** Polls `cond` every 10 ms for up to `ms`. */
async function eventually(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition never held");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Asks one request on a fresh connection; the expected reply's length tells when it is whole. */
async function ask(fake: FakeServer, request: string, reply: string): Promise<string> {
  const wire = await RawClient.open({ port: fake.port });
  try {
    await wire.send(request);
    return await wire.until((s) => s.length >= reply.length);
  } finally {
    await wire.close();
  }
}

for (const kind of KINDS) {
  Deno.test(`fake ${kind.name} counts requests read and connections accepted`, async () => {
    const fake = await kind.start();
    const a = await RawClient.open({ port: fake.port });
    const b = await RawClient.open({ port: fake.port });
    await a.send(kind.read + kind.write + kind.read);
    assert.strictEqual(await a.until((s) => s.endsWith(kind.hit)), kind.miss + kind.written + kind.hit);
    await b.send(kind.read);
    assert.strictEqual(await b.until((s) => s.endsWith(kind.hit)), kind.hit);
    assert.deepStrictEqual(fake.stats, { requests: 4, connections: 2 });
    assert.strictEqual(fake.openConnections, 2);
    await a.close();
    await b.close();
    await eventually(() => fake.openConnections === 0);
    await fake.close();
  });

  Deno.test(`fake ${kind.name} in delay mode holds each reply back, in order, not cumulatively`, async () => {
    const fake = await kind.start();
    fake.faults.set({ mode: "delay", ms: 200 });
    const wire = await RawClient.open({ port: fake.port });
    const start = Date.now();
    await wire.send(kind.read + kind.write + kind.read);
    assert.strictEqual(await wire.until((s) => s.endsWith(kind.hit)), kind.miss + kind.written + kind.hit);
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 190 && elapsed < 550, `replies took ${elapsed} ms`);
    fake.faults.clear();
    const again = Date.now();
    await wire.send(kind.read);
    assert.strictEqual(await wire.until((s) => s.endsWith(kind.hit)), kind.hit);
    assert.ok(Date.now() - again < 150);
    await wire.close();
    await fake.close();
  });

  Deno.test(`fake ${kind.name} in silent mode reads requests but neither answers nor runs them`, async () => {
    const fake = await kind.start();
    fake.faults.set({ mode: "silent" });
    const wire = await RawClient.open({ port: fake.port });
    await wire.send(kind.write);
    assert.strictEqual(await wire.quiet(200), "");
    assert.strictEqual(wire.eof, false);
    assert.strictEqual(fake.stats.requests, 1);
    fake.faults.clear();
    assert.strictEqual(await ask(fake, kind.read, kind.miss), kind.miss);
    await wire.close();
    await fake.close();
  });

  Deno.test(`fake ${kind.name} in close mode hangs up after reading a request, unanswered`, async () => {
    const fake = await kind.start();
    const wire = await RawClient.open({ port: fake.port });
    await wire.send(kind.write);
    assert.strictEqual(await wire.until((s) => s === kind.written), kind.written);
    fake.faults.set({ mode: "close" });
    await wire.send(kind.read);
    assert.strictEqual(await wire.closed(), "");
    assert.strictEqual(fake.stats.requests, 2);
    await wire.close();
    await eventually(() => fake.openConnections === 0);
    await fake.close();
  });

  Deno.test(`fake ${kind.name} in garbage mode answers BOGUS to every request without running it`, async () => {
    const fake = await kind.start();
    fake.faults.set({ mode: "garbage" });
    const wire = await RawClient.open({ port: fake.port });
    await wire.send(kind.write + kind.read);
    assert.strictEqual(await wire.until((s) => s.length >= 14), "BOGUS\r\nBOGUS\r\n");
    fake.faults.clear();
    await wire.send(kind.read);
    assert.strictEqual(await wire.until((s) => s.endsWith(kind.miss)), kind.miss);
    await wire.close();
    await fake.close();
  });

  Deno.test(`fake ${kind.name} in reply mode sends the raw reply to the next requests, then serves`, async () => {
    const fake = await kind.start();
    fake.faults.set({ mode: "reply", raw: kind.raw, times: 2 });
    const wire = await RawClient.open({ port: fake.port });
    await wire.send(kind.write + kind.read + kind.read);
    assert.strictEqual(await wire.until((s) => s.endsWith(kind.miss)), kind.raw + kind.raw + kind.miss);
    assert.strictEqual(fake.faults.current, null);
    await wire.close();
    await fake.close();
  });

  Deno.test(`fake ${kind.name} refuses connects and drops connections until restored on the same port`, async () => {
    // Below the ephemeral range: a connect to a closed ephemeral port can, rarely, connect to itself.
    const fake = await kind.start({ port: freePort() });
    const port = fake.port;
    assert.strictEqual(fake.address, `127.0.0.1:${port}`);
    assert.strictEqual(await ask(fake, kind.write, kind.written), kind.written);
    const open = await RawClient.open({ port });
    await fake.refuse();
    assert.strictEqual(await open.closed(), "");
    await open.close();
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }), Deno.errors.ConnectionRefused);
    await fake.restore();
    assert.strictEqual(fake.port, port);
    assert.strictEqual(await ask(fake, kind.read, kind.hit), kind.hit);
    assert.strictEqual(fake.stats.connections, 3);
    await fake.close();
  });

  Deno.test(`fake ${kind.name} refusing with keepConnections still serves open connections`, async () => {
    const fake = await kind.start({ port: freePort() });
    const wire = await RawClient.open({ port: fake.port });
    await fake.refuse({ keepConnections: true });
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: fake.port }),
      Deno.errors.ConnectionRefused,
    );
    await wire.send(kind.read);
    assert.strictEqual(await wire.until((s) => s.endsWith(kind.miss)), kind.miss);
    await wire.close();
    await fake.close();
  });

  Deno.test(`fake ${kind.name} on a unix socket refuses with ENOENT and comes back`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/fake.sock`;
    const fake = await kind.start({ path });
    try {
      assert.strictEqual(fake.address, path);
      assert.strictEqual(fake.port, 0);
      await fake.refuse();
      await assert.rejects(Deno.connect({ transport: "unix", path }), Deno.errors.NotFound);
      await fake.restore();
      const wire = await RawClient.open({ path });
      await wire.send(kind.read);
      assert.strictEqual(await wire.until((s) => s.endsWith(kind.miss)), kind.miss);
      await wire.close();
    } finally {
      await fake.close();
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`fake ${kind.name} close ends every open connection, even with delayed replies pending`, async () => {
    const fake = await kind.start();
    const a = await RawClient.open({ port: fake.port });
    const b = await RawClient.open({ port: fake.port });
    fake.faults.set({ mode: "delay", ms: 10_000 });
    await a.send(kind.read);
    await eventually(() => fake.stats.requests === 1);
    await fake.close();
    assert.strictEqual(await a.closed(), "");
    assert.strictEqual(await b.closed(), "");
    assert.strictEqual(fake.openConnections, 0);
    await a.close();
    await b.close();
  });
}

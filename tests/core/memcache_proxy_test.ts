/**
 * tsproxy in front of four real memcached servers: every supported command and its noreply form,
 * cas with real uniques, quit, deep pipelines, many concurrent clients, multi-get across servers in
 * key order, large values, malformed requests (CLIENT_ERROR, then close) and the fragments stat.
 */
import assert from "assert";
import { str } from "../protocol/memcache/latin1.ts";
import { MemcacheModel } from "../support/memcache_model.ts";
import {
  assertReplies,
  casOf,
  casSession,
  commandSteps,
  getStep,
  keySet,
  mixedSteps,
  noreplySteps,
  prng,
  randInt,
  randomValue,
  runScript,
  type Step,
  step,
  storageRequest,
  storeSteps,
  tooLargeSteps,
} from "../support/memcache_scripts.ts";
import { allClients, type MemcacheSetup, startMemcacheSetup, withClient } from "../support/memcache_setup.ts";
import { readStats } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";
import { show } from "../../harness/bytes.ts";
import { askDirect, keyHolders } from "../../harness/memcache_lab.ts";

/** Runs steps on a new connection and asserts their exact replies and that the connection stays open. */
async function expectSteps(setup: MemcacheSetup, steps: Step[], label: string): Promise<void> {
  await withClient(setup.port, async (wire) => {
    const got = await runScript(wire, steps);
    assertReplies(got.replies, steps, label);
    assert.equal(got.closed, false, `${label}: connection closed`);
  });
}

/** A CLIENT_ERROR line with a reason. */
const CLIENT_ERROR = /^CLIENT_ERROR [^\r\n]+\r\n$/;

/** Sets `keys` (see storeSteps) and returns the model holding them. */
async function storeKeys(setup: MemcacheSetup, keys: readonly string[]): Promise<MemcacheModel> {
  const model = new MemcacheModel();
  await expectSteps(setup, storeSteps(model, keys), "storing keys");
  return model;
}

/** The pool's fragments stat. */
async function fragmentsStat(setup: MemcacheSetup): Promise<number> {
  const stats = await readStats(setup.statsPort) as Record<string, Record<string, unknown>>;
  return stats.alpha.fragments as number;
}

Deno.test(
  "tsproxy relays memcache commands to four real memcached servers with memcached's exact replies",
  needs("memcached"),
  async (t) => {
    const setup = await startMemcacheSetup("tsproxy");
    try {
      const version = (await askDirect(setup.backends[0].port, "version\r\n", 1))[0];

      await t.step(
        "every command gets memcached's reply: hits, misses, incr/decr wrap, errors, version",
        () => expectSteps(setup, commandSteps("a:", version), "commands"),
      );

      await t.step(
        "noreply forms reply nothing yet take effect",
        () => expectSteps(setup, noreplySteps("b:"), "noreply"),
      );

      await t.step(
        "cas stores with the unique from gets, refuses a stale one, misses a missing key",
        async () => {
          await withClient(setup.port, async (wire) => {
            const { steps, replies } = await casSession(wire, "c:");
            assertReplies(replies, steps, "cas");
            const uniques = [replies[1], replies[5]].map(casOf);
            assert.notEqual(uniques[0], uniques[1], "a successful cas changes the unique");
          });
        },
      );

      await t.step(
        "quit: replies to the requests before it are written, then the connection closes",
        async () => {
          await withClient(setup.port, async (wire) => {
            const steps = [
              step(storageRequest("set", "d:k", "v"), "STORED\r\n"),
              step("get d:k\r\n", "VALUE d:k 0 1\r\nv\r\nEND\r\n"),
              step("quit  \r\n", null),
              step("get d:k\r\n", null),
            ];
            const got = await runScript(wire, steps);
            assertReplies(got.replies, steps, "quit");
            const rest = await wire.drain(500);
            assert.equal(str(rest.bytes), "", "nothing after quit");
            assert.ok(rest.closed, "closed after quit");
          });
        },
      );

      await t.step(
        "after the client half-closes, everything it sent is answered, then the connection closes",
        () =>
          withClient(setup.port, async (wire) => {
            const steps = mixedSteps(new MemcacheModel(), prng(31), keySet("hc:", 20), 300);
            const got = await runScript(wire, steps, {
              send: (data) => wire.send(data).then(() => wire.conn.closeWrite()),
            });
            assertReplies(got.replies, steps, "half-closed");
            assert.ok(await wire.closedWithin(2000), "closed");
          }),
      );

      await t.step(
        "clients leaving with replies pending do not disturb the next client's replies",
        async () => {
          const big = "q".repeat(300_000);
          await expectSteps(setup, [step(storageRequest("set", "l:big", big), "STORED\r\n")], "storing");
          for (let i = 0; i < 5; i++) {
            await withClient(setup.port, async (wire) => {
              await wire.send("get l:big\r\nget l:big l:none l:big\r\nincr l:none 1\r\n".repeat(20));
              await wire.drain(10); // leaves with most replies unread
            });
          }
          await expectSteps(
            setup,
            mixedSteps(new MemcacheModel(), prng(32), keySet("l:", 20), 300),
            "next client",
          );
        },
      );

      await t.step(
        "a pipeline of 1,000 mixed requests in one write is answered in order",
        () =>
          expectSteps(setup, mixedSteps(new MemcacheModel(), prng(1000), keySet("e:", 40), 1000), "pipeline"),
      );

      await t.step(
        "100 concurrent clients with pipelines on overlapping keys each get exactly their replies",
        () => concurrentClients(setup),
      );

      await t.step(
        "multi-get over four servers answers in the client's key order, duplicates and misses too",
        () => multiGet(setup),
      );

      await t.step(
        "values of 1 B to 1,000,000 B come back byte-identical, sent whole or in small pieces",
        () => largeValues(setup),
      );

      await t.step(
        "a 2 MB value gets memcached's SERVER_ERROR object too large and the client stays usable",
        () => expectSteps(setup, tooLargeSteps("h:"), "too large"),
      );

      await t.step(
        "a malformed request gets CLIENT_ERROR after earlier replies, then close; others unaffected",
        () => malformed(setup),
      );

      await t.step(
        "the fragments stat counts one fragment per server a multi-get reaches",
        () => fragments(setup),
      );
    } finally {
      await setup.stop();
    }
  },
);

/**
 * 100 clients at once, each with a continuous pipeline written in small pieces: its own keys (exact
 * replies from its own model), read-only shared keys, a shared counter (each value handed out once)
 * and contested `add`s (exactly one winner each).
 */
async function concurrentClients(setup: MemcacheSetup): Promise<void> {
  const CLIENTS = 100;
  const ROUNDS = 4;
  const shared = keySet("ro:", 10);
  const base = await storeKeys(setup, shared);
  await expectSteps(setup, [step(storageRequest("set", "ctr", "0"), "STORED\r\n")], "counter");

  const counters: number[] = [];
  const adds: string[][] = Array.from({ length: ROUNDS }, () => []);
  await allClients(Array.from({ length: CLIENTS }, async (_, c) => {
    const rng = prng(7000 + c);
    const model = new MemcacheModel();
    storeSteps(model, shared); // the model learns the shared values
    const own = keySet(`c${c}:`, 6);
    const steps: Step[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      steps.push(...mixedSteps(model, rng, own, 20));
      const mix = [
        own[randInt(rng, 6)],
        shared[randInt(rng, 10)],
        own[randInt(rng, 6)],
        shared[randInt(rng, 10)],
      ];
      const one = shared[randInt(rng, 10)];
      steps.push(getStep(model, [one]), getStep(model, mix));
      steps.push({ request: "incr ctr 1\r\n", expect: "", matches: /^\d+\r\n$/ });
      steps.push({
        request: storageRequest("add", `once:${r}`, `c${c}`),
        expect: "",
        matches: /^(NOT_)?STORED\r\n$/,
      });
    }
    await withClient(setup.port, async (wire) => {
      const got = await runScript(wire, steps, {
        timeoutMs: 20_000,
        send: (data) => wire.sendInPieces(data, () => 1 + randInt(rng, 300)),
      });
      assertReplies(got.replies, steps, `client ${c}`);
      const replyOf = steps.filter((s) => s.expect !== null);
      replyOf.forEach((s, i) => {
        if (s.request === "incr ctr 1\r\n") counters.push(Number(got.replies[i]));
        const once = /^add once:(\d+) /.exec(s.request);
        if (once && got.replies[i] === "STORED\r\n") adds[Number(once[1])].push(`c${c}`);
      });
    });
  }));

  assert.deepEqual(counters.sort((a, b) => a - b), Array.from({ length: CLIENTS * ROUNDS }, (_, i) => i + 1));
  for (let r = 0; r < ROUNDS; r++) assert.equal(adds[r].length, 1, `one winner of add once:${r}`);
  await expectSteps(
    setup,
    adds.map(([winner], r) =>
      step(`get once:${r}\r\n`, `VALUE once:${r} 0 ${winner.length}\r\n${winner}\r\nEND\r\n`)
    ),
    "contested adds",
  );
  // The shared keys were only read: still the base values.
  await expectSteps(setup, [getStep(base, shared)], "shared keys");
}

/** Multi-get/gets over keys spread on all four servers, in orders with duplicates and missing keys. */
async function multiGet(setup: MemcacheSetup): Promise<void> {
  const keys = keySet("g:", 40);
  const model = await storeKeys(setup, keys);
  const holders = await keyHolders(setup.backends.map((b) => b.port), keys);
  assert.ok(holders.every((h) => h.length === 1), "each key on exactly one server");
  assert.equal(new Set(holders.map((h) => h[0])).size, 4, "keys spread over all four servers");

  const rng = prng(42);
  const missing = keySet("g:missing", 8);
  const shuffled = [...keys].sort(() => rng() - 0.5);
  const lists = [
    shuffled,
    [keys[3], keys[7], keys[3], keys[3], keys[12], keys[7]],
    Array.from({ length: 30 }, () => rng() < 0.3 ? missing[randInt(rng, 8)] : keys[randInt(rng, 40)]),
    [missing[0], keys[0], missing[1], keys[1], keys[2], missing[2], keys[0]],
    [missing[3], missing[4]],
  ];
  await expectSteps(setup, lists.map((ks) => getStep(model, ks)), "multi-get");

  // gets: the same blocks with each key's cas unique, as a single-key gets reports it.
  const ks = [keys[5], missing[5], keys[9], keys[5], keys[20]];
  await withClient(setup.port, async (wire) => {
    const singles = await runScript(wire, ks.map((k) => step(`gets ${k}\r\n`, "")));
    const multi = await runScript(wire, [step(`gets ${ks.join(" ")}\r\n`, "")]);
    const want = singles.replies.map((r) => r.slice(0, -"END\r\n".length)).join("") + "END\r\n";
    assert.equal(multi.replies[0], want);
    assert.ok(singles.replies.every((r, i) => (r === "END\r\n") === (ks[i] === missing[5])));
  });
}

/** Values of 1 B, 1 KB, 100 KB and 1,000,000 B, with every byte value, sent whole and in pieces. */
async function largeValues(setup: MemcacheSetup): Promise<void> {
  const rng = prng(99);
  for (const size of [1, 1024, 100 * 1024, 1_000_000]) {
    let data = "";
    while (data.length < size) data += randomValue(rng, 4096);
    data = data.slice(0, size);
    for (const pieces of [false, true]) {
      const key = `v:${size}:${pieces}`;
      const steps = [
        step(storageRequest("set", key, data, { flags: size }), "STORED\r\n"),
        step(`get ${key}\r\n`, `VALUE ${key} ${size} ${size}\r\n${data}\r\nEND\r\n`),
        step(
          `get ${key} v:none ${key}\r\n`,
          `VALUE ${key} ${size} ${size}\r\n${data}\r\n`.repeat(2) + "END\r\n",
        ),
      ];
      await withClient(setup.port, async (wire) => {
        const got = await runScript(wire, steps, {
          timeoutMs: 20_000,
          send: pieces ? (bytes) => wire.sendInPieces(bytes, () => 1 + randInt(rng, 4000)) : undefined,
        });
        assertReplies(got.replies, steps, `${size} B${pieces ? " in pieces" : ""}`);
      });
    }
  }
}

/**
 * Sends `steps`, the malformed `bad` and a noreply set in one write: the steps' replies, a
 * CLIENT_ERROR, then close, and nothing after the bad request reaches a server.
 */
async function expectClientError(setup: MemcacheSetup, steps: Step[], bad: string): Promise<void> {
  const after = step(storageRequest("set", "m:after", "x", { noreply: true }), null);
  const all = [...steps, { request: bad, expect: "", matches: CLIENT_ERROR }, after];
  await withClient(setup.port, async (wire) => {
    const got = await runScript(wire, all);
    assertReplies(got.replies, all, `before and at ${show(bad)}`);
    const rest = await wire.drain(1000);
    assert.equal(str(rest.bytes), "", `nothing after the CLIENT_ERROR for ${show(bad)}`);
    assert.ok(rest.closed, `closed after ${show(bad)}`);
  });
  await expectSteps(setup, [step("get m:after\r\n", "END\r\n")], `nothing forwarded after ${show(bad)}`);
}

/** Malformed requests, each on its own connection, while another client's deep pipeline is in flight. */
async function malformed(setup: MemcacheSetup): Promise<void> {
  const ok = [
    step(storageRequest("set", "m:k", "mv"), "STORED\r\n"),
    step("get m:k m:none\r\n", "VALUE m:k 0 2\r\nmv\r\nEND\r\n"),
    step("incr m:none 1\r\n", "NOT_FOUND\r\n"),
  ];
  const bad = [
    "GET x\r\n",
    `get ${"k".repeat(251)}\r\n`,
    "set m:k 0 0 3\r\nabcde\r\n",
    "get\r\n",
    "get \r\n",
    "flush_all\r\n",
    "delete m:k 0\r\n",
    "set m:k 0 -1 1\r\nx\r\n",
    "incr m:k abc\r\n",
    "version 1\r\n",
  ];
  const rng = prng(5);
  const other = mixedSteps(new MemcacheModel(), rng, keySet("o:", 30), 1000);
  await allClients([
    withClient(setup.port, async (wire) => {
      const got = await runScript(wire, other, {
        timeoutMs: 20_000,
        send: (bytes) => wire.sendInPieces(bytes, () => 1 + randInt(rng, 500)),
      });
      assertReplies(got.replies, other, "the other client");
      assert.equal(got.closed, false);
    }),
    (async () => {
      for (const b of bad) await expectClientError(setup, ok, b);
    })(),
  ]);
}

/** fragments: a multi-get adds the number of servers its keys are on; a single-key get adds none. */
async function fragments(setup: MemcacheSetup): Promise<void> {
  const keys = keySet("f:", 12);
  const model = await storeKeys(setup, keys);
  const owner = (await keyHolders(setup.backends.map((b) => b.port), keys)).map((h) => h[0]);
  const sameServer = keys.filter((_, i) => owner[i] === owner[0]);
  assert.ok(sameServer.length >= 2, "two keys on one server");
  const lists = [keys, [keys[0]], [keys[1], keys[2], keys[1]], sameServer.slice(0, 2)];
  const want = lists.map((ks) => ks.length < 2 ? 0 : new Set(ks.map((k) => owner[keys.indexOf(k)])).size);
  const before = await fragmentsStat(setup);
  await expectSteps(setup, lists.map((ks) => getStep(model, ks)), "gets");
  assert.equal(await fragmentsStat(setup) - before, want.reduce((a, b) => a + b, 0));
}

Deno.test(
  "tsproxy with three connections per server and 512-byte buffers answers each client in request order",
  needs("memcached"),
  async () => {
    const setup = await startMemcacheSetup("tsproxy", {
      args: ["-m", "512"],
      directives: { server_connections: "3" },
    });
    try {
      const rng = prng(77);
      const model = new MemcacheModel();
      const keys = keySet("r:", 40);
      // Values up to 20 KB span many 512-byte buffers.
      const sets = keys.map((k, i) => {
        const data = randomValue(rng, i % 5 === 0 ? 20_000 : 100);
        return step(storageRequest("set", k, data), model.store("set", k, 0, data));
      });
      await expectSteps(setup, sets, "storing");
      // Only reads from here: memcached may reorder writes sent over different connections.
      await allClients(Array.from({ length: 20 }, async (_, c) => {
        const rng = prng(300 + c);
        const pick = () => rng() < 0.1 ? `r:none${randInt(rng, 5)}` : keys[randInt(rng, keys.length)];
        const steps = Array.from(
          { length: 300 },
          () => getStep(model, Array.from({ length: 1 + randInt(rng, 4) }, pick)),
        );
        await withClient(setup.port, async (wire) => {
          const got = await runScript(wire, steps, {
            timeoutMs: 20_000,
            send: (data) => wire.sendInPieces(data, () => 1 + randInt(rng, 2000)),
          });
          assertReplies(got.replies, steps, `client ${c}`);
        });
      }));
    } finally {
      await setup.stop();
    }
  },
);

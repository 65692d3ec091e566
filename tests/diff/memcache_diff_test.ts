/**
 * Differential test against the real nutcracker 0.5.0: the same memcache request scripts go through
 * nutcracker and through tsproxy, each in front of its own four fresh memcached servers named s1..s4,
 * and the replies must be byte-identical. Allowed differences, both documented in the README:
 * (a) a malformed request makes tsproxy send `CLIENT_ERROR <reason>` before closing where nutcracker
 * closes silently; (b) a multi-key get with missing keys may list its VALUE blocks in another order
 * (tsproxy keeps key order), so those replies are compared as multisets of blocks.
 * Afterwards every backend pair (nutcracker's sN, tsproxy's sN) must hold the same keys and values.
 * One difference is memcached's, not the proxies': a number an incr/decr made shorter is padded with
 * spaces or not depending on timing (see memcache_model.ts), so such values are compared unpadded.
 */
import assert from "assert";
import { bin, str } from "../protocol/memcache/latin1.ts";
import { MemcacheModel } from "../support/memcache_model.ts";
import {
  casSession,
  commandSteps,
  getStep,
  keySet,
  mixedSteps,
  noreplySteps,
  prng,
  randInt,
  replySteps,
  runScript,
  type Step,
  step,
  storageRequest,
  storeSteps,
  tooLargeSteps,
  valueMultiset,
} from "../support/memcache_scripts.ts";
import { allClients, type MemcacheSetup, startMemcacheSetup, withClient } from "../support/memcache_setup.ts";
import { needs } from "../support/needs.ts";
import { show } from "../../harness/bytes.ts";
import { askDirect } from "../../harness/memcache_lab.ts";

/** What one proxy answered to a script. */
interface Run {
  replies: string[];
  closed: boolean;
}

/** The keys a request names (none for requests without keys). */
function keysOf(request: string): string[] {
  const words = request.slice(0, request.indexOf("\r\n")).split(" ").filter((w) => w !== "");
  if (words[0] === "get" || words[0] === "gets") return words.slice(1);
  return words.length > 1 ? [words[1]] : [];
}

/**
 * A get reply with each numeric value's trailing spaces (memcached's in-place padding after an
 * incr/decr) removed.
 */
function unpadded(reply: string): string {
  return reply.replace(
    /(VALUE \S+ \d+ )(\d+)((?: \d+)?\r\n)([0-9]+)( +)\r\n/g,
    (block: string, head: string, len: string, rest: string, digits: string, spaces: string) =>
      Number(len) === digits.length + spaces.length ? `${head}${digits.length}${rest}${digits}\r\n` : block,
  );
}

/**
 * Asserts that tsproxy's replies are nutcracker's, block order of unordered multi-gets aside, and
 * padding of values an incr/decr shrank (steps marked `padding` by the model) aside.
 */
function assertSame(nc: Run, ts: Run, steps: readonly Step[], label: string): void {
  const want = replySteps(steps);
  assert.equal(nc.replies.length, want.length, `${label}: nutcracker's number of replies`);
  assert.equal(ts.replies.length, want.length, `${label}: tsproxy's number of replies`);
  want.forEach((s, i) => {
    let [a, b] = [nc.replies[i], ts.replies[i]];
    if (s.padding && a !== b) {
      // Each proxy's reply is one memcached may give; then they are compared unpadded.
      if (s.matches && !s.unordered && s.request.startsWith("get ")) {
        assert.match(a, s.matches, `${label} reply ${i} to ${show(s.request)}: nutcracker`);
        assert.match(b, s.matches, `${label} reply ${i} to ${show(s.request)}: tsproxy`);
      }
      [a, b] = [unpadded(a), unpadded(b)];
    }
    if (s.unordered && a !== b) {
      assert.deepEqual(valueMultiset(b), valueMultiset(a), `${label} reply ${i} to ${show(s.request)}`);
    } else {
      assert.ok(
        a === b,
        `${label} reply ${i} to ${show(s.request)}: nutcracker ${show(a)}, tsproxy ${show(b)}`,
      );
    }
  });
  assert.equal(ts.closed, nc.closed, `${label}: closed`);
}

/** A CLIENT_ERROR line with a reason, at the end of tsproxy's bytes. */
const TRAILING_CLIENT_ERROR = /CLIENT_ERROR [^\r\n]+\r\n$/;

Deno.test(
  "tsproxy answers memcache scripts byte for byte like nutcracker 0.5.0 over identical memcached pools",
  needs("memcached", "nutcracker"),
  async (t) => {
    const setups: MemcacheSetup[] = [];
    try {
      setups.push(await startMemcacheSetup("nutcracker"));
      setups.push(await startMemcacheSetup("tsproxy"));
      const nc = setups[0];
      /** Every key the scripts name, for the placement check. */
      const used = new Set<string>();
      /** The keys an incr/decr named: their values are compared unpadded. */
      const counted = new Set<string>();

      /**
       * Runs `steps` on a new connection to each proxy (both at once) and compares the replies. With
       * `halfClose` the client shuts its sending side after the script; with `closes` the proxies
       * must close the connection after the replies.
       */
      const compare = async (
        steps: Step[],
        label: string,
        opts: { halfClose?: boolean; closes?: boolean } = {},
      ) => {
        for (const s of steps) {
          keysOf(s.request).forEach((k) => used.add(k));
          if (/^(incr|decr) /.test(s.request)) counted.add(keysOf(s.request)[0]);
        }
        const [a, b] = await allClients(setups.map((s) =>
          withClient(s.port, async (w) => {
            const send = opts.halfClose
              ? (data: Uint8Array) => w.send(data).then(() => w.conn.closeWrite())
              : undefined;
            const got = await runScript(w, steps, { send });
            return { replies: got.replies, closed: opts.closes ? await w.closedWithin(2000) : got.closed };
          })
        ));
        assertSame(a, b, steps, label);
        if (opts.closes) assert.ok(a.closed, `${label}: closed`);
      };

      const version = (await askDirect(nc.backends[0].port, "version\r\n", 1))[0];

      await t.step(
        "every command, hit and miss, memcached's errors and version: same bytes",
        () => compare(commandSteps("a:", version), "commands"),
      );

      await t.step("noreply forms: same silence, same effects", () => compare(noreplySteps("b:"), "noreply"));

      await t.step(
        "gets and cas over fresh identical servers: same bytes, cas uniques included",
        async () => {
          const [a, b] = await allClients(setups.map((s) => withClient(s.port, (w) => casSession(w, "c:"))));
          for (const s of a.steps) keysOf(s.request).forEach((k) => used.add(k));
          assertSame(
            { replies: a.replies, closed: false },
            { replies: b.replies, closed: false },
            a.steps,
            "cas",
          );
        },
      );

      await t.step(
        "a 2 MB value: the same SERVER_ERROR object too large for cache",
        () => compare(tooLargeSteps("h:"), "too large"),
      );

      await t.step(
        "multi-get over four servers: same VALUE blocks, duplicates and missing keys",
        async () => {
          const model = new MemcacheModel();
          const keys = keySet("g:", 40);
          const missing = keySet("g:missing", 8);
          const rng = prng(17);
          const lists = [
            keys,
            [...keys].reverse(),
            [keys[3], keys[7], keys[3], keys[3], keys[12], keys[7]],
            [missing[0], keys[0], missing[1], keys[1], keys[2], missing[2], keys[0]],
            [missing[3], missing[4]],
            ...Array.from(
              { length: 20 },
              () =>
                Array.from(
                  { length: 2 + randInt(rng, 12) },
                  () => rng() < 0.3 ? missing[randInt(rng, 8)] : keys[randInt(rng, 40)],
                ),
            ),
          ];
          const steps = [
            ...storeSteps(model, keys),
            ...lists.flatMap((ks) => [getStep(model, ks), getStep(model, ks, "gets")]),
          ];
          await compare(steps, "multi-get");
        },
      );

      await t.step("500 pipelined single-key gets and gets (tsproxy batches them): same bytes", async () => {
        const model = new MemcacheModel();
        const rng = prng(5);
        const keys = keySet("sg:", 30);
        const pick = () => rng() < 0.25 ? `sg:missing${randInt(rng, 5)}` : keys[randInt(rng, keys.length)];
        await compare(
          [
            ...storeSteps(model, keys),
            ...Array.from({ length: 500 }, () => getStep(model, [pick()], rng() < 0.3 ? "gets" : "get")),
          ],
          "single gets",
        );
      });

      await t.step("1,000-deep pipelines of mixed commands: same replies in the same order", async () => {
        for (const seed of [1, 2, 3]) {
          await compare(
            mixedSteps(new MemcacheModel(), prng(seed), keySet(`p${seed}:`, 40), 1000),
            `seed ${seed}`,
          );
        }
      });

      await t.step("quit: the same replies before it, then both close", () =>
        compare(
          [
            step(storageRequest("set", "d:k", "v"), "STORED\r\n"),
            step("get d:k\r\n", ""),
            step("quit\r\n", null),
            step("get d:k\r\n", null),
          ],
          "quit",
          { closes: true },
        ));

      await t.step(
        "a client that half-closes: the same replies to everything it sent, then both close",
        () =>
          compare(mixedSteps(new MemcacheModel(), prng(9), keySet("hc:", 20), 300), "half-close", {
            halfClose: true,
            closes: true,
          }),
      );

      await t.step(
        "incomplete requests (bare \\n line end, short data block): both wait without replying",
        async () => {
          for (const partial of ["get i:k\n", "set i:k 0 0 5\r\nab", "get i:k i:j", "  "]) {
            const [a, b] = await allClients(setups.map((s) =>
              withClient(s.port, async (w) => {
                await w.send(bin(partial));
                return await w.drain(300);
              })
            ));
            assert.equal(str(a.bytes), "", `nutcracker's reply to ${show(partial)}`);
            assert.equal(str(b.bytes), "", `tsproxy's reply to ${show(partial)}`);
            assert.ok(!a.closed && !b.closed, `both still open after ${show(partial)}`);
          }
        },
      );

      await t.step("a malformed request: both close; tsproxy alone sends CLIENT_ERROR first", async () => {
        const before = [
          step(storageRequest("set", "m:k", "mv"), ""),
          step("get m:k m:none\r\n", ""),
          step("incr m:none 1\r\n", ""),
        ];
        const reads = [step("get m:k\r\n", ""), step("get m:k m:none m:k\r\n", "")];
        const bad = [
          "GET x\r\n",
          `get ${"k".repeat(251)}\r\n`,
          "set m:k 0 0 3\r\nabcde\r\n",
          "get\r\n",
          "flush_all\r\n",
          "delete m:k 0\r\n",
          "set m:k 0 -1 1\r\nx\r\n",
          "incr m:k abc\r\n",
          "version 1\r\n",
          "set m:k 0 0 1 noreply x\r\nv\r\n",
        ];
        for (const b of bad) {
          // Earlier replies read first, then the bad request alone.
          const [a, c] = await allClients(setups.map((s) =>
            withClient(s.port, async (w) => {
              const run = await runScript(w, before);
              await w.send(bin(b));
              return { run, after: await w.drain(1000) };
            })
          ));
          assertSame(a.run, c.run, before, `before ${show(b)}`);
          assert.equal(str(a.after.bytes), "", `nutcracker sends nothing for ${show(b)}`);
          assert.match(str(c.after.bytes), /^CLIENT_ERROR [^\r\n]+\r\n$/, `tsproxy's reply to ${show(b)}`);
          assert.ok(a.after.closed && c.after.closed, `both close after ${show(b)}`);

          // Pipelined behind reads: nutcracker's bytes (it may drop pending replies) are a prefix of
          // tsproxy's, which are the reads' replies and the CLIENT_ERROR.
          const data = bin(reads.map((s) => s.request).join("") + b);
          const [x, y] = await allClients(setups.map((s) =>
            withClient(s.port, async (w) => {
              await w.send(data);
              return await w.drain(1000);
            })
          ));
          const tsBytes = str(y.bytes);
          assert.match(tsBytes, TRAILING_CLIENT_ERROR, `tsproxy ends with CLIENT_ERROR for ${show(b)}`);
          const tsReplies = tsBytes.replace(TRAILING_CLIENT_ERROR, "");
          const value = "VALUE m:k 0 2\r\nmv\r\n";
          assert.equal(
            tsReplies,
            `${value}END\r\n${value}${value}END\r\n`,
            `tsproxy's replies before ${show(b)}`,
          );
          assert.ok(tsReplies.startsWith(str(x.bytes)), `nutcracker's ${show(str(x.bytes))} is a prefix`);
          assert.ok(x.closed && y.closed, `both close after pipelined ${show(b)}`);
        }
      });

      await t.step("each backend pair sN holds the same keys and values behind both proxies", async () => {
        const keys = [...used];
        let held = 0;
        for (let i = 0; i < 4; i++) {
          const request = keys.map((k) => `get ${k}\r\n`).join("");
          const [a, b] = await allClients(
            setups.map((s) => askDirect(s.backends[i].port, request, keys.length)),
          );
          keys.forEach((k, j) => {
            assert.ok(
              a[j] === b[j] || (counted.has(k) && unpadded(a[j]) === unpadded(b[j])),
              `s${i + 1} key ${show(k)}: nutcracker's ${show(a[j])}, tsproxy's ${show(b[j])}`,
            );
            if (a[j] !== "END\r\n") held++;
          });
        }
        assert.ok(held > 100, `only ${held} keys held`);
      });
    } finally {
      for (const s of setups.reverse()) await s.stop();
    }
  },
);

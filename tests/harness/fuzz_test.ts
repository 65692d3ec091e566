import assert from "assert";
import { Fuzzer, MUTATIONS, Rng, runSeed } from "../../harness/fuzz.ts";
import { latin1 } from "../../harness/bytes.ts";
import { MemcacheRequestParser } from "../../src/protocol/memcache/request_parser.ts";
import { RedisRequestParser } from "../../src/protocol/redis/request_parser.ts";

const take = (f: Fuzzer, n: number) => Array.from({ length: n }, () => latin1(f.next().bytes));

Deno.test("the same seed makes the same fuzz messages, another seed other ones", () => {
  for (const proto of ["memcache", "redis"] as const) {
    assert.deepEqual(take(new Fuzzer(proto, 42), 500), take(new Fuzzer(proto, 42), 500));
    assert.notDeepEqual(take(new Fuzzer(proto, 42), 500), take(new Fuzzer(proto, 43), 500));
  }
});

Deno.test("half the messages are valid requests, the rest spread over every mutation", () => {
  for (const proto of ["memcache", "redis"] as const) {
    const f = new Fuzzer(proto, 7);
    take(f, 14_000);
    assert.ok(Math.abs(f.counts.valid - 7000) < 400, `valid: ${f.counts.valid}`);
    for (const m of MUTATIONS.slice(1)) {
      assert.ok(Math.abs(f.counts[m] - 1000) < 200, `${proto} ${m}: ${f.counts[m]}`);
    }
  }
});

Deno.test("a valid fuzz request is one whole request to tsproxy's parser, on a fuzz key, never a flush", () => {
  for (const proto of ["memcache", "redis"] as const) {
    const f = new Fuzzer(proto, 11);
    let whole = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = f.valid();
      const text = latin1(bytes);
      assert.doesNotMatch(text, /flush|chk:/i);
      const parser = proto === "memcache" ? new MemcacheRequestParser() : new RedisRequestParser(16384);
      try {
        const req = parser.parse(bytes, 0, bytes.length);
        assert.equal(req?.length, bytes.length, JSON.stringify(text.slice(0, 200)));
        whole++;
      } catch (err) {
        // Only a key past memcached's 250 bytes (the fuzzers' keys near the limit) is refused.
        assert.ok(/fz:k{248,}/.test(text), `${err}: ${JSON.stringify(text.slice(0, 200))}`);
      }
    }
    assert.ok(whole > 2800, `${proto}: ${whole} of 3000 whole`);
  }
});

Deno.test("the mutations make malformed messages: control bytes, odd numbers, cut and random bytes", () => {
  const f = new Fuzzer("memcache", 5);
  const seen = take(f, 5000).join("\n");
  assert.ok(seen.includes("\x00"), "a NUL byte");
  assert.match(seen, /18446744073709551616|99999999999999999999/);
  assert.match(seen, /-1\b/);
  assert.match(seen, /[\x80-\xff]/);
});

Deno.test("Rng is uniform enough and stays within its ranges", () => {
  const r = new Rng(1);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const n = r.range(3, 12);
    assert.ok(n >= 3 && n <= 12);
    buckets[n - 3]++;
  }
  for (const b of buckets) assert.ok(Math.abs(b - 10_000) < 600, String(buckets));
});

Deno.test("the run's seed is ABUSE_SEED when set, refused when not a 32-bit number, else random", () => {
  assert.equal(runSeed("12345"), 12345);
  assert.equal(runSeed("0"), 0);
  assert.throws(() => runSeed("-1"), /ABUSE_SEED must be an integer 0..4294967295, not "-1"/);
  assert.throws(() => runSeed("abc"), /ABUSE_SEED/);
  assert.throws(() => runSeed("4294967296"), /ABUSE_SEED/);
  const a = runSeed(""), b = runSeed(undefined);
  assert.ok(Number.isInteger(a) && a >= 0 && a <= 0xffffffff);
  assert.ok(Number.isInteger(b));
});

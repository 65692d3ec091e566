/**
 * The abuse checks at the test suite's bounded size (SMALL: 5,000 fuzz messages per protocol, 500
 * clients, 40 unread gets, 60 resets) behind tsproxy, the fuzzers behind nutcracker (whose wrong
 * replies are a known failure), and how a check's outcome becomes a pass, a failure or a known
 * nutcracker failure. `deno task harness --only abuse` plays them at full size.
 */
import assert from "assert";
import { cmd, raw, replyParser, sleep, Tally, withAbuseLab } from "../../../harness/abuse_lab.ts";
import { latin1 } from "../../../harness/bytes.ts";
import type { Outcome } from "../../../harness/runner.ts";
import { Wire } from "../../../harness/wire.ts";
import {
  ABUSE,
  ABUSE_CHECKS,
  type AbuseCheck,
  abuseNeeds,
  runAbuse,
  SMALL,
} from "../../../harness/scenarios/abuse.ts";
import { needs } from "../../support/needs.ts";

/** Lines a check printed, kept to show when it fails. */
function recorder(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line) };
}

for (const c of ABUSE) {
  Deno.test({
    name: `abuse check, bounded, behind tsproxy: ${c.name}`,
    ...needs(...abuseNeeds(c)),
    fn: async () => {
      const out = recorder();
      const outcome = await runAbuse(c, "tsproxy", SMALL, out.write);
      assert.deepEqual(outcome.failed, [], out.lines.join("\n"));
      assert.equal(out.lines.length, 1, out.lines.join("\n"));
      assert.ok(out.lines[0].startsWith("    tsproxy: "), out.lines[0]);
      console.log(out.lines[0]);
    },
  });
}

Deno.test({
  name:
    "a redis length with a leading zero from one client fails none of another client's requests in flight",
  ...needs("redis-server"),
  fn: async () => {
    await withAbuseLab("tsproxy", "redis", "real", {}, async (lab) => {
      const b = await Wire.connect(lab.port);
      const a = await Wire.connect(lab.port);
      try {
        await b.send(cmd("SET", "k", "v"));
        assert.deepEqual((await b.replies(replyParser("redis"), 1)).replies.map(latin1), ["+OK\r\n"]);
        const n = 20_000;
        const sending = b.send(cmd("GET", "k").repeat(n));
        await sleep(2);
        await a.send("*2\r\n$3\r\nGET\r\n$01\r\nk\r\n"); // redis: "invalid bulk length", and it closes
        await sending;
        const got = (await b.replies(replyParser("redis"), n, 10_000)).replies.map(latin1);
        const wrong = got.filter((r) => r !== "$1\r\nv\r\n");
        assert.deepEqual([got.length, wrong.length, wrong.slice(0, 1)], [n, 0, []]);
      } finally {
        a.close();
        b.close();
      }
    });
  },
});

Deno.test({
  name: "behind nutcracker the bounded fuzzers run to the end, and wrong replies count as its known failure",
  ...needs("nutcracker", "memcached", "redis-server"),
  fn: async () => {
    for (const c of ABUSE.filter((c) => c.name.includes("fuzzer"))) {
      const out = recorder();
      const outcome = await runAbuse(c, "nutcracker", SMALL, out.write);
      assert.ok(out.lines[0].startsWith("    nutcracker: "), out.lines.join("\n"));
      assert.match(out.lines[0], /5,000 random and mutated messages \(seed \d+; made: bitflip \d/);
      assert.match(out.lines[0], /proxy alive and serving$/);
      if (outcome.failed.length > 0) {
        assert.match(out.lines[1], /^ {4}nutcracker: known nutcracker failure \(/);
      }
      console.log(out.lines.join("\n"));
    }
  },
});

/** A check whose play returns a canned outcome. */
function canned(outcome: Outcome): AbuseCheck {
  return {
    name: "canned",
    proto: "memcache",
    backend: "fake",
    play: () => Promise.resolve(outcome),
    nutcracker: { known: /wrong checking replies/, why: "the reason" },
  };
}

Deno.test("a check passes on no failed criterion, printing its figures on one line", async () => {
  const out = recorder();
  await runAbuse(canned({ figures: "1 thing", failed: [], detail: ["unseen"] }), "tsproxy", SMALL, out.write);
  assert.deepEqual(out.lines, ["    tsproxy: 1 thing"]);
});

Deno.test("a failed criterion fails the check with its evidence, behind either proxy unless known", async () => {
  const failing = canned({ figures: "f", failed: ["the proxy exited"], detail: ["request x"] });
  for (const kind of ["tsproxy", "nutcracker"] as const) {
    await assert.rejects(
      () => runAbuse(failing, kind, SMALL, () => {}),
      /^Error: the proxy exited\nrequest x$/,
    );
  }
  const wrong = canned({
    figures: "f",
    failed: ["3 wrong checking replies (3 crossed)"],
    detail: ["request y"],
  });
  await assert.rejects(() => runAbuse(wrong, "tsproxy", SMALL, () => {}), /3 wrong checking replies/);
  const out = recorder();
  await runAbuse(wrong, "nutcracker", SMALL, out.write);
  assert.deepEqual(out.lines, [
    "    nutcracker: f",
    "    nutcracker: known nutcracker failure (the reason): 3 wrong checking replies (3 crossed)",
    "      request y",
  ]);
  // A known failure beside an unknown one still fails.
  const both = canned({
    figures: "f",
    failed: ["1 wrong checking replies (0 crossed)", "the proxy exited"],
    detail: [],
  });
  await assert.rejects(() => runAbuse(both, "nutcracker", SMALL, () => {}), /the proxy exited/);
});

Deno.test("a checking reply is verified, crossed, a proxy's error or unanswered", () => {
  const t = new Tally();
  const req = raw("get k\r\n");
  const want = "VALUE k 0 1\r\nv\r\nEND\r\n";
  assert.ok(t.judge(req, want, want));
  assert.ok(!t.judge(req, want, "VALUE other 0 1\r\nv\r\nEND\r\n"));
  assert.ok(!t.judge(req, want, "STORED\r\n"));
  assert.ok(!t.judge(req, want, "SERVER_ERROR object too large for cache\r\n")); // memcached's: another request's
  assert.ok(!t.judge(req, want, "SERVER_ERROR Connection timed out\r\n"));
  assert.ok(!t.judge(req, want, "-ERR Connection reset by peer\r\n"));
  assert.ok(!t.judge(req, want, undefined));
  assert.deepEqual([t.verified, t.crossed, t.errors, t.unanswered, t.wrong], [1, 3, 2, 1, 6]);
  assert.equal(t.samples.length, 5);
  assert.equal(
    t.samples[0],
    `request "get k\\r\\n"\n  expected "VALUE k 0 1\\r\\nv\\r\\nEND\\r\\n"\n  got      "VALUE other 0 1\\r\\nv\\r\\nEND\\r\\n"`,
  );
  assert.equal(
    t.summary(),
    "1 checking replies verified, 6 wrong (3 crossed, 2 error replies, 1 unanswered)",
  );
});

Deno.test("every abuse check is registered once for deno task harness, needing its real backend and python3", () => {
  assert.deepEqual(ABUSE_CHECKS.map((c) => c.name), ABUSE.map((c) => c.name));
  for (const c of ABUSE_CHECKS) {
    assert.equal(c.group, "abuse: misbehaving clients beside checking clients");
    const real = c.name.endsWith("(memcached)")
      ? ["memcached"]
      : c.name.endsWith("(redis-server)")
      ? ["redis-server"]
      : [];
    assert.deepEqual(c.needs, [...real, ...(c.name.includes("resets") ? ["python3"] : [])], c.name);
  }
});

import assert from "assert";
import { assertSteps, type Check, runChecks, type Step } from "../../harness/runner.ts";

function check(name: string, run: Check["run"], needs: string[] = []): Check {
  return { group: "g", name, needs, run };
}

Deno.test("runChecks plays every check behind every proxy and reports passed, failed and skipped", async () => {
  const lines: string[] = [];
  const played: string[] = [];
  const checks = [
    check("passes", (kind) => {
      played.push(`passes/${kind}`);
      return Promise.resolve();
    }),
    check("fails", () => Promise.reject(new Error('step "x":\n  got 1\n  want 2'))),
    check("needs a missing binary", () => Promise.reject(new Error("must not run")), ["no-such-binary"]),
  ];
  const results = await runChecks(checks, ["nutcracker", "tsproxy"], {
    write: (l) => lines.push(l),
    installed: (b) => b === "nutcracker",
  });
  assert.deepEqual(played, ["passes/nutcracker", "passes/tsproxy"]);
  assert.deepEqual(
    results.map((r) => `${r.name}/${r.kind}: ${r.status}`),
    [
      "passes/nutcracker: passed",
      "passes/tsproxy: passed",
      "fails/nutcracker: failed",
      "fails/tsproxy: failed",
      "needs a missing binary/nutcracker: skipped",
      "needs a missing binary/tsproxy: skipped",
    ],
  );
  assert.equal(lines[0], "g");
  assert.match(lines[1], /^ {2}ok {3}passes \[nutcracker\] \(\d+ ms\)$/);
  assert.match(lines[3], /^ {2}FAIL fails \[nutcracker\] \(\d+ ms\)\n {7}step "x":\n {9}got 1\n {9}want 2$/);
  assert.equal(lines[5], "  skip needs a missing binary [nutcracker]\n       no-such-binary not installed");
  assert.equal(lines.at(-1), "2 passed, 2 failed, 2 skipped");
});

Deno.test("a check behind nutcracker is skipped when nutcracker is not installed", async () => {
  const results = await runChecks([check("c", () => Promise.resolve())], ["nutcracker"], {
    write: () => {},
    installed: () => false,
  });
  assert.equal(results[0].status, "skipped");
  assert.equal(results[0].detail, "nutcracker not installed");
});

Deno.test("assertSteps passes equal transcripts and names the first step that differs", () => {
  const want: Record<string, Step> = { a: ["+OK\r\n", false], b: ["", true] };
  assertSteps({ a: ["+OK\r\n", false], b: ["", true] }, want);
  assert.throws(
    () => assertSteps({ a: ["+OK\r\n", false], b: ["$-1\r\n", false] }, want),
    (e: Error) => e.message === 'step "b":\n  got  "$-1\\r\\n"\n  want "" and the close',
  );
  assert.throws(() => assertSteps({ a: ["+OK\r\n", false] }, want), /step "b" was never played/);
  assert.throws(
    () => assertSteps({ a: ["+OK\r\n", false], b: ["", true], c: ["", false] }, want),
    /steps nobody expected: c/,
  );
});

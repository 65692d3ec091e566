import assert from "assert";
import { CHECKS } from "../../harness/checks.ts";
import { type Ran, runScript } from "../../harness/procs.ts";
import { needs } from "../support/needs.ts";

const MAIN = new URL("../../harness/main.ts", import.meta.url).pathname;

/** Runs `deno task harness` with `args` and extra environment (bounded: killed after 120 s). */
function harnessWith(env: Record<string, string>, ...args: string[]): Promise<Ran> {
  return runScript(MAIN, args, { env, timeoutMs: 120_000 });
}

const harness = (...args: string[]) => harnessWith({}, ...args);

Deno.test("deno task harness is harness/main.ts", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url))).tasks;
  assert.equal(tasks.harness, "deno run -A harness/main.ts");
});

Deno.test("harness --list prints every check under its group and exits 0", async () => {
  const { code, stdout } = await harness("--list");
  assert.equal(code, 0);
  const groups = [...new Set(CHECKS.map((c) => c.group))];
  assert.deepEqual(groups, [
    "routing: hash tags and fragments",
    "memcache failures",
    "redis failures",
    "abuse: misbehaving clients beside checking clients",
    "reload: configuration changes under pipelined load (tsproxy only)",
    "failover: Redis Sentinel and replicas under pipelined load (tsproxy only)",
  ]);
  for (const c of CHECKS) assert.ok(stdout.includes(`  ${c.name}`), `listed: ${c.name}`);
  assert.equal(stdout.split("\n").filter((l) => l.startsWith("  ")).length, CHECKS.length);
});

Deno.test("harness usage errors exit 2 with the reason and the usage", async () => {
  for (
    const [args, reason] of [
      [["--proxy", "envoy"], '--proxy must be tsproxy, nutcracker or both, not "envoy"'],
      [["--only", "no such check"], "no check matches --only no such check"],
      [["--bogus"], "Unknown option '--bogus'"],
    ] as const
  ) {
    const { code, stdout, stderr } = await harness(...args);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.ok(stderr.startsWith(`tsproxy harness: ${reason}`), stderr);
    assert.ok(stderr.includes("Usage: deno task harness"));
  }
});

Deno.test(
  "harness --only routing --proxy both plays the routing checks behind nutcracker and tsproxy and passes",
  needs("nutcracker", "memcached", "redis-server"),
  async () => {
    const { code, stdout } = await harness("--only", "routing", "--proxy", "both");
    assert.equal(code, 0, stdout);
    const lines = stdout.split("\n");
    assert.equal(lines[0], "tsproxy harness: 6 checks behind nutcracker and tsproxy");
    assert.equal(lines.filter((l) => l.startsWith("  ok   ")).length, 12);
    assert.ok(lines.includes("12 passed, 0 failed, 0 skipped"), stdout);
  },
);

Deno.test("harness skips a check whose backend is not installed, and CI=true makes the skip a failure", async () => {
  // No PATH: neither memcached nor the shell that looks for it can be found.
  const args = ["--only", "(real memcached)"];
  const relaxed = await harnessWith({ PATH: "/nonexistent", CI: "false" }, ...args);
  assert.equal(relaxed.code, 0, relaxed.stdout);
  assert.ok(relaxed.stdout.includes("  skip memcache: keys sharing a {tag}"), relaxed.stdout);
  assert.ok(relaxed.stdout.includes("memcached not installed"), relaxed.stdout);
  assert.ok(relaxed.stdout.includes("0 passed, 0 failed, 1 skipped"), relaxed.stdout);
  const strict = await harnessWith({ PATH: "/nonexistent", CI: "true" }, ...args);
  assert.equal(strict.code, 1, strict.stdout);
  assert.ok(strict.stdout.includes("CI=true: skipped checks fail the run"), strict.stdout);
});

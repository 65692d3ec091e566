/**
 * `deno task bench`'s command line: --help/-h print the usage with every knob and exit 0 without
 * starting anything; any other argument prints the usage to stderr and exits 2. Every environment
 * variable readKnobs reads is in the help, with its default.
 */
import assert from "assert";
import { ALL_CASES, caseLabel, KNOB_NAMES, knobsHelp, NUMERIC_KNOBS, readKnobs } from "../../bench/knobs.ts";
import { parseBenchArgs, usage } from "../../bench/main.ts";
import { runScript } from "../../harness/procs.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const MAIN = `${ROOT}bench/main.ts`;

Deno.test("bench arguments: none runs, -h/--help help, anything else is an error", () => {
  assert.equal(parseBenchArgs([]), "run");
  assert.equal(parseBenchArgs(["--help"]), "help");
  assert.equal(parseBenchArgs(["-h"]), "help");
  assert.equal(parseBenchArgs(["x", "--help"]), "help");
  assert.deepEqual(parseBenchArgs(["--rounds=3"]), {
    error: "unknown argument '--rounds=3' (the bench takes no arguments; its knobs are env variables)",
  });
});

Deno.test("the help documents every knob readKnobs reads, with its default and bounds", () => {
  // The names readKnobs looks up, whatever the environment holds.
  const read = new Set<string>();
  readKnobs(new Proxy({}, { get: (_, name) => (read.add(String(name)), undefined) }));
  assert.deepEqual([...read].sort(), [...KNOB_NAMES].sort());

  const help = knobsHelp();
  const defaults = readKnobs({});
  for (const [field, k] of Object.entries(NUMERIC_KNOBS)) {
    const line = help.split("\n").find((l) => l.startsWith(`  ${k.name} `));
    assert.ok(line, `${k.name} in the help`);
    assert.ok(line.includes(`default ${k.dflt ?? "unset"},`), line);
    assert.ok(line.includes(`in ${k.lo}..${k.hi}`), line);
    // The documented default is the one readKnobs applies; the bounds are the ones it enforces.
    assert.equal(defaults[field as keyof typeof defaults], k.dflt, k.name);
    assert.throws(() => readKnobs({ [k.name]: String(k.lo - 1) }), new RegExp(`${k.name}=`));
    assert.throws(() => readKnobs({ [k.name]: String(k.hi + 1) }), new RegExp(`${k.name}=`));
  }
  assert.match(help, /^ {2}CASES +default unset/m);
  assert.match(help, /^ {2}TSPROXY_B_FLAGS +default unset, at most 16 words, the first a flag$/m);
  assert.match(help, /adds an A\/B target tsproxy-b: tsproxy plus these flags/);
  for (const c of ALL_CASES) assert.ok(help.includes(caseLabel(c)), caseLabel(c));
  assert.ok(usage().includes(help));
});

Deno.test("deno task bench --help and -h print the usage and exit 0; a bad argument exits 2", async () => {
  const env = { ROUNDS: "0" }; // a bad knob: --help must not even read the knobs
  for (const flag of ["--help", "-h"]) {
    const r = await runScript(MAIN, [flag], { cwd: ROOT, env, timeoutMs: 20_000 });
    assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
    assert.equal(r.stdout, usage() + "\n");
    assert.equal(r.stderr, "", `${flag} starts nothing`);
  }
  const bad = await runScript(MAIN, ["--bogus"], { cwd: ROOT, timeoutMs: 20_000 });
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, "");
  assert.ok(bad.stderr.startsWith("tsproxy bench: unknown argument '--bogus'"), bad.stderr);
  assert.ok(bad.stderr.includes(usage()), "usage on stderr");
});

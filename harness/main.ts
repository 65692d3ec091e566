/**
 * `deno task harness`: starts fake and real memcached/redis backends behind tsproxy (or nutcracker),
 * injects failures and latency, and verifies ejection, retries, timeouts, hash_tag routing and
 * fragment counts against what nutcracker 0.5.0 does, and tsproxy's live configuration reloads under
 * load. Exit status: 0 when nothing failed, 1 when a check failed (or, with CI=true, was skipped for
 * a missing binary), 2 on a usage error.
 */
import { parseArgs } from "node:util";
import { CHECKS } from "./checks.ts";
import { hasBinary, type ProxyKind } from "./procs.ts";
import { runChecks } from "./runner.ts";

const USAGE = `Usage: deno task harness [--proxy tsproxy|nutcracker|both] [--only TEXT] [--list]

  --proxy   which proxy the checks play behind (default: tsproxy); both plays each behind nutcracker, then tsproxy
  --only    only the checks whose group or name contains TEXT (case-insensitive; repeatable)
  --list    print the checks and exit
  --help    print this and exit`;

const PROXIES: Record<string, ProxyKind[]> = {
  tsproxy: ["tsproxy"],
  nutcracker: ["nutcracker"],
  both: ["nutcracker", "tsproxy"],
};

function fail(message: string): never {
  console.error(`tsproxy harness: ${message}\n${USAGE}`);
  Deno.exit(2);
}

let flags;
try {
  flags = parseArgs({
    args: Deno.args,
    options: {
      proxy: { type: "string", default: "tsproxy" },
      only: { type: "string", multiple: true, default: [] },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const kinds = PROXIES[flags.proxy];
if (kinds === undefined) fail(`--proxy must be tsproxy, nutcracker or both, not "${flags.proxy}"`);
const wanted = flags.only.map((t) => t.toLowerCase());
const checks = CHECKS.filter((c) =>
  wanted.length === 0 || wanted.some((t) => `${c.group}: ${c.name}`.toLowerCase().includes(t))
);
if (checks.length === 0) fail(`no check matches --only ${flags.only.join(", ")}`);

if (flags.list) {
  let group = "";
  for (const c of checks) {
    if (c.group !== group) console.log(group = c.group);
    console.log(`  ${c.name}${c.needs.length > 0 ? ` (needs ${c.needs.join(", ")})` : ""}`);
  }
  Deno.exit(0);
}

console.log(`tsproxy harness: ${checks.length} checks behind ${kinds.join(" and ")}`);
const t0 = performance.now();
const results = await runChecks(checks, kinds, { write: (line) => console.log(line), installed: hasBinary });
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
// As in the test suite, CI=true turns a check skipped for a missing binary into a failure.
const strict = Deno.env.get("CI") === "true";
if (strict && results.some((r) => r.status === "skipped")) {
  console.log("CI=true: skipped checks fail the run");
}
Deno.exit(results.some((r) => r.status === "failed" || (strict && r.status === "skipped")) ? 1 : 0);

/**
 * deploy/: the systemd unit, the logrotate file and the Prometheus example are checked by the tools that
 * read them (systemd-analyze, logrotate, promtool) when those are installed, and against tsproxy's own
 * command line. The tools are optional: a missing one skips its test with a note, also under CI=true
 * (.ci/run does not install them).
 */
import assert from "assert";
import { parseCli } from "../../src/cli.ts";
import { freePort, hasBinary, startTsproxy } from "../../harness/procs.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const UNIT_FILE = `${ROOT}deploy/tsproxy.service`;
const LOGROTATE_FILE = `${ROOT}deploy/logrotate.conf`;
const PROMETHEUS_FILE = `${ROOT}deploy/prometheus.yml`;
const SHIPPED_BINARY = "/usr/local/bin/tsproxy";

const installed = new Map<string, boolean>();

/** Options for a test that needs an optional tool: ignored, with a note on stderr (once), when it is missing. */
function optional(binary: string): { ignore: boolean } {
  if (!installed.has(binary)) {
    installed.set(binary, hasBinary(binary));
    if (!installed.get(binary)) {
      console.error(
        `skipping: ${binary} not installed (an optional tool: install it to check deploy/ with it)`,
      );
    }
  }
  return { ignore: !installed.get(binary) };
}

/** The unit's directives, name -> values in order, continuation lines joined, comments dropped. */
function unitDirectives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const joined = text.replace(/\\\n/g, " ");
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const name = line.slice(0, eq);
    out.set(name, [...(out.get(name) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

function directive(unit: Map<string, string[]>, name: string): string {
  const values = unit.get(name);
  assert.ok(values !== undefined && values.length === 1, `${name}= should be set once, got ${values}`);
  return values[0];
}

const unit = unitDirectives(Deno.readTextFileSync(UNIT_FILE));
const execStart = directive(unit, "ExecStart").split(/\s+/);
/** The flags the unit runs tsproxy with (ExecStart without the executable). */
const unitArgs = execStart.slice(1);

/** The value the unit gives a flag, as `--name=value`, `--name value` or `-x value`. */
function unitFlag(...names: string[]): string {
  for (let i = 0; i < unitArgs.length; i++) {
    for (const name of names) {
      if (unitArgs[i] === name) return unitArgs[i + 1];
      if (unitArgs[i].startsWith(`${name}=`)) return unitArgs[i].slice(name.length + 1);
    }
  }
  throw new Error(`the unit does not pass ${names.join(" or ")}`);
}

/** A systemd time span in ms ("30s", "1min 30s", "90", "500ms"; a bare number is seconds). */
function timeSpanMs(span: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, sec: 1000, "": 1000, m: 60000, min: 60000 };
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+)([a-z]*)$/.exec(part);
    assert.ok(m !== null && m[2] in units, `unreadable time span ${span}`);
    total += Number(m[1]) * units[m[2]];
  }
  return total;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", env: { NO_COLOR: "1" } }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function fileExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("the systemd unit runs tsproxy with flags its command line accepts, in the foreground", () => {
  assert.equal(execStart[0], SHIPPED_BINARY);
  const result = parseCli(unitArgs);
  if (result.kind === "exit") {
    // The flag refused, for the message: the one after the longest prefix of the flags that parses.
    let n = unitArgs.length;
    while (n > 0 && parseCli(unitArgs.slice(0, n)).kind !== "run") n--;
    assert.fail(`${result.stderr.split("\n")[0]} (at ${unitArgs[n]})`);
  }
  const o = result.options;
  assert.equal(o.confFile, "/etc/tsproxy/nutcracker.yml");
  assert.equal(o.output, "/var/log/tsproxy/tsproxy.log");
  assert.equal(o.pidFile, "/run/tsproxy/tsproxy.pid");
  assert.equal(o.daemonize, false, "Type=simple needs tsproxy in the foreground: no -d");
  assert.equal(o.testConf, false);
});

Deno.test("a stop drains: SIGTERM, and TimeoutStopSec is above --drain-timeout so systemd never cuts the drain short", () => {
  assert.equal(directive(unit, "Type"), "simple");
  assert.equal(directive(unit, "KillSignal"), "SIGTERM");
  const drainMs = Number(unitFlag("--drain-timeout"));
  assert.ok(Number.isInteger(drainMs) && drainMs > 0, `--drain-timeout ${drainMs}`);
  const stopMs = timeSpanMs(directive(unit, "TimeoutStopSec"));
  assert.ok(
    stopMs >= drainMs + 5000,
    `TimeoutStopSec ${stopMs} ms leaves no room over a ${drainMs} ms drain`,
  );
});

Deno.test("systemctl reload sends SIGUSR2 (a live configuration reload), and the unit creates the pid file's and log's directories", () => {
  assert.equal(directive(unit, "ExecReload"), "/bin/kill -USR2 $MAINPID");
  assert.equal(directive(unit, "RuntimeDirectory"), "tsproxy");
  assert.equal(directive(unit, "LogsDirectory"), "tsproxy");
  assert.ok(unitFlag("-p").startsWith("/run/tsproxy/"));
  assert.ok(unitFlag("-o").startsWith("/var/log/tsproxy/"));
});

Deno.test("logrotate rotates the unit's log directory and signals the unit's pid file; Prometheus scrapes its admin port", () => {
  const logrotate = Deno.readTextFileSync(LOGROTATE_FILE);
  const log = unitFlag("-o");
  assert.ok(logrotate.includes(`${log.slice(0, log.lastIndexOf("/"))}/*.log {`), "logrotate's pattern");
  assert.ok(logrotate.includes(unitFlag("-p")), "logrotate's pid file");
  assert.ok(logrotate.includes("systemctl kill --signal=HUP tsproxy.service"));
  const prometheus = Deno.readTextFileSync(PROMETHEUS_FILE);
  assert.ok(
    prometheus.includes(`:${unitFlag("--admin-port")}"`),
    "a scrape target on the unit's --admin-port",
  );
});

Deno.test(
  "systemd-analyze verify accepts the unit with no warning once ExecStart names an existing executable",
  optional("systemd-analyze"),
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "tsproxy-unit-" });
    try {
      const text = Deno.readTextFileSync(UNIT_FILE);
      const copy = text.replace(`ExecStart=${SHIPPED_BINARY} `, `ExecStart=${Deno.execPath()} `);
      assert.notEqual(copy, text);
      Deno.writeTextFileSync(`${dir}/tsproxy.service`, copy);
      const r = await run("systemd-analyze", ["verify", `${dir}/tsproxy.service`]);
      assert.equal(r.output, "");
      assert.equal(r.code, 0);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test(
  "systemd-analyze verify's only complaint about the unit as shipped is a missing /usr/local/bin/tsproxy",
  optional("systemd-analyze"),
  async () => {
    const r = await run("systemd-analyze", ["verify", UNIT_FILE]);
    let installed = false;
    try {
      installed = Deno.statSync(SHIPPED_BINARY).isFile;
    } catch { /* not installed here */ }
    if (installed) {
      assert.equal(r.output, "");
      assert.equal(r.code, 0);
    } else {
      assert.deepEqual(r.output.trimEnd().split("\n"), [
        `tsproxy.service: Command ${SHIPPED_BINARY} is not executable: No such file or directory`,
      ]);
    }
  },
);

Deno.test("logrotate -d reads deploy/logrotate.conf without an error", optional("logrotate"), async () => {
  const dir = Deno.makeTempDirSync({ prefix: "tsproxy-logrotate-" });
  try {
    const r = await run("logrotate", ["-d", "-s", `${dir}/state`, LOGROTATE_FILE]);
    assert.deepEqual(r.output.split("\n").filter((l) => /^error/.test(l)), []);
    assert.equal(r.code, 0, r.output);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  "after logrotate renames a running tsproxy's log, its postrotate SIGHUP makes tsproxy write on in a new file",
  optional("logrotate"),
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "tsproxy-logrotate-" });
    const log = `${dir}/tsproxy.log`;
    const pid = `${dir}/tsproxy.pid`;
    const port = freePort();
    const proxy = await startTsproxy(
      `alpha:\n  listen: 127.0.0.1:${port}\n  servers:\n   - 127.0.0.1:2:1\n`,
      [port],
      ["-o", log, "-p", pid],
    );
    try {
      await waitFor("the pid file", () => readOrEmpty(pid).trim() === String(proxy.pid));
      // deploy/logrotate.conf on this test's directory, its pid file and a unit that is not running.
      const conf = Deno.readTextFileSync(LOGROTATE_FILE)
        .replaceAll("/var/log/tsproxy/", `${dir}/`)
        .replaceAll("/run/tsproxy/tsproxy.pid", pid)
        .replaceAll("tsproxy.service", "tsproxy-deploy-test-not-installed.service");
      Deno.writeTextFileSync(`${dir}/logrotate.conf`, conf);
      const r = await run("logrotate", ["-f", "-s", `${dir}/state`, `${dir}/logrotate.conf`]);
      assert.equal(r.code, 0, r.output);

      const rotated = Deno.readTextFileSync(`${log}.1`);
      assert.match(rotated, /started on pid/);
      await waitFor("tsproxy to reopen its log file", () => fileExists(log));
      Deno.kill(proxy.pid, "SIGTTIN");
      await waitFor("the SIGTTIN line in the new log file", () => readOrEmpty(log).includes("SIGTTIN"));
      assert.match(Deno.readTextFileSync(`${log}.1`), /signal 1 \(SIGHUP\) received, reopening log file/);
      assert.doesNotMatch(Deno.readTextFileSync(`${log}.1`), /SIGTTIN/);
    } finally {
      await proxy.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test("promtool accepts deploy/prometheus.yml", optional("promtool"), async () => {
  const r = await run("promtool", ["check", "config", PROMETHEUS_FILE]);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

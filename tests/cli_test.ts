import assert from "assert";
import { type CliOptions, type CliResult, parseCli, testConfigMessage, TSPROXY_USAGE } from "../src/cli.ts";
import { ConfigError } from "../src/config/load.ts";
import { needs } from "./support/needs.ts";

const VERSION = "This is nutcracker-0.5.0\nasync event backend: epoll\n\n";

function options(args: string[]): CliOptions {
  const result = parseCli(args);
  assert.equal(result.kind, "run", JSON.stringify(result));
  return (result as { options: CliOptions }).options;
}

function exit(args: string[]): { code: number; stderr: string } {
  const result = parseCli(args);
  assert.ok(result.kind === "exit", JSON.stringify(args));
  return { code: result.code, stderr: result.stderr };
}

/** The complaint line of a refused command line (the usage follows it). */
function complaint(args: string[]): string {
  const { code, stderr } = exit(args);
  assert.equal(code, 1);
  assert.ok(stderr.includes("\nUsage: nutcracker"), stderr);
  return stderr.slice(0, stderr.indexOf("\n"));
}

Deno.test("no flags give upstream nutcracker's defaults", () => {
  assert.deepEqual(options([]), {
    help: false,
    version: false,
    testConf: false,
    daemonize: false,
    describeStats: false,
    verbosity: 5,
    output: null,
    confFile: "conf/nutcracker.yml",
    statsPort: 22222,
    statsAddr: "0.0.0.0",
    statsInterval: 30000,
    pidFile: null,
    mbufSize: 16384,
    workers: 1,
    worker: null,
    adminAddr: "127.0.0.1",
    adminPort: 22223,
    adminExplicit: false,
    drainTimeout: 10000,
  });
});

Deno.test("--workers=N (tsproxy's own) takes 1..64 processes; it has no short form", () => {
  assert.equal(options(["--workers=2"]).workers, 2);
  assert.equal(options(["--workers", "4"]).workers, 4);
  assert.equal(complaint(["--workers=0"]), "nutcracker: option --workers requires a number between 1 and 64");
  assert.equal(
    complaint(["--workers=65"]),
    "nutcracker: option --workers requires a number between 1 and 64",
  );
  assert.equal(complaint(["-w", "2"]), "nutcracker: invalid option -- 'w'");
  assert.deepEqual(options(["--worker=1:/tmp/w1.sock"]).worker, { index: 1, control: "/tmp/w1.sock" });
});

Deno.test("every flag has a short and a long form", () => {
  const short = options([
    "-t",
    "-d",
    "-v",
    "7",
    "-o",
    "l.log",
    "-c",
    "n.yml",
    "-s",
    "2000",
    "-a",
    "127.0.0.1",
  ]);
  const long = options([
    "--test-conf",
    "--daemonize",
    "--verbose=7",
    "--output",
    "l.log",
    "--conf-file=n.yml",
    "--stats-port",
    "2000",
    "--stats-addr=127.0.0.1",
  ]);
  assert.deepEqual(short, long);
  assert.deepEqual(
    [
      short.testConf,
      short.daemonize,
      short.verbosity,
      short.output,
      short.confFile,
      short.statsPort,
      short.statsAddr,
    ],
    [true, true, 7, "l.log", "n.yml", 2000, "127.0.0.1"],
  );
  const rest = options(["-i", "100", "-p", "n.pid", "-m", "512"]);
  assert.deepEqual(options(["--stats-interval=100", "--pid-file", "n.pid", "--mbuf-size=512"]), rest);
  assert.deepEqual([rest.statsInterval, rest.pidFile, rest.mbufSize], [100, "n.pid", 512]);
});

Deno.test("arguments attach or follow, and short flags bundle", () => {
  for (const args of [["-v5"], ["-v", "5"], ["--verbose=5"], ["--verbose", "5"]]) {
    assert.equal(options(args).verbosity, 5);
  }
  const bundled = options(["-tdv", "3"]);
  assert.deepEqual([bundled.testConf, bundled.daemonize, bundled.verbosity], [true, true, 3]);
  assert.equal(options(["-tv3"]).verbosity, 3);
  assert.equal(options(["-c", "-x"]).confFile, "-x", "a required argument may start with a dash");
});

Deno.test("long options may be abbreviated when unambiguous", () => {
  assert.equal(options(["--verb", "3"]).verbosity, 3);
  assert.equal(exit(["--de"]).code, 0);
  assert.equal(complaint(["--ver"]), "nutcracker: invalid option -- '\0'");
  assert.equal(complaint(["--d"]), "nutcracker: invalid option -- '\0'");
});

Deno.test("operands are skipped and -- ends the options", () => {
  assert.equal(options(["foo", "-v", "2", "bar"]).verbosity, 2);
  assert.equal(options(["--", "-x"]).verbosity, 5);
  assert.equal(complaint(["foo", "-x"]), "nutcracker: invalid option -- 'x'");
});

Deno.test("the verbosity is clamped to 0..11", () => {
  assert.equal(options(["-v", "99"]).verbosity, 11);
  assert.equal(options(["-v", "0"]).verbosity, 0);
});

Deno.test("numbers follow nutcracker's 32-bit digits-only rule", () => {
  assert.equal(options(["-s", "022222"]).statsPort, 22222);
  assert.equal(options(["-s", "4294967297"]).statsPort, 1);
  assert.equal(options(["-i", "0"]).statsInterval, 0);
});

Deno.test("an empty output file means stderr", () => {
  assert.equal(options(["-o", ""]).output, null);
});

Deno.test("refused values give nutcracker's complaints", () => {
  assert.equal(complaint(["-v", "abc"]), "nutcracker: option -v requires a number");
  assert.equal(complaint(["-v", "-1"]), "nutcracker: option -v requires a number");
  assert.equal(complaint(["--verbose="]), "nutcracker: option -v requires a number");
  assert.equal(complaint(["-s", "x"]), "nutcracker: option -s requires a number");
  assert.equal(complaint(["-s", "2147483648"]), "nutcracker: option -s requires a number");
  assert.equal(complaint(["-s", "0"]), "nutcracker: option -s value 0 is not a valid port");
  assert.equal(complaint(["-s", "70000"]), "nutcracker: option -s value 70000 is not a valid port");
  assert.equal(complaint(["-i", "x"]), "nutcracker: option -i requires a number");
  assert.equal(complaint(["-m", "0"]), "nutcracker: option -m requires a non-zero number");
  assert.equal(complaint(["-m", "4294967296"]), "nutcracker: option -m requires a non-zero number");
  assert.equal(
    complaint(["-m", "511"]),
    "nutcracker: mbuf chunk size must be between 512 and 16777216 bytes",
  );
  assert.equal(
    complaint(["-m", "16777217"]),
    "nutcracker: mbuf chunk size must be between 512 and 16777216 bytes",
  );
});

Deno.test("a flag missing its argument names what it needs", () => {
  for (const flag of ["o", "c", "p"]) {
    assert.equal(complaint([`-${flag}`]), `nutcracker: option -${flag} requires a file name`);
  }
  for (const flag of ["m", "v", "s", "i"]) {
    assert.equal(complaint([`-${flag}`]), `nutcracker: option -${flag} requires a number`);
  }
  assert.equal(complaint(["-a"]), "nutcracker: option -a requires a string");
  assert.equal(complaint(["--conf-file"]), "nutcracker: option -c requires a file name");
});

Deno.test("unknown flags are invalid options; unknown long ones print a NUL", () => {
  assert.equal(complaint(["-x"]), "nutcracker: invalid option -- 'x'");
  assert.equal(complaint(["-?"]), "nutcracker: invalid option -- '?'");
  assert.equal(complaint(["-W"]), "nutcracker: invalid option -- 'W'");
  assert.equal(complaint(["--bogus"]), "nutcracker: invalid option -- '\0'");
  assert.equal(complaint(["--help=3"]), "nutcracker: invalid option -- 'h'");
});

Deno.test("the first refused flag wins, even after -h", () => {
  assert.equal(complaint(["-h", "-x"]), "nutcracker: invalid option -- 'x'");
  assert.equal(complaint(["-V", "-v", "x"]), "nutcracker: option -v requires a number");
});

Deno.test("-V prints the version block and exits 0, before -t is looked at", () => {
  assert.deepEqual(exit(["-V"]), { code: 0, stderr: VERSION });
  assert.deepEqual(exit(["-tV"]), { code: 0, stderr: VERSION });
});

Deno.test("-h prints the version block and the usage with upstream's defaults", () => {
  const { code, stderr } = exit(["--help"]);
  assert.equal(code, 0);
  assert.ok(
    stderr.startsWith(`${VERSION}Usage: nutcracker [-?hVdDt] [-v verbosity level] [-o output file]\r\n`),
  );
  assert.ok(stderr.includes("  -o, --output=S         : set logging file (default: stderr)\r\n"));
  assert.ok(
    stderr.includes("  -c, --conf-file=S      : set configuration file (default: conf/nutcracker.yml)\r\n"),
  );
  assert.ok(stderr.includes("  -p, --pid-file=S       : set pid file (default: off)\r\n"));
  assert.ok(
    stderr.endsWith(
      "  -m, --mbuf-size=N      : set size of mbuf chunk in bytes (default: 16384 bytes)\r\n\n" +
        TSPROXY_USAGE,
    ),
  );
});

Deno.test("-h documents tsproxy's own flags after nutcracker's usage, with their defaults", () => {
  const { stderr } = exit(["-h"]);
  assert.match(stderr, /--admin-port=N {9}: set admin HTTP endpoint port, 0 for off \(default: 22223\)\n/);
  assert.match(stderr, /--admin-addr=S {9}: set admin HTTP endpoint ip \(default: 127\.0\.0\.1\)\n/);
  assert.match(stderr, /--drain-timeout=N {6}: .* \(default: 10000 msec\)\n/);
  assert.match(stderr, /--workers=N {12}: /);
  assert.ok(!exit(["-x"]).stderr.includes("tsproxy options"), "a complaint's usage stays nutcracker's");
});

Deno.test("the admin and drain flags take numbers and addresses; --admin-port=0 turns the endpoint off", () => {
  const run = options;
  assert.deepEqual(
    [run([]).adminAddr, run([]).adminPort, run([]).drainTimeout],
    ["127.0.0.1", 22223, 10000],
  );
  const o = run(["--admin-addr=0.0.0.0", "--admin-port", "9100", "--drain-timeout=250"]);
  assert.deepEqual([o.adminAddr, o.adminPort, o.drainTimeout], ["0.0.0.0", 9100, 250]);
  assert.equal(o.adminExplicit, true, "a port given must be bound");
  assert.equal(run(["--drain-timeout=5"]).adminExplicit, false);
  assert.equal(run(["--admin-port=0"]).adminPort, 0);
  assert.equal(
    complaint(["--admin-port=70000"]),
    "nutcracker: option --admin-port value 70000 is not a valid port",
  );
  assert.equal(complaint(["--admin-port=x"]), "nutcracker: option --admin-port requires a number");
  assert.equal(complaint(["--drain-timeout=-5"]), "nutcracker: option --drain-timeout requires a number");
});

Deno.test("the usage ends lines in CRLF except the -D line and the two blank lines", () => {
  const usage = exit(["-x"]).stderr.slice("nutcracker: invalid option -- 'x'\n".length);
  const bareLf = usage.split("\n").slice(0, -1).filter((line) => !line.endsWith("\r"));
  assert.deepEqual(bareLf, ["", "  -D, --describe-stats   : print stats description and exit", ""]);
  assert.equal(usage.split("\r\n").length - 1, 16);
});

Deno.test("-D prints the version block and the stats description", () => {
  const { code, stderr } = exit(["-D"]);
  assert.equal(code, 0);
  const lines = stderr.slice(VERSION.length).split("\n");
  assert.equal(lines[0], "pool stats:");
  assert.equal(lines[1], '  client_eof          "# eof on client connections"');
  assert.equal(lines[7], "");
  assert.equal(lines[8], "server stats:");
  assert.equal(lines[13], '  server_ejected_at   "timestamp when server was ejected in usec since epoch"');
  assert.equal(lines[21], '  out_queue_bytes     "current request bytes in outgoing queue"');
  assert.equal(lines.length, 23, "ends with a newline, no blank line");
});

Deno.test("-h and -D together print version, usage, then stats", () => {
  const { stderr } = exit(["-hD"]);
  assert.ok(stderr.indexOf("Usage:") < stderr.indexOf("pool stats:"));
});

Deno.test("-t prints the ok line, or tsproxy's reason then the invalid line once", () => {
  assert.equal(testConfigMessage("n.yml", null), "nutcracker: configuration file 'n.yml' syntax is ok\n");
  const error = new ConfigError('conf: directive "hash" is not a valid hash', "pool 'a'");
  assert.equal(
    testConfigMessage("n.yml", error),
    `conf: directive "hash" is not a valid hash (pool 'a')\nnutcracker: configuration file 'n.yml' syntax is invalid\n`,
  );
});

// ---- differential: the real nutcracker with the same flags ----

/** Debian's build defaults, which its usage text shows instead of upstream's. */
const DEBIAN_DEFAULTS: [string, string][] = [
  ["/var/log/nutcracker/nutcracker.log", "stderr"],
  ["/etc/nutcracker/nutcracker.yml", "conf/nutcracker.yml"],
  ["/run/nutcracker/nutcracker.pid", "off"],
];

const FLAG_CASES: string[][] = [
  ["-v"],
  ["-v", "abc"],
  ["-vabc"],
  ["-v", "-1"],
  ["-v", ""],
  ["--verbose="],
  ["-s"],
  ["-s", "x"],
  ["-s", "0"],
  ["-s", "70000"],
  ["-s", "65536"],
  ["-s", "2147483648"],
  ["-i"],
  ["-i", "x"],
  ["-i", "2147483648"],
  ["-m"],
  ["-m", "0"],
  ["-m", "abc"],
  ["-m", "100"],
  ["-m", "16777217"],
  ["-m", "4294967296"],
  ["-c"],
  ["-o"],
  ["-p"],
  ["-a"],
  ["--conf-file"],
  ["--stats-addr"],
  ["-x"],
  ["-?"],
  ["-W"],
  ["-:"],
  ["--bogus"],
  ["--ver"],
  ["--d"],
  ["--=x"],
  ["--help=3"],
  ["--te=1"],
  ["-h", "-x"],
  ["-x", "-h"],
  ["-V", "-v", "x"],
  ["foo", "-x"],
  ["-h"],
  ["-V"],
  ["-D"],
  ["-hD"],
  ["-tV"],
  ["--de"],
  ["--he"],
  ["-v", "99"],
  ["-tv3"],
  ["-s", "4294967297"],
  ["--verb", "3"],
  ["-m", "512"],
  ["-i", "0"],
  ["--", "-x"],
  ["-", "-v", "2"],
];

const BINARY_TIMEOUT_MS = 3000;

/** nutcracker with `-t` and a missing configuration first, so that flags that parse never start a proxy. */
async function runNutcracker(args: string[]): Promise<{ code: number; stderr: string }> {
  const command = new Deno.Command("nutcracker", {
    args: ["-t", "-o", "/dev/null", "-c", "/nonexistent/tsproxy-cli.yml", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(BINARY_TIMEOUT_MS),
  });
  const out = await command.output();
  let stderr = new TextDecoder().decode(out.stderr);
  for (const [debian, upstream] of DEBIAN_DEFAULTS) {
    stderr = stderr.replace(`(default: ${debian})`, `(default: ${upstream})`);
  }
  return { code: out.code, stderr };
}

Deno.test({
  name: "nutcracker prints the same complaint, usage and exit code for each command line",
  ...needs("nutcracker"),
  async fn() {
    for (const args of FLAG_CASES) {
      const binary = await runNutcracker(args);
      const ours: CliResult = parseCli(args);
      if (ours.kind === "exit") {
        // -h adds tsproxy's own flags after nutcracker's usage (a documented difference).
        const stderr = ours.stderr.replace(TSPROXY_USAGE, "");
        assert.deepEqual(binary, { code: ours.code, stderr }, JSON.stringify(args));
      } else {
        // Flags accepted: nutcracker went on to test the (missing) configuration.
        assert.match(
          binary.stderr,
          /^nutcracker: configuration file '.*' syntax is invalid\n$/,
          JSON.stringify(args),
        );
      }
    }
  },
});

/**
 * nutcracker 0.5.0's command line: its flags with getopt_long semantics, its defaults (upstream's,
 * not Debian's), its messages, usage text and exit codes.
 */
import type { ConfigError } from "./config/load.ts";
import { isValidPort, ncAtoi } from "./config/nc_atoi.ts";
import { POOL_FIELDS, SERVER_FIELDS, type StatField } from "./stats/counters.ts";

/** Everything the flags can set. */
export interface CliOptions {
  help: boolean;
  version: boolean;
  testConf: boolean;
  daemonize: boolean;
  describeStats: boolean;
  /** Log level, already clamped to 0..11 as nutcracker's logger clamps it. */
  verbosity: number;
  /** Log file; null (also for `-o ''`) logs to stderr. */
  output: string | null;
  confFile: string;
  statsPort: number;
  statsAddr: string;
  statsInterval: number;
  pidFile: string | null;
  mbufSize: number;
  /** tsproxy's `--workers=N`: processes serving the same ports (SO_REUSEPORT), 1..64. */
  workers: number;
  /** Set in a worker process by its supervisor (`--worker=INDEX:SOCKET`, internal). */
  worker: { index: number; control: string } | null;
  /** tsproxy's HTTP admin endpoint (metrics, stats, health); port 0 turns it off. */
  adminAddr: string;
  adminPort: number;
  /**
   * Whether --admin-addr or --admin-port was given: then a port that cannot be bound stops the
   * start; the default endpoint is best effort, so that several instances on one host (as they run
   * nutcracker) still start.
   */
  adminExplicit: boolean;
  /** tsproxy's `--drain-timeout`: how long SIGTERM waits for requests in flight, in ms. */
  drainTimeout: number;
}

/** Parsed flags, or what to print (stderr) and the exit code. */
export type CliResult = { kind: "run"; options: CliOptions } | { kind: "exit"; code: number; stderr: string };

const LOG_MIN = 0;
const LOG_MAX = 11;
const MBUF_MIN = 512;
const MBUF_MAX = 16777216;

const DEFAULTS: CliOptions = {
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
};

const WORKERS_MAX = 64;

/** getopt's short options: letter -> whether it takes an argument (`hVtdDv:o:c:s:i:a:p:m:`). */
const SHORT: Record<string, boolean> = {
  h: false,
  V: false,
  t: false,
  d: false,
  D: false,
  v: true,
  o: true,
  c: true,
  s: true,
  i: true,
  a: true,
  p: true,
  m: true,
  // tsproxy's own long-only options (names longer than a letter, so no short form exists).
  workers: true,
  worker: true,
  "admin-addr": true,
  "admin-port": true,
  "drain-timeout": true,
};

/** getopt_long's long options, each an alias of a short one. */
const LONG: [string, string][] = [
  ["help", "h"],
  ["version", "V"],
  ["test-conf", "t"],
  ["daemonize", "d"],
  ["describe-stats", "D"],
  ["verbose", "v"],
  ["output", "o"],
  ["conf-file", "c"],
  ["stats-port", "s"],
  ["stats-interval", "i"],
  ["stats-addr", "a"],
  ["pid-file", "p"],
  ["mbuf-size", "m"],
  ["workers", "workers"],
  ["worker", "worker"],
  ["admin-addr", "admin-addr"],
  ["admin-port", "admin-port"],
  ["drain-timeout", "drain-timeout"],
];

const VERSION_BLOCK = "This is nutcracker-0.5.0\nasync event backend: epoll\n\n";

/**
 * The usage text, byte for byte: nutcracker prints it in three chunks whose inner lines end in CRLF
 * and whose last line ends in a bare LF.
 */
const USAGE = [
  "Usage: nutcracker [-?hVdDt] [-v verbosity level] [-o output file]\r\n" +
  "                  [-c conf file] [-s stats port] [-a stats addr]\r\n" +
  "                  [-i stats interval] [-p pid file] [-m mbuf size]\r\n" +
  "\n",
  "Options:\r\n" +
  "  -h, --help             : this help\r\n" +
  "  -V, --version          : show version and exit\r\n" +
  "  -t, --test-conf        : test configuration for syntax errors and exit\r\n" +
  "  -d, --daemonize        : run as a daemon\r\n" +
  "  -D, --describe-stats   : print stats description and exit\n",
  `  -v, --verbose=N        : set logging level (default: ${DEFAULTS.verbosity}, min: ${LOG_MIN}, max: ${LOG_MAX})\r\n` +
  "  -o, --output=S         : set logging file (default: stderr)\r\n" +
  `  -c, --conf-file=S      : set configuration file (default: ${DEFAULTS.confFile})\r\n` +
  `  -s, --stats-port=N     : set stats monitoring port (default: ${DEFAULTS.statsPort})\r\n` +
  `  -a, --stats-addr=S     : set stats monitoring ip (default: ${DEFAULTS.statsAddr})\r\n` +
  `  -i, --stats-interval=N : set stats aggregation interval in msec (default: ${DEFAULTS.statsInterval} msec)\r\n` +
  "  -p, --pid-file=S       : set pid file (default: off)\r\n" +
  `  -m, --mbuf-size=N      : set size of mbuf chunk in bytes (default: ${DEFAULTS.mbufSize} bytes)\r\n` +
  "\n",
].join("");

/** tsproxy's own flags, after nutcracker's usage in -h (never in a complaint's usage, which is nutcracker's). */
export const TSPROXY_USAGE = "tsproxy options:\n" +
  `  --workers=N            : serve the pools with N processes (default: ${DEFAULTS.workers}, max: ${WORKERS_MAX})\n` +
  `  --admin-addr=S         : set admin HTTP endpoint ip (default: ${DEFAULTS.adminAddr})\n` +
  `  --admin-port=N         : set admin HTTP endpoint port, 0 for off (default: ${DEFAULTS.adminPort})\n` +
  `  --drain-timeout=N      : on SIGTERM, finish requests in flight for up to N msec (default: ${DEFAULTS.drainTimeout} msec)\n` +
  "\n";

function describeStats(): string {
  const lines = (fields: readonly StatField[]) =>
    fields.map(({ name, help }) => `  ${name.padEnd(20)}"${help}"\n`).join("");
  return `pool stats:\n${lines(POOL_FIELDS)}\nserver stats:\n${lines(SERVER_FIELDS)}`;
}

/** One step of getopt_long: an option (with its argument), or '?' with getopt's `optopt`. */
type GetoptStep = { opt: string; arg: string } | { optopt: string };

/**
 * glibc getopt_long over `args`, in its default permuting mode: operands are skipped, `--` ends
 * options, short options bundle (`-tv3`, `-tv 3`), long options take `=value` or the next word and
 * may be abbreviated when unambiguous. An unknown or ambiguous long option reports optopt NUL.
 */
function* getopt(args: string[]): Generator<GetoptStep> {
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === "--") return;
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      const exact = LONG.find(([long]) => long === name);
      const matches = exact ? [exact] : LONG.filter(([long]) => long.startsWith(name));
      if (matches.length !== 1) {
        yield { optopt: "\0" };
        continue;
      }
      const opt = matches[0][1];
      if (!SHORT[opt]) {
        yield inline === undefined ? { opt, arg: "" } : { optopt: opt };
      } else if (inline !== undefined) {
        yield { opt, arg: inline };
      } else if (i + 1 < args.length) {
        yield { opt, arg: args[++i] };
      } else {
        yield { optopt: opt };
      }
    } else if (word.startsWith("-") && word.length > 1) {
      for (let j = 1; j < word.length; j++) {
        const opt = word[j];
        if (!Object.hasOwn(SHORT, opt)) {
          yield { optopt: opt };
        } else if (!SHORT[opt]) {
          yield { opt, arg: "" };
        } else {
          const rest = word.slice(j + 1);
          if (rest !== "") yield { opt, arg: rest };
          else if (i + 1 < args.length) yield { opt, arg: args[++i] };
          else yield { optopt: opt };
          break;
        }
      }
    }
  }
}

/** nutcracker's complaint about a flag getopt rejected (unknown, or missing its argument). */
function rejectedFlag(optopt: string): string {
  if ("ocp".includes(optopt)) return `option -${optopt} requires a file name`;
  if ("mvsi".includes(optopt)) return `option -${optopt} requires a number`;
  if (optopt === "a") return `option -${optopt} requires a string`;
  return `invalid option -- '${optopt}'`;
}

/** Applies one option; returns nutcracker's complaint when its value is refused. */
function applyOption(options: CliOptions, opt: string, arg: string): string | null {
  const value = ncAtoi(arg);
  switch (opt) {
    case "h":
      options.help = options.version = true;
      return null;
    case "V":
      options.version = true;
      return null;
    case "t":
      options.testConf = true;
      return null;
    case "d":
      options.daemonize = true;
      return null;
    case "D":
      options.describeStats = options.version = true;
      return null;
    case "v":
      if (value < 0) return "option -v requires a number";
      options.verbosity = Math.min(Math.max(value, LOG_MIN), LOG_MAX);
      return null;
    case "o":
      // nutcracker's logger treats an empty file name as stderr.
      options.output = arg === "" ? null : arg;
      return null;
    case "c":
      options.confFile = arg;
      return null;
    case "s":
      if (value < 0) return "option -s requires a number";
      if (!isValidPort(value)) return `option -s value ${value} is not a valid port`;
      options.statsPort = value;
      return null;
    case "i":
      if (value < 0) return "option -i requires a number";
      options.statsInterval = value;
      return null;
    case "a":
      options.statsAddr = arg;
      return null;
    case "p":
      options.pidFile = arg;
      return null;
    case "workers":
      if (value < 1 || value > WORKERS_MAX) {
        return `option --workers requires a number between 1 and ${WORKERS_MAX}`;
      }
      options.workers = value;
      return null;
    case "admin-addr":
      options.adminAddr = arg;
      options.adminExplicit = true;
      return null;
    case "admin-port":
      if (value < 0) return "option --admin-port requires a number";
      if (value !== 0 && !isValidPort(value)) return `option --admin-port value ${value} is not a valid port`;
      options.adminPort = value;
      options.adminExplicit = true;
      return null;
    case "drain-timeout":
      if (value < 0) return "option --drain-timeout requires a number";
      options.drainTimeout = value;
      return null;
    case "worker": {
      const colon = arg.indexOf(":");
      const index = ncAtoi(arg.slice(0, colon));
      if (colon < 0 || index < 0) return "option --worker requires INDEX:SOCKET";
      options.worker = { index, control: arg.slice(colon + 1) };
      return null;
    }
    default: // "m"
      if (value <= 0) return "option -m requires a non-zero number";
      if (value < MBUF_MIN || value > MBUF_MAX) {
        return `mbuf chunk size must be between ${MBUF_MIN} and ${MBUF_MAX} bytes`;
      }
      options.mbufSize = value;
      return null;
  }
}

/**
 * Parses nutcracker's flags (arguments after the program name). -h, -V and -D print their text and
 * exit 0 once all flags parsed; any refused flag prints nutcracker's complaint and the usage, exit 1.
 */
export function parseCli(args: string[]): CliResult {
  const options: CliOptions = { ...DEFAULTS };
  for (const step of getopt(args)) {
    const complaint = "optopt" in step ? rejectedFlag(step.optopt) : applyOption(options, step.opt, step.arg);
    if (complaint !== null) return { kind: "exit", code: 1, stderr: `nutcracker: ${complaint}\n${USAGE}` };
  }
  if (options.version) {
    const stderr = VERSION_BLOCK + (options.help ? USAGE + TSPROXY_USAGE : "") +
      (options.describeStats ? describeStats() : "");
    return { kind: "exit", code: 0, stderr };
  }
  return { kind: "run", options };
}

/**
 * What `-t` prints on stderr: nutcracker's "syntax is ok" line, or the error's message followed by
 * the "syntax is invalid" line (nutcracker prints no reason, and that line twice).
 */
export function testConfigMessage(file: string, error: ConfigError | null): string {
  const prefix = `nutcracker: configuration file '${file}' syntax is`;
  return error === null ? `${prefix} ok\n` : `${error.message}\n${prefix} invalid\n`;
}

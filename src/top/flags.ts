/** top's command line: where the admin endpoint is, how often to read it, and --once for one frame. */
import { parseArgs } from "node:util";

export interface TopOptions {
  /** HOST:PORT as given, shown in the header. */
  address: string;
  /** The admin endpoint's metrics page. */
  url: string;
  intervalSeconds: number;
  once: boolean;
}

/** What to do: run, print the usage, or refuse the flags with a message. */
export type FlagsResult =
  | { kind: "run"; options: TopOptions }
  | { kind: "help" }
  | { kind: "error"; message: string };

export const USAGE = `Usage: deno task top [--admin=HOST:PORT] [--interval=SECONDS] [--once]

A live view of a running tsproxy, read from its admin endpoint's /metrics.

  --admin=HOST:PORT    the admin endpoint (default 127.0.0.1:22223)
  --interval=SECONDS   time between refreshes (default 1, at least 0.1)
  --once               print one frame (two reads an interval apart) and exit;
                       for a stdout that is not a terminal
  -h, --help           this help

Keys: q or Ctrl-C quits.`;

const MIN_INTERVAL = 0.1;

export function parseFlags(args: string[]): FlagsResult {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        admin: { type: "string", default: "127.0.0.1:22223" },
        interval: { type: "string", default: "1" },
        once: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return { kind: "error", message: (e as Error).message };
  }
  if (values.help) return { kind: "help" };
  // A bracketed host is an IPv6 address, which a URL keeps in its brackets.
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(values.admin);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) {
    return { kind: "error", message: `--admin wants HOST:PORT, got ${JSON.stringify(values.admin)}` };
  }
  const interval = Number(values.interval);
  if (!/^\d*\.?\d+$/.test(values.interval) || interval < MIN_INTERVAL) {
    return {
      kind: "error",
      message: `--interval wants seconds, at least ${MIN_INTERVAL}, got ${JSON.stringify(values.interval)}`,
    };
  }
  return {
    kind: "run",
    options: {
      address: values.admin,
      url: `http://${m[1]}:${port}/metrics`,
      intervalSeconds: interval,
      once: values.once,
    },
  };
}

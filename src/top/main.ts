/** deno task top: a live view of a running tsproxy, refreshed from its admin endpoint's /metrics. */
import { parseFlags, type TopOptions, USAGE } from "./flags.ts";
import { buildView, type Scrape } from "./model.ts";
import { type Frame, render } from "./render.ts";
import { scrape } from "./scrape.ts";
import { firstSignal, quitKey, Terminal } from "./terminal.ts";

/** A slow endpoint is given this long at least, so that a short --interval does not fail every read. */
const MIN_TIMEOUT_MS = 2000;
/** Signals that end top as q does, with the shell's exit status for them (128 + number). */
const QUIT_SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

async function main(args: string[]): Promise<number> {
  const parsed = parseFlags(args);
  if (parsed.kind === "help") {
    console.log(USAGE);
    return 0;
  }
  if (parsed.kind === "error") {
    console.error(`top: ${parsed.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.options.once) return await once(parsed.options);
  if (!Deno.stdout.isTerminal()) {
    console.error("top: stdout is not a terminal; --once prints one frame");
    return 2;
  }
  return await live(parsed.options);
}

/** Two reads an interval apart, one frame of every row on stdout; 1 if the endpoint cannot be read. */
async function once(options: TopOptions): Promise<number> {
  const timeout = timeoutMs(options);
  try {
    const first = await scrape(options.url, timeout);
    await sleep(options.intervalSeconds * 1000);
    const view = buildView(await scrape(options.url, timeout), first);
    const frame: Frame = { ...frameBase(options, false), view };
    console.log(render(frame, columns(), Infinity).join("\n"));
    return 0;
  } catch (e) {
    console.error(`top: ${(e as Error).message}`);
    return 1;
  }
}

/** Refreshes until q, Ctrl-C or a signal; the terminal is put back however it ends. */
async function live(options: TopOptions): Promise<number> {
  const terminal = new Terminal();
  const restore = () => terminal.restore();
  // Errors thrown in a callback (a resize) bypass the finally below.
  addEventListener("error", restore);
  addEventListener("unhandledrejection", restore);
  try {
    const signalled = firstSignal(QUIT_SIGNALS).then((n) => 128 + n);
    const quit = Promise.race([quitKey().then(() => 0), signalled]);
    const keys = Deno.stdin.isTerminal();
    let frame: Frame | undefined;
    const draw = () => {
      if (!frame) return;
      const { columns, rows } = terminal.size();
      terminal.draw(render(frame, columns, rows));
    };
    Deno.addSignalListener("SIGWINCH", draw);
    let prev: Scrape | undefined;
    let failures = 0;
    const intervalMs = options.intervalSeconds * 1000;
    let next = performance.now();
    for (;;) {
      const read = scrape(options.url, timeoutMs(options)).catch((e: Error) => e);
      const got = await Promise.race([read, quit]);
      if (typeof got === "number") return got;
      if (got instanceof Error) {
        // Rates across an outage would mix two runs of the proxy: start again from the next read.
        prev = undefined;
        frame = { ...frameBase(options, keys), problem: got.message, failures: ++failures };
      } else {
        frame = { ...frameBase(options, keys), view: buildView(got, prev) };
        prev = got;
        failures = 0;
      }
      draw();
      // Reads keep to the interval's beat; one that ran late starts the beat again.
      next = Math.max(next + intervalMs, performance.now());
      const code = await Promise.race([sleep(next - performance.now()), quit]);
      if (typeof code === "number") return code;
    }
  } finally {
    restore();
  }
}

function frameBase(options: TopOptions, interactive: boolean) {
  return { address: options.address, intervalSeconds: options.intervalSeconds, at: new Date(), interactive };
}

function timeoutMs(options: TopOptions): number {
  return Math.max(MIN_TIMEOUT_MS, options.intervalSeconds * 1000);
}

/** The terminal's width when there is one (stdout, stderr or stdin), else 80. */
function columns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) Deno.exit(await main(Deno.args));

/**
 * nutcracker's logger: levels 0..11 (-v), lines `[YYYY-MM-DD HH:MM:SS.mmm] <where> <message>` to
 * stderr or the -o file (opened for append, reopened on SIGHUP for log rotation).
 */

/** Log levels, as nutcracker numbers them. */
export const Level = {
  EMERG: 0,
  ALERT: 1,
  CRIT: 2,
  ERR: 3,
  WARN: 4,
  NOTICE: 5,
  INFO: 6,
  DEBUG: 7,
  VERB: 8,
  VVERB: 9,
  VVVERB: 10,
  PVERB: 11,
} as const;

const encoder = new TextEncoder();
let level: number = Level.NOTICE;
let path: string | null = null;
let file: Deno.FsFile | null = null;

/** Sets the level (clamped to 0..11) and the output file (null: stderr). Throws when the file cannot be opened. */
export function setupLog(verbosity: number, output: string | null): void {
  level = clamp(verbosity);
  path = output;
  reopenLog();
}

/** Reopens the -o file (log rotation). */
export function reopenLog(): void {
  const next = path === null ? null : Deno.openSync(path, { append: true, create: true, mode: 0o644 });
  file?.close();
  file = next;
}

/** The current level. */
export function logLevel(): number {
  return level;
}

/** Whether lines at `at` are written (to skip building a line nobody will read). */
export function logs(at: number): boolean {
  return at <= level;
}

/** Raises or lowers the level by one (SIGTTIN / SIGTTOU). */
export function shiftLogLevel(delta: number): number {
  level = clamp(level + delta);
  return level;
}

/** Writes one line when `at` is within the level. */
export function log(at: number, where: string, message: string): void {
  if (at > level) return;
  write(`[${timestamp(new Date())}] ${where} ${message}\n`);
}

/** At most this many lines of one kind are written per second; the rest are counted. */
export const LINES_PER_SECOND = 10;

/** One kind of runtime line: its current one-second window and what was held back in it. */
interface Window {
  where: string;
  start: number;
  lines: number;
  suppressed: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}
const windows = new Map<string, Window>();

/**
 * Writes a runtime line (an event that clients or servers can repeat at will) when `at` is within
 * the level, at most LINES_PER_SECOND of the same `kind` per second: past that the lines are
 * counted, and one `... N similar lines suppressed` line says so when the second is over, so a client
 * in a loop cannot fill the disk.
 */
export function logEvent(at: number, where: string, kind: string, message: string): void {
  if (at > level) return;
  const now = Date.now();
  let w = windows.get(kind);
  if (w === undefined) {
    w = { where, start: now, lines: 0, suppressed: 0, timer: undefined };
    windows.set(kind, w);
  } else if (now - w.start >= 1000) {
    flushSuppressed(w);
    w.start = now;
    w.lines = 0;
  }
  if (w.lines < LINES_PER_SECOND) {
    w.lines++;
    write(`[${timestamp(new Date(now))}] ${where} ${message}\n`);
    return;
  }
  if (w.suppressed++ > 0) return;
  const window = w;
  const timer = setTimeout(() => {
    window.timer = undefined;
    flushSuppressed(window);
  }, 1000 - (now - w.start));
  Deno.unrefTimer(timer); // a pending summary never keeps the process alive
  window.timer = timer;
}

function flushSuppressed(w: Window): void {
  if (w.timer !== undefined) clearTimeout(w.timer);
  w.timer = undefined;
  if (w.suppressed === 0) return;
  write(`[${timestamp(new Date())}] ${w.where} ... ${w.suppressed} similar lines suppressed\n`);
  w.suppressed = 0;
}

/** Writes a line that is always logged, like nutcracker's banner and signal lines. */
export function logAlways(where: string, message: string): void {
  write(`[${timestamp(new Date())}] ${where} ${message}\n`);
}

function write(line: string): void {
  const bytes = encoder.encode(line);
  try {
    if (file !== null) file.writeSync(bytes);
    else Deno.stderr.writeSync(bytes);
  } catch { /* a log that cannot be written must not stop the proxy */ }
}

function clamp(n: number): number {
  return Math.max(Level.EMERG, Math.min(Level.PVERB, n));
}

function timestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** A line from a signal handler: nutcracker writes these with a dotted placeholder for the time. */
export function logSignal(message: string): void {
  write(`[.......................] ${message}\n`);
}

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

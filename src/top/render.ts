/**
 * One screen of top, from a frame and the terminal's size to lines no wider than it and no more of them
 * than its height: a header, a table of pools each followed by its servers, a status line at the bottom.
 * Pure; the terminal draws the lines. Plain ASCII, so that every character is one column wide.
 */
import type { Header, PoolRow, Stats, View } from "./model.ts";

/** What one refresh knows: the view of the last scrape, or why the scrape failed. */
export type Frame =
  & {
    /** The admin endpoint as given (HOST:PORT). */
    address: string;
    intervalSeconds: number;
    /** When the frame was taken, shown as the local time of day. */
    at: Date;
    /** Whether keys are read (the status line says how to quit). */
    interactive: boolean;
  }
  & ({ view: View } | { problem: string; failures: number });

/** A table row: a pool, or one of its servers indented under it. */
interface Row {
  indent: string;
  name: string;
  state: string;
  ejected: string;
  stats: Stats;
}

interface Column {
  title: string;
  width: number;
  cell(stats: Stats): string;
}

/** The name column's width below which the optional columns are left out. */
const NAME_MIN = 24;
const STATE_WIDTH = 10;
const EJ_WIDTH = 3;

const COLUMNS: readonly Column[] = [
  { title: "REQ/S", width: 6, cell: (s) => count(s.reqRate) },
  { title: "ERR/S", width: 6, cell: (s) => count(s.errRate) },
  { title: "P50", width: 6, cell: (s) => duration(s.p50) },
  { title: "P99", width: 6, cell: (s) => duration(s.p99) },
  { title: "QUEUE", width: 5, cell: (s) => count(s.queue) },
  { title: "CONN", width: 5, cell: (s) => count(s.connections) },
];

/** Shown, in this order, as far as the width allows. */
const WIDE_COLUMNS: readonly Column[] = [
  { title: "SENT/S", width: 6, cell: (s) => bytes(s.sentRate) },
  { title: "RECV/S", width: 6, cell: (s) => bytes(s.recvRate) },
  { title: "QBYTES", width: 6, cell: (s) => bytes(s.queueBytes) },
];

/** The whole screen, the status line at the bottom; with an infinite height, every row and no padding. */
export function render(frame: Frame, width: number, height: number): string[] {
  const top = flow(headerFields(frame), width, "  ");
  const body = "view" in frame
    ? table(frame.view, width, height - top.length - 2)
    : [frame.problem, `retrying every ${frame.intervalSeconds}s (${frame.failures} failed in a row)`]
      .flatMap((text) => flow(text.split(" "), width, " "));
  const status = [frame.at.toTimeString().slice(0, 8), `every ${frame.intervalSeconds}s`];
  if (frame.interactive) status.push("q quits");
  const room = Math.max(0, height - 1);
  const lines = [...top, "", ...body].slice(0, room);
  if (Number.isFinite(height)) { while (lines.length < room) lines.push(""); }
  // Names come from labels: anything but printable ASCII could move the cursor or take two columns.
  return [...lines, status.join("  ")].slice(0, Math.max(0, height))
    .map((line) => line.replace(/[^\x20-\x7e]/g, "?").slice(0, width));
}

function headerFields(frame: Frame): string[] {
  const h: Partial<Header> = "view" in frame ? frame.view.header : {};
  const fields = [`tsproxy${h.version ? " " + h.version : ""} @ ${frame.address}`];
  if (!("view" in frame)) return fields;
  fields.push(
    `up ${uptime(h.uptimeSeconds)}`,
    `rss ${bytes(h.rssBytes)}`,
    `cpu ${h.cpuPercent === undefined ? "-" : h.cpuPercent.toFixed(1) + "%"}`,
    `clients ${count(h.clients)}`,
    `conns ${count(h.connections)}, ${count(h.totalConnections)} total`,
    `heap ${bytes(h.heapBytes)}`,
    `fds ${count(h.openFds)}`,
  );
  if ((h.processes ?? 0) > 1) fields.push(`processes ${h.processes}`);
  return fields;
}

/** The table in `rows` lines at most (title included): rows past that are counted on its last line. */
function table(view: View, width: number, rows: number): string[] {
  if (view.pools.length === 0) return ["no pools in the metrics"];
  const fixed = (cols: readonly Column[]) =>
    cols.reduce((sum, c) => sum + 1 + c.width, STATE_WIDTH + EJ_WIDTH + 2);
  let columns = COLUMNS;
  for (const wide of WIDE_COLUMNS) {
    if (width - fixed([...columns, wide]) >= NAME_MIN) columns = [...columns, wide];
  }
  const nameWidth = Math.max(width - fixed(columns), 4);
  const line = (r: Row) =>
    [
      (r.indent + elide(r.name, nameWidth - r.indent.length)).padEnd(nameWidth),
      r.state.padEnd(STATE_WIDTH),
      r.ejected.padStart(EJ_WIDTH),
      ...columns.map((c) => c.cell(r.stats).padStart(c.width)),
    ].join(" ");
  const title = [
    "POOL/SERVER".padEnd(nameWidth),
    "STATE".padEnd(STATE_WIDTH),
    "EJ".padStart(EJ_WIDTH),
    ...columns.map((c) => c.title.padStart(c.width)),
  ].join(" ");
  const all = view.pools.flatMap(poolRows).map(line);
  if (all.length <= rows - 1) return [title, ...all];
  const shown = Math.max(0, rows - 2);
  return [title, ...all.slice(0, shown), `... ${all.length - shown} more rows (make the window taller)`];
}

function poolRows(pool: PoolRow): Row[] {
  const total = pool.live + pool.ejected;
  return [
    {
      indent: "",
      name: pool.name,
      state: `${pool.live}/${total} live`,
      ejected: String(pool.ejected),
      stats: pool,
    },
    ...pool.servers.map((s) => ({
      indent: "  ",
      name: s.name,
      state: s.ejected ? "EJECTED" : "live",
      ejected: "",
      stats: s,
    })),
  ];
}

/** Items joined by `gap` into lines no wider than `width`; an item wider than that is elided. */
function flow(items: readonly string[], width: number, gap: string): string[] {
  const lines: string[] = [];
  for (const item of items.map((i) => elide(i, width))) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + gap.length + item.length <= width) lines[last] += gap + item;
    else lines.push(item);
  }
  return lines;
}

/** `text` cut to `width` by replacing its middle with "..", so that both ends stay readable. */
export function elide(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width < 6) return text.slice(0, width);
  const keep = width - 2;
  const head = Math.ceil(keep / 2);
  return text.slice(0, head) + ".." + text.slice(text.length - (keep - head));
}

/** 3 significant digits at most, so that every figure fits in 6 columns with its unit. */
function digits(v: number): string {
  if (v === 0) return "0";
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
}

/** A figure scaled down by `base` for each unit past the first while it reaches `base`. */
function scaled(v: number | undefined, base: number, units: readonly string[]): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  let unit = 0;
  while (Math.abs(v) >= base && unit < units.length - 1) {
    v /= base;
    unit++;
  }
  return (unit === 0 && Number.isInteger(v) ? String(v) : digits(v)) + units[unit];
}

/** A count or a rate: 7, 0.33, 12.3, 999, 1.23k, 45.6M. */
export function count(v: number | undefined): string {
  return scaled(v, 1000, ["", "k", "M", "G", "T"]);
}

/** A size in bytes: 512B, 1.50K, 45.2M. */
export function bytes(v: number | undefined): string {
  return scaled(v, 1024, ["B", "K", "M", "G", "T"]);
}

/** A latency in seconds: 12us, 1.23ms, 456ms, 2.50s. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "-";
  if (seconds < 1e-3) return digits(seconds * 1e6) + "us";
  if (seconds < 1) return digits(seconds * 1e3) + "ms";
  return digits(seconds) + "s";
}

/** 03:04:05, or 2d 03:04:05 past a day. */
export function uptime(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "-";
  const s = Math.max(0, Math.floor(seconds));
  const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60].map((n) =>
    String(n).padStart(2, "0")
  );
  return (s >= 86400 ? `${Math.floor(s / 86400)}d ` : "") + hms.join(":");
}

/**
 * The process's own health for the admin endpoint: memory, CPU, descriptors, event-loop lag and GC
 * pauses. Sampling runs only while the admin endpoint is on (its timers are unref'd: they never keep
 * the process alive).
 */
import process from "node:process";
import v8 from "node:v8";
import { openFileLimit } from "../core/fd_limit.ts";
import { Histogram, type HistogramSnapshot } from "./histogram.ts";

/** One process at one moment (a worker's, or the only one). */
export interface ProcessSnapshot {
  /** Which process, with --workers ("supervisor", "worker-0", ...); null when there is only one. */
  label: string | null;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  cpuSeconds: number;
  /** -1 where it cannot be read (no /proc). */
  openFds: number;
  maxFds: number;
  startTimeSeconds: number;
  eventLoopLag: HistogramSnapshot;
  /** GC pauses by V8's GC type (Scavenge, MarkSweepCompact, ...). */
  gc: Record<string, HistogramSnapshot>;
}

/** How often the event loop's lag is sampled. */
const LAG_SAMPLE_MS = 500;
/** How often GC records are folded into histograms (the profiler keeps every record until then). */
const GC_FOLD_MS = 10_000;

interface GcRecord {
  gcType: string;
  /** The pause, in nanoseconds as Deno reports it (measured: a forced 6.7 ms full GC reads 6.65e6). */
  cost: number;
}

interface GcProfiler {
  start(): void;
  stop(): { statistics: GcRecord[] } | undefined;
}

export class ProcessMetrics {
  readonly #lag = new Histogram();
  readonly #gc = new Map<string, Histogram>();
  readonly #profiler: GcProfiler | null;
  readonly #timers: number[] = [];

  constructor(readonly label: string | null = null) {
    const Profiler = (v8 as unknown as { GCProfiler?: new () => GcProfiler }).GCProfiler;
    this.#profiler = Profiler === undefined ? null : new Profiler();
  }

  /** Starts sampling lag and recording GC pauses. */
  start(): void {
    this.#profiler?.start();
    let expected = performance.now() + LAG_SAMPLE_MS;
    const sampleLag = () => {
      const t = performance.now();
      this.#lag.observe(Math.max(0, t - expected) / 1000);
      expected = t + LAG_SAMPLE_MS;
    };
    // Deno's timers are numbers (node:process's types say otherwise).
    for (const [fn, ms] of [[sampleLag, LAG_SAMPLE_MS], [() => this.#foldGc(), GC_FOLD_MS]] as const) {
      const id = setInterval(fn, ms) as unknown as number;
      Deno.unrefTimer(id);
      this.#timers.push(id);
    }
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    this.#profiler?.stop();
  }

  #foldGc(): void {
    const profiler = this.#profiler;
    if (profiler === null) return;
    const records = profiler.stop()?.statistics ?? [];
    profiler.start();
    for (const r of records) {
      let h = this.#gc.get(r.gcType);
      if (h === undefined) this.#gc.set(r.gcType, h = new Histogram());
      h.observe(r.cost / 1e9);
    }
  }

  snapshot(): ProcessSnapshot {
    this.#foldGc();
    const mem = Deno.memoryUsage();
    const cpu = process.cpuUsage();
    const gc: Record<string, HistogramSnapshot> = {};
    for (const [kind, h] of this.#gc) gc[kind] = h.snapshot();
    return {
      label: this.label,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      openFds: openFds(),
      maxFds: openFileLimit(),
      startTimeSeconds: performance.timeOrigin / 1000,
      eventLoopLag: this.#lag.snapshot(),
      gc,
    };
  }
}

function openFds(): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n - 1; // the directory being read is one of them
  } catch {
    return -1;
  }
}

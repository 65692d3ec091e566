/**
 * Gives memory back after a burst. Under load V8 grows its young generation to tens of MiB and keeps
 * it however long the proxy then sits idle (a run at 120 MiB stayed there); one full collection while
 * idle shrinks it (the heap from 40 to 5 MiB). Deno has no API for that: the collector is V8's `gc`,
 * exposed at run time through node:v8 and node:vm, and loaded only the first time it is needed.
 */

/** A full, memory-reducing collection. */
export type Collect = () => void;

/** How the proxy's activity is watched. */
export interface IdleCollectorOptions {
  /** A number that changes whenever the proxy does anything (requests, connections). */
  activity: () => number;
  /** How often activity is sampled; a collection follows one whole quiet interval after traffic. */
  intervalMs: number;
  /** Heap size (bytes) below which collecting is not worth a pause. */
  minHeapBytes: number;
  /** Obtains the collector (null: none to be had) on first use; by default V8's. */
  collector?: () => Promise<Collect | null>;
  /** The heap's size; by default V8's heapTotal. */
  heapBytes?: () => number;
}

/**
 * An interval counts as quiet when its activity is at most this fraction of the busiest interval
 * since the last collection: a load that ended is given back even while a few clients trickle on.
 */
const QUIET_FRACTION = 0.01;

/** Starts watching; returns a function that stops it. The timer never keeps the process alive. */
export function startIdleCollector(opts: IdleCollectorOptions): () => void {
  const heapBytes = opts.heapBytes ?? (() => Deno.memoryUsage().heapTotal);
  const obtain = opts.collector ?? v8Collector;
  let last = opts.activity();
  /** The most activity seen in one interval since the last collection (0: none, nothing to give back). */
  let peak = 0;
  let collect: Collect | null | undefined; // undefined: not obtained yet
  let busy = false;
  const quiet = (delta: number) => delta <= peak * QUIET_FRACTION;
  const timer = setInterval(async () => {
    const now = opts.activity();
    const delta = now - last;
    last = now;
    if (delta > peak) peak = delta;
    if (peak === 0 || !quiet(delta) || busy || heapBytes() < opts.minHeapBytes) return;
    busy = true;
    try {
      if (collect === undefined) collect = await obtain();
      // Traffic may have come back while the collector was loading.
      if (collect !== null && quiet(opts.activity() - last)) {
        collect();
        peak = 0;
      }
    } finally {
      busy = false;
    }
  }, opts.intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/** V8's `gc`, made visible with --expose-gc set at run time and read from a fresh context. */
export async function v8Collector(): Promise<Collect | null> {
  try {
    const v8 = await import("node:v8");
    const vm = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc");
    if (typeof gc !== "function") return null;
    // A major collection at a low allocation rate also shrinks the young generation (about 15 ms
    // for a heap grown to 40 MiB; a last-resort one took 23-55 ms for the same result).
    return () => gc({ type: "major", execution: "sync" });
  } catch {
    return null;
  }
}

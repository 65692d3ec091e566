import assert from "assert";
import { type IdleCollectorOptions, startIdleCollector, v8Collector } from "../../src/core/idle_gc.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A collector driven by a test: its activity counter, heap size and the collections it made. */
function rig(overrides: Partial<IdleCollectorOptions> = {}) {
  const state = { activity: 0, heap: 64 << 20, collections: 0 };
  const stop = startIdleCollector({
    activity: () => state.activity,
    intervalMs: 20,
    minHeapBytes: 16 << 20,
    collector: () => Promise.resolve(() => state.collections++),
    heapBytes: () => state.heap,
    ...overrides,
  });
  return { state, stop };
}

/** Waits until `cond` holds (or fails after 3 s, for a loaded machine). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

Deno.test("no collection while traffic keeps coming", async () => {
  let samples = 0;
  // Every sample sees new traffic.
  const { state, stop } = rig({ activity: () => ++samples });
  try {
    await until(() => samples > 10, "samples");
    assert.equal(state.collections, 0);
  } finally {
    stop();
  }
});

Deno.test("one collection after traffic once a whole interval passed quietly, none again until new traffic", async () => {
  const { state, stop } = rig();
  try {
    state.activity++;
    await until(() => state.collections === 1, "the first collection");
    await sleep(100);
    assert.equal(state.collections, 1, "still idle: nothing more to give back");
    state.activity++;
    await until(() => state.collections === 2, "the second collection");
  } finally {
    stop();
  }
});

Deno.test("a load that ended is given back while a few clients trickle on", async () => {
  const { state, stop } = rig();
  let trickle = 0;
  const keepTrickling = setInterval(() => state.activity += 1 + (trickle++ % 3), 5);
  try {
    state.activity += 100_000; // the load
    await until(() => state.collections === 1, "a collection under the trickle");
    await sleep(150);
    assert.equal(state.collections, 1, "the trickle alone is no load to give back");
  } finally {
    clearInterval(keepTrickling);
    stop();
  }
});

Deno.test("a small heap is not worth a collection", async () => {
  const { state, stop } = rig();
  try {
    state.heap = 8 << 20;
    state.activity++;
    await sleep(150);
    assert.equal(state.collections, 0);
  } finally {
    stop();
  }
});

Deno.test("a runtime without a collector is left alone", async () => {
  let asked = 0;
  const { state, stop } = rig({
    collector: () => {
      asked++;
      return Promise.resolve(null);
    },
  });
  try {
    state.activity++;
    await until(() => asked === 1, "the collector to be asked for");
    state.activity++;
    await sleep(150);
    assert.equal(asked, 1, "asked once, then not again");
  } finally {
    stop();
  }
});

Deno.test("V8's collector is available in Deno and shrinks a heap grown by churn", async () => {
  const collect = await v8Collector();
  assert.ok(collect !== null, "no gc could be obtained");
  let keep: { a: number; b: Uint8Array }[] = [];
  for (let i = 0; i < 5e6; i++) {
    const o = { a: i, b: new Uint8Array(16) };
    if (i % 1000 === 0) keep.push(o);
    if (keep.length > 2000) keep = [];
  }
  const grown = Deno.memoryUsage().heapTotal;
  collect();
  const after = Deno.memoryUsage().heapTotal;
  assert.ok(after < grown, `heap ${grown} -> ${after}`);
});

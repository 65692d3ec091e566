/**
 * The time in ms, read once per turn of the event loop: Date.now() costs about 60 ns in Deno, more
 * than the rest of forwarding a pipelined request, and every request of a read shares one deadline
 * base anyway.
 */
let cached = -1;

function forget(): void {
  cached = -1;
}

/** Date.now() as of the first call in the current task (refreshed once its microtasks run). */
export function now(): number {
  if (cached < 0) {
    cached = Date.now();
    queueMicrotask(forget);
  }
  return cached;
}

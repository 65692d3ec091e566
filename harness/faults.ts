/**
 * Run-time fault injection for the fake backends: which failure to act out on the next request.
 * The fakes consult `take()` once per request they read; the setters are for tests and the harness.
 */

/** A failure a fake backend can be told to act out, per request, until cleared. */
export type Fault =
  /** Execute requests normally but hold each reply back `ms` milliseconds (order is kept). */
  | { mode: "delay"; ms: number }
  /** Accept connections and read requests, never answer (requests are not executed). */
  | { mode: "silent" }
  /** After reading a request, hang up (FIN, then EOF for the peer) without answering it. */
  | { mode: "close" }
  /** Answer each request with `BOGUS\r\n` instead of executing it. */
  | { mode: "garbage" }
  /**
   * Answer the next `times` requests (default 1, `Infinity` for all) with `raw`, e.g.
   * `-LOADING ...\r\n`, instead of executing them; then behave normally again.
   */
  | { mode: "reply"; raw: string | Uint8Array; times?: number };

/** The bytes a fake sends in `garbage` mode. */
export const GARBAGE = "BOGUS\r\n";

/** The fault currently in force on one fake. */
export class Faults {
  #fault: Fault | null = null;
  #left = 0;

  /** Replaces the current fault; it applies to requests read from now on, on every connection. */
  set(fault: Fault): void {
    if (fault.mode === "delay" && !(fault.ms >= 0)) throw new RangeError(`bad delay ${fault.ms}`);
    const times = fault.mode === "reply" ? fault.times ?? 1 : Infinity;
    if (!(times >= 1)) throw new RangeError(`bad times ${times}`);
    this.#fault = fault;
    this.#left = times;
  }

  /** Back to normal service. */
  clear(): void {
    this.#fault = null;
  }

  /** The fault in force, or null when serving normally. */
  get current(): Fault | null {
    return this.#fault;
  }

  /** The fault to apply to the request just read; uses up one of a `reply` fault's `times`. */
  take(): Fault | null {
    const fault = this.#fault;
    if (fault && --this.#left <= 0) this.#fault = null;
    return fault;
  }
}

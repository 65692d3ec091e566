/**
 * The bytes read from one socket that are not consumed yet: `buf[start, end)`.
 *
 * It starts small so idle connections stay cheap, and doubles (up to the -m chunk size) each time it
 * empties after a read filled it, even when the parser had consumed only part: a client's usual burst
 * then arrives in one read instead of two, and its replies leave in one write. It grows (doubling)
 * towards the size of a large message the parser announced, and falls back to the chunk size when a
 * large message is done.
 */
export class ReadBuffer {
  buf: Uint8Array;
  start = 0;
  end = 0;
  /** A read filled all the space it was given since the buffer last emptied: the traffic wants more room. */
  #filled = false;

  constructor(initial: number, private readonly chunk: number) {
    this.buf = new Uint8Array(Math.min(initial, chunk));
  }

  /**
   * The free tail to read into, made room for first; `need` is the pending message's size if known.
   * (The caller awaits the read itself: an async wrapper here would cost a promise per read.)
   */
  space(need: number): Uint8Array {
    this.#makeRoom(need);
    return this.buf.subarray(this.end);
  }

  /** Takes in `n` bytes just read into `space()`. */
  filled(n: number): void {
    if (n === this.buf.length - this.end) this.#filled = true;
    this.end += n;
  }

  /**
   * Marks bytes up to `upTo` as consumed; an emptied buffer rewinds (and resizes to the traffic),
   * unless `reading`: a read into `space()` is still outstanding, so the bytes must stay where they are.
   */
  consumed(upTo: number, reading = false): void {
    this.start = upTo;
    if (upTo !== this.end || reading) return;
    this.start = this.end = 0;
    if (this.buf.length > this.chunk) this.buf = new Uint8Array(this.chunk);
    else if (this.#filled && this.buf.length < this.chunk) this.buf = new Uint8Array(this.buf.length * 2);
    this.#filled = false;
  }

  #makeRoom(need: number): void {
    if (this.end < this.buf.length && this.start + need <= this.buf.length) return;
    const pending = this.end - this.start;
    // Grow towards the announced size at most doubling each time: a peer that announces a huge
    // value and sends nothing must not make the proxy allocate it up front.
    let size = Math.max(this.buf.length, Math.min(need, this.buf.length * 2));
    // A message of unknown length (or longer than announced) keeps growing the buffer.
    if (need <= pending && pending * 2 > size) size *= 2;
    if (size === this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
    } else {
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
    }
    this.start = 0;
    this.end = pending;
  }
}

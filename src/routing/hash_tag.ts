/** The `hash_tag` rule: which part of a key is hashed. */

/**
 * A pool's 2-byte hash tag `L`,`R`. `reduce` finds the first `L` in the key and the first `R`
 * after it; when at least one byte lies between them those bytes are hashed, otherwise the whole
 * key. The result goes into the reusable `start`/`end` fields so that routing allocates nothing.
 */
export class HashTag {
  /** Start of the bytes to hash, set by the last `reduce`. */
  start = 0;
  /** End (exclusive) of the bytes to hash, set by the last `reduce`. */
  end = 0;
  readonly #left: number;
  readonly #right: number;

  /** `tag` must be exactly the 2 bytes of the `hash_tag` directive. */
  constructor(tag: Uint8Array) {
    if (tag.length !== 2) throw new RangeError(`hash_tag must be 2 bytes, got ${tag.length}`);
    this.#left = tag[0];
    this.#right = tag[1];
  }

  /** Sets `start`/`end` to the part of buf[start, end) that the pool hashes. */
  reduce(buf: Uint8Array, start: number, end: number): void {
    this.start = start;
    this.end = end;
    let l = start;
    while (l < end && buf[l] !== this.#left) l++;
    if (l === end) return;
    // Only the first L counts; an R right after it (empty tag) means the whole key.
    let r = l + 1;
    while (r < end && buf[r] !== this.#right) r++;
    if (r === end || r === l + 1) return;
    this.start = l + 1;
    this.end = r;
  }
}

/** The `modula` distribution: hash mod total live weight over a weight-expanded server table. */
import { type Distributor, liveIndexes, type RoutedServer } from "./distributor.ts";

/**
 * nutcracker's table lists each live server's index `weight` times in index order and picks
 * `table[hash % length]`. Rather than materialise that table (weights may be large) this keeps
 * the cumulative live weights and finds the slot's server by binary search.
 */
export class Modula implements Distributor {
  /** Cumulative weight up to and including each live server. */
  readonly #ends: Float64Array;
  /** Server index of each live server, in index order. */
  readonly #owners: Int32Array;

  constructor(servers: readonly RoutedServer[], live: readonly boolean[]) {
    const owners = liveIndexes(live);
    this.#owners = Int32Array.from(owners);
    this.#ends = new Float64Array(owners.length);
    let total = 0;
    for (let k = 0; k < owners.length; k++) {
      total += servers[owners[k]].weight;
      this.#ends[k] = total;
    }
  }

  /** The owner of table slot `hash % total live weight`. */
  pick(hash: number): number {
    const ends = this.#ends;
    const slot = hash % ends[ends.length - 1];
    let lo = 0, hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid] <= slot) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo];
  }
}

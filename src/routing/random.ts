/** The `random` distribution: a uniformly random live server, weights and keys ignored. */
import { type Distributor, liveIndexes } from "./distributor.ts";

/** Picks among the live servers with equal probability, as nutcracker's `random() % nlive`. */
export class Random implements Distributor {
  readonly #owners: Int32Array;

  constructor(live: readonly boolean[]) {
    this.#owners = Int32Array.from(liveIndexes(live));
  }

  /** A random live server index; the hash is ignored. */
  pick(_hash: number): number {
    return this.#owners[Math.floor(Math.random() * this.#owners.length)];
  }
}

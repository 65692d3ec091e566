/** What the three distributions (ketama, modula, random) have in common. */

/** A pool server as routing sees it: its nutcracker name and weight, at its sorted index. */
export interface RoutedServer {
  readonly name: string;
  readonly weight: number;
}

/**
 * A distribution built from a pool's servers and its live set (`live[i]` for server index i).
 * Built only when at least one server is live.
 */
export interface Distributor {
  /** Server index for the (unsigned 32-bit) key hash; always a live server. */
  pick(hash: number): number;
}

/** Indexes of the live servers, in index order. */
export function liveIndexes(live: readonly boolean[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < live.length; i++) if (live[i]) out.push(i);
  return out;
}

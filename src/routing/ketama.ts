/** The `ketama` distribution: nutcracker's consistent-hashing continuum, bit-exact. */
import { type Distributor, liveIndexes, type RoutedServer } from "./distributor.ts";
import { md5Words } from "./hash/md5.ts";

/** Points per server when all weights are equal; MD5 gives 4 points per name hashed. */
const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;
/** nutcracker formats `name-i` into a 273-byte buffer: longer point names are cut to 272 bytes. */
const MAX_POINT_NAME = 272;

/**
 * Continuum points of one live server, computed in IEEE single precision as nutcracker's C does
 * (every float operation rounded with Math.fround): equal weights give 160, weights 1,2 give
 * 104/212, and a tiny weight next to a huge one can get 0.
 */
export function ketamaPoints(weight: number, totalWeight: number, nlive: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  let x = f(f(f(pct * POINTS_PER_SERVER) / POINTS_PER_HASH) * f(nlive));
  // The C adds 1e-10 in double precision before converting back to float.
  x = f(x + 0.0000000001);
  return Math.floor(x) * POINTS_PER_HASH;
}

const encoder = new TextEncoder();

/**
 * The continuum of the live servers: point values sorted ascending with the owning server index of
 * each. A key goes to the owner of the first point >= its hash, wrapping to the first point.
 */
export class Ketama implements Distributor {
  readonly #values: Uint32Array;
  readonly #owners: Int32Array;

  /** Needs at least one live server. */
  constructor(servers: readonly RoutedServer[], live: readonly boolean[]) {
    const owners = liveIndexes(live);
    let total = 0;
    for (const s of owners) total += servers[s].weight;
    const counts = owners.map((s) => ketamaPoints(servers[s].weight, total, owners.length));
    const n = servers.length;
    // Each point is packed as value * n + owner (exact below 2^53 for n < 2^21), so one numeric
    // typed-array sort orders by value with a deterministic tie-break on the owner.
    const packed = new Float64Array(counts.reduce((a, b) => a + b, 0));
    const words = new Uint32Array(4);
    let p = 0;
    owners.forEach((s, k) => {
      for (let i = 0; i < counts[k] / POINTS_PER_HASH; i++) {
        const pointName = encoder.encode(`${servers[s].name}-${i}`);
        md5Words(pointName, 0, Math.min(pointName.length, MAX_POINT_NAME), words);
        for (const w of words) packed[p++] = w * n + s;
      }
    });
    packed.sort();
    this.#values = new Uint32Array(packed.length);
    this.#owners = new Int32Array(packed.length);
    for (let j = 0; j < packed.length; j++) {
      const owner = packed[j] % n;
      this.#owners[j] = owner;
      this.#values[j] = (packed[j] - owner) / n;
    }
  }

  /** Owner of the first point whose value is >= hash (lower bound), or of the first point. */
  pick(hash: number): number {
    const values = this.#values;
    let lo = 0, hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === values.length ? 0 : lo];
  }
}

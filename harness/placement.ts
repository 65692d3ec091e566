/** Where keys land in the harness's pools: keys chosen by the server that will hold them. */
import { fromLatin1 } from "./bytes.ts";
import { Router } from "../src/routing/router.ts";

/**
 * Key placement of a pool of servers named `names` under nutcracker's default hash and distribution
 * (fnv1a_64, ketama), with an optional hash tag. Servers are placed by name, so two pools with the
 * same names place every key alike whatever their ports.
 */
export class Placement {
  readonly #router: Router;

  constructor(readonly names: readonly string[], hashTag: string | null = "{}") {
    this.#router = new Router({
      hash: "fnv1a_64",
      distribution: "ketama",
      hashTag: hashTag === null ? null : fromLatin1(hashTag),
      servers: names.map((name) => ({ name, weight: 1 })),
    });
  }

  /** Index (in name order) of the server that holds `key`. */
  owner(key: string): number {
    const b = fromLatin1(key);
    return this.#router.pick(b, 0, b.length);
  }

  /** The first `count` keys `${prefix}<i>` that land on server `server`. */
  keysOn(server: number, prefix: string, count = 1): string[] {
    const out: string[] = [];
    for (let i = 0; out.length < count; i++) {
      if (i > 100_000) throw new Error(`no key ${prefix}* lands on server ${server}`);
      if (this.owner(`${prefix}${i}`) === server) out.push(`${prefix}${i}`);
    }
    return out;
  }
}

/** Placement in the standard four-server pools (s1..s4, `{}` hash tag). */
export const FOUR = new Placement(["s1", "s2", "s3", "s4"]);

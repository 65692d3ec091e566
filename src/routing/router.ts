/** Key -> server index for one pool: hash_tag, hash function and distribution put together. */
import type { Distribution, HashName } from "../config/types.ts";
import type { Distributor } from "./distributor.ts";
import { type HashFn, hashFunction } from "./hash/index.ts";
import { HashTag } from "./hash_tag.ts";
import { Ketama } from "./ketama.ts";
import { Modula } from "./modula.ts";
import { Random } from "./random.ts";

/** The bytes of `placeholder`: the key that memcache `version` and redis COMMAND/LOLWUT route by. */
export const PLACEHOLDER: Uint8Array = new TextEncoder().encode("placeholder");

/** What a Router needs from a pool's configuration. */
export interface RouterOptions {
  hash: HashName;
  distribution: Distribution;
  hashTag: Uint8Array | null;
  servers: readonly { name: string; weight: number }[]; // index order = nutcracker's sorted order
}

/** Places keys on a pool's servers exactly as nutcracker 0.5.0 does. */
export class Router {
  readonly #servers: RouterOptions["servers"];
  readonly #distribution: Distribution;
  readonly #hash: HashFn;
  readonly #tag: HashTag | null;
  #live: boolean[];
  /** Null when no server is live. */
  #dist: Distributor | null = null;

  /** All servers start live. */
  constructor(opts: RouterOptions) {
    if (opts.servers.length === 0) throw new RangeError("a pool needs at least one server");
    this.#servers = opts.servers.map(({ name, weight }) => ({ name, weight }));
    this.#distribution = opts.distribution;
    this.#hash = hashFunction(opts.hash);
    this.#tag = opts.hashTag ? new HashTag(opts.hashTag) : null;
    this.#live = opts.servers.map(() => true);
    this.#rebuild();
  }

  /** Rebuild from the live set (true = live), as nutcracker does on ejection and return. */
  setLive(live: readonly boolean[]): void {
    if (live.length !== this.#servers.length) {
      throw new RangeError(`live set has ${live.length} entries for ${this.#servers.length} servers`);
    }
    this.#live = [...live];
    this.#rebuild();
  }

  /**
   * Server index for the key bytes buf[start, end); -1 when no server is live. One server: 0 if
   * live, nothing hashed. Empty (reduced) key hashes to 0.
   */
  pick(buf: Uint8Array, start: number, end: number): number {
    const dist = this.#dist;
    if (dist === null) return -1;
    if (this.#live.length === 1) return 0;
    if (this.#distribution === "random") return dist.pick(0);
    const tag = this.#tag;
    if (tag !== null) {
      tag.reduce(buf, start, end);
      start = tag.start;
      end = tag.end;
    }
    return dist.pick(start === end ? 0 : this.#hash(buf, start, end));
  }

  #rebuild(): void {
    if (!this.#live.includes(true)) {
      this.#dist = null;
      return;
    }
    switch (this.#distribution) {
      case "ketama":
        this.#dist = new Ketama(this.#servers, this.#live);
        break;
      case "modula":
        this.#dist = new Modula(this.#servers, this.#live);
        break;
      case "random":
        this.#dist = new Random(this.#live);
        break;
    }
  }
}

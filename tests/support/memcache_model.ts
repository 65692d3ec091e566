/**
 * Test support: an in-memory model of the replies memcached 1.6 gives to the ASCII commands tsproxy
 * forwards (cas excepted: its uniques are the server's), so a test can state the exact bytes a
 * script must get back. Keys and values are strings with one char per byte (latin1.ts).
 */

/** One stored item. */
interface Item {
  flags: number;
  data: string;
}

/** A get/gets reply block: `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`. */
export function valueBlock(key: string, flags: number, data: string, cas?: string): string {
  return `VALUE ${key} ${flags} ${data.length}${cas === undefined ? "" : ` ${cas}`}\r\n${data}\r\n`;
}

export type StorageCmd = "set" | "add" | "replace" | "append" | "prepend";

const U64 = 1n << 64n;

/** memcached's view of numeric values: digits, possibly padded with spaces by an earlier incr/decr. */
const NUMERIC = /^[0-9]{1,19} *$/;

/** The items of one memcached, as the replies of a client reveal them. */
export class MemcacheModel {
  readonly #items = new Map<string, Item>();

  /** set/add/replace/append/prepend: `STORED\r\n` or `NOT_STORED\r\n`. */
  store(cmd: StorageCmd, key: string, flags: number, data: string): string {
    const old = this.#items.get(key);
    switch (cmd) {
      case "add":
        if (old) return "NOT_STORED\r\n";
        break;
      case "replace":
        if (!old) return "NOT_STORED\r\n";
        break;
      case "append":
      case "prepend":
        if (!old) return "NOT_STORED\r\n";
        // The item keeps its flags; only the data grows.
        old.data = cmd === "append" ? old.data + data : data + old.data;
        return "STORED\r\n";
    }
    this.#items.set(key, { flags, data });
    return "STORED\r\n";
  }

  /** get with one or more keys: the VALUE blocks of the keys present, in key order, then END. */
  get(keys: readonly string[]): string {
    let out = "";
    for (const key of keys) {
      const item = this.#items.get(key);
      if (item) out += valueBlock(key, item.flags, item.data);
    }
    return out + "END\r\n";
  }

  delete(key: string): string {
    return this.#items.delete(key) ? "DELETED\r\n" : "NOT_FOUND\r\n";
  }

  touch(key: string): string {
    return this.#items.has(key) ? "TOUCHED\r\n" : "NOT_FOUND\r\n";
  }

  /**
   * incr/decr by a non-negative delta: the new value (64-bit wrap for incr, floor 0 for decr).
   * Like memcached, a shorter result is written in place, padded with spaces to the old length.
   */
  delta(cmd: "incr" | "decr", key: string, by: bigint): string {
    const item = this.#items.get(key);
    if (!item) return "NOT_FOUND\r\n";
    if (!NUMERIC.test(item.data)) return "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
    const now = BigInt(item.data.trimEnd());
    const next = cmd === "incr" ? (now + by) % U64 : now > by ? now - by : 0n;
    const res = next.toString();
    item.data = res.length <= item.data.length ? res.padEnd(item.data.length, " ") : res;
    return `${res}\r\n`;
  }

  /** Whether incr/decr on the key has a reply this model can tell (missing, numeric or surely not). */
  deltaIsPredictable(key: string): boolean {
    const item = this.#items.get(key);
    return !item || NUMERIC.test(item.data) || /^[a-z]/.test(item.data);
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** The keys currently held. */
  keys(): string[] {
    return [...this.#items.keys()];
  }
}

/**
 * Test support: an in-memory model of the replies memcached 1.6 gives to the ASCII commands tsproxy
 * forwards (cas excepted: its uniques are the server's), so a test can state the exact bytes a
 * script must get back. Keys and values are strings with one char per byte (latin1.ts).
 *
 * One thing about an item's bytes is memcached's choice, not the client's: when incr/decr makes a
 * number shorter, memcached 1.6 (do_add_delta) writes it in place, padded with spaces to the old
 * length, only when nothing else holds a reference to the item; when a reply still being written to
 * some client holds one, it stores a new item of the exact length instead. Which one happens depends
 * on timing (it differed once under 100 concurrent clients), so after such an incr/decr the model
 * keeps both values, and a get of that key may get either, byte for byte (see `get`).
 */

/** One stored item: its flags and every value memcached may hold for it (several after a shrink). */
interface Item {
  flags: number;
  /** Distinct; the first is the value if memcached always updated in place. */
  data: string[];
}

/** A get/gets reply block: `VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n`. */
export function valueBlock(key: string, flags: number, data: string, cas?: string): string {
  return `VALUE ${key} ${flags} ${data.length}${cas === undefined ? "" : ` ${cas}`}\r\n${data}\r\n`;
}

/**
 * The reply a request must get: exactly `expect`, or when memcached may answer in more than one way
 * (`padding`: an incr/decr shrank a value it returns), any reply `matches` accepts — `expect` is then
 * the reply with every such value padded in place.
 */
export interface Expected {
  expect: string;
  matches?: RegExp;
  padding?: true;
}

export type StorageCmd = "set" | "add" | "replace" | "append" | "prepend";

const U64 = 1n << 64n;

/** memcached's view of numeric values: digits, possibly padded with spaces by an earlier incr/decr. */
const NUMERIC = /^[0-9]{1,19} *$/;

const NON_NUMERIC = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";

/** The reply incr/decr gives on `data`: the number it reads, an error, or null when the model cannot tell. */
function deltaInput(data: string): bigint | "error" | null {
  if (NUMERIC.test(data)) return BigInt(data.trimEnd());
  return /^[a-z]/.test(data) ? "error" : null;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `values` without repeats, first occurrences kept in order. */
function distinct(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

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
        old.data = distinct(old.data.map((d) => cmd === "append" ? d + data : data + d));
        return "STORED\r\n";
    }
    this.#items.set(key, { flags, data: [data] });
    return "STORED\r\n";
  }

  /**
   * get with one or more keys: the VALUE blocks of the keys present, in key order, then END. When a
   * value is one of several (an incr/decr shrank it), `matches` accepts the reply with any of them.
   */
  get(keys: readonly string[]): Expected {
    let expect = "";
    let pattern = "";
    let padding = false;
    for (const key of keys) {
      const item = this.#items.get(key);
      if (!item) continue;
      const blocks = item.data.map((d) => valueBlock(key, item.flags, d));
      expect += blocks[0];
      pattern += `(?:${blocks.map(escapeRe).join("|")})`;
      if (blocks.length > 1) padding = true;
    }
    expect += "END\r\n";
    return padding ? { expect, matches: new RegExp(`^${pattern}END\\r\\n$`), padding } : { expect };
  }

  delete(key: string): string {
    return this.#items.delete(key) ? "DELETED\r\n" : "NOT_FOUND\r\n";
  }

  touch(key: string): string {
    return this.#items.has(key) ? "TOUCHED\r\n" : "NOT_FOUND\r\n";
  }

  /**
   * incr/decr by a non-negative delta: the new value (64-bit wrap for incr, floor 0 for decr). A
   * shorter result is held both padded to the old length (written in place) and as it is (a new item).
   * Throws when the reply is not predictable (see deltaIsPredictable).
   */
  delta(cmd: "incr" | "decr", key: string, by: bigint): string {
    const item = this.#items.get(key);
    if (!item) return "NOT_FOUND\r\n";
    const now = this.#deltaInput(item);
    if (now === null) throw new RangeError(`${cmd} ${key}: memcached's reply is not predictable`);
    if (now === "error") return NON_NUMERIC;
    const next = cmd === "incr" ? (now + by) % U64 : now > by ? now - by : 0n;
    const res = next.toString();
    item.data = distinct(
      item.data.flatMap((d) => res.length < d.length ? [res.padEnd(d.length, " "), res] : [res]),
    );
    return `${res}\r\n`;
  }

  /** Whether incr/decr on the key has a reply this model can tell (missing, numeric or surely not). */
  deltaIsPredictable(key: string): boolean {
    const item = this.#items.get(key);
    return !item || this.#deltaInput(item) !== null;
  }

  /** What incr/decr reads from every value the item may hold, or null when they differ or it cannot tell. */
  #deltaInput(item: Item): bigint | "error" | null {
    const inputs = item.data.map(deltaInput);
    const first = inputs[0];
    return inputs.every((i) => i !== null && i === first) ? first : null;
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  /** The keys currently held. */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** Every value memcached may hold for the key (none when missing); the first is the padded-in-place one. */
  values(key: string): readonly string[] {
    return this.#items.get(key)?.data ?? [];
  }
}

/** A FIFO queue on a growable ring buffer: O(1) push and shift without array re-indexing. */
export class Queue<T> {
  #items: (T | undefined)[] = new Array(8);
  #head = 0;
  #size = 0;

  get length(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item;
    this.#size++;
  }

  /** The oldest item, or undefined when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** The i-th oldest item (0 = oldest). */
  at(i: number): T | undefined {
    return i < this.#size ? this.#items[(this.#head + i) & (this.#items.length - 1)] : undefined;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#size--;
    return item;
  }

  /** Removes and returns the newest item. */
  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    const i = (this.#head + this.#size - 1) & (this.#items.length - 1);
    const item = this.#items[i];
    this.#items[i] = undefined;
    this.#size--;
    return item;
  }

  /** Puts an item back in front (the one just shifted). */
  unshift(item: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#size++;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }

  #grow(): void {
    const next = new Array<T | undefined>(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = this.#items[(this.#head + i) & (this.#items.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}

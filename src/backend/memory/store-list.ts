/**
 * A Redis list of strings for the embedded store: O(1) amortised push and pop at both ends (a plain
 * array's `shift()` copies the whole array once it is large, which a 100 000-task queue would feel),
 * and the index arithmetic of LRANGE/LTRIM (negative indices count from the tail).
 */
export class StoreList {
  #items: (string | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  pushRight(...values: string[]): void {
    for (const value of values) this.#items.push(value);
  }

  pushLeft(value: string): void {
    if (this.#head === 0) {
      // Re-allocate with free room at the front, so a run of left pushes stays amortised O(1).
      const room = Math.max(16, this.length >> 1);
      const grown: (string | undefined)[] = new Array<string | undefined>(room).fill(undefined);
      for (let i = 0; i < this.#items.length; i++) grown.push(this.#items[i]);
      this.#items = grown;
      this.#head = room;
    }
    this.#head--;
    this.#items[this.#head] = value;
  }

  popLeft(): string | undefined {
    if (this.length === 0) return undefined;
    const value = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head++;
    if (this.length === 0) this.#reset();
    else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  popRight(): string | undefined {
    if (this.length === 0) return undefined;
    const value = this.#items.pop();
    if (this.length === 0) this.#reset();
    return value;
  }

  /** LRANGE start stop (inclusive, negative = from the tail). */
  range(start = 0, stop = -1): string[] {
    const [from, to] = this.#bounds(start, stop);
    const out: string[] = [];
    for (let i = from; i <= to; i++) out.push(this.#items[this.#head + i] as string);
    return out;
  }

  /** LTRIM start stop: keeps only that range. */
  trim(start: number, stop: number): void {
    this.#items = this.range(start, stop);
    this.#head = 0;
  }

  /** LREM key 0 value: removes every occurrence; returns how many. */
  remove(value: string): number {
    const kept: string[] = [];
    let removed = 0;
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as string;
      if (item === value) removed++;
      else kept.push(item);
    }
    if (removed > 0) {
      this.#items = kept;
      this.#head = 0;
    }
    return removed;
  }

  /** LPOS key value !== nil. */
  includes(value: string): boolean {
    for (let i = this.#head; i < this.#items.length; i++) if (this.#items[i] === value) return true;
    return false;
  }

  #bounds(start: number, stop: number): [number, number] {
    const n = this.length;
    let from = start < 0 ? n + start : start;
    let to = stop < 0 ? n + stop : stop;
    if (from < 0) from = 0;
    if (to >= n) to = n - 1;
    return [from, to];
  }

  #reset(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * A value loaded on demand and kept for a short time, shared by every page, API route and metrics
 * scrape of one dashboard: at most one load runs at a time (callers arriving meanwhile share it),
 * and a loaded value is served until it is `ttlMs` old. A failed load is not cached.
 */
export interface CachedValue<T> {
  value: T;
  /** When the load that produced it started (ms since the epoch). */
  loadedAt: number;
  /** How long the load took (ms). */
  loadMs: number;
}

export class TtlCache<T> {
  readonly #load: () => Promise<T>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #current: CachedValue<T> | undefined;
  #inflight: Promise<CachedValue<T>> | undefined;
  #generation = 0;
  #loads = 0;

  /**
   * @param load produces a fresh value
   * @param ttlMs how long a value is served (0: every call loads, still single-flight)
   */
  constructor(load: () => Promise<T>, ttlMs: number, now: () => number = Date.now) {
    if (!Number.isFinite(ttlMs) || ttlMs < 0) throw new RangeError(`cache TTL must be >= 0 ms, got ${ttlMs}`);
    this.#load = load;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Number of loads started so far (for tests and the dashboard's own metrics). */
  get loads(): number {
    return this.#loads;
  }

  /** The cached value when still fresh, else a new one (joining a load already under way). */
  async get(): Promise<CachedValue<T>> {
    const current = this.#current;
    if (current !== undefined && this.#now() - current.loadedAt < this.#ttlMs) return current;
    return await this.refresh();
  }

  /** A fresh value: joins the load under way, or starts one. */
  refresh(): Promise<CachedValue<T>> {
    if (this.#inflight !== undefined) return this.#inflight;
    const generation = this.#generation;
    const startedAt = this.#now();
    this.#loads++;
    const promise: Promise<CachedValue<T>> = Promise.resolve()
      .then(() => this.#load())
      .then(
        (value) => {
          const entry: CachedValue<T> = { value, loadedAt: startedAt, loadMs: this.#now() - startedAt };
          // A value loaded before an invalidate() may predate the change: hand it to the callers that
          // waited for it, but do not keep it.
          if (generation === this.#generation) this.#current = entry;
          if (this.#inflight === promise) this.#inflight = undefined;
          return entry;
        },
        (error: unknown) => {
          if (this.#inflight === promise) this.#inflight = undefined;
          throw error;
        },
      );
    this.#inflight = promise;
    return promise;
  }

  /** Forgets the cached value (after an action changed the state): the next get() loads. */
  invalidate(): void {
    this.#generation++;
    this.#current = undefined;
    this.#inflight = undefined;
  }
}

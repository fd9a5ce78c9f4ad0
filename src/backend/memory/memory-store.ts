/**
 * The in-process store of the embedded backend: a small Redis-like keyspace (strings, lists,
 * hashes, sets, with millisecond TTLs), blocking-pop notifications, pattern pub/sub, a list of
 * "connections" (for `onlineClients`) and the local-directory object store of the pipeline.
 *
 * Several {@link MemoryBackend} handles — one per service running in the process — share one store,
 * found by name in the process-wide registry ({@link MemoryStore.shared}, `[embedded] name`).
 *
 * Every method is synchronous: one call is one atomic step, the way a Redis command or Lua script
 * is (JavaScript runs one thing at a time). The backend makes its operations asynchronous around
 * them. Values are strings only (task documents are stored as their serialised JSON text), so no
 * object is ever shared between handles.
 *
 * TTLs are real time and lazy: an expired key disappears when it is next touched, and a sweep runs
 * on writes at most every {@link SWEEP_INTERVAL_MS}; the store owns no timer.
 */
import { LocalObjectStore } from "./local-object-store.js";
import { redisGlob } from "./redis-glob.js";
import { StoreList } from "./store-list.js";

/** Expired keys that nobody reads again are swept on writes at most this often. */
export const SWEEP_INTERVAL_MS = 10_000;
/** Longest single timer Node accepts (about 24.8 days); longer blocking waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Name of the store used when `[embedded] name` is not set. */
export const DEFAULT_STORE_NAME = "default";

/** A pending wait for a push onto one of some lists. */
export interface PushWait {
  /** True when a push woke it up, false after the timeout or {@link cancel}. */
  readonly promise: Promise<boolean>;
  cancel(): void;
}

/** One entry of {@link MemoryStore.clients} (what `CLIENT LIST` would show). */
export interface StoreClient {
  id: number;
  /** The client name ("" when unnamed). */
  name: string;
}

interface Subscription {
  match: (channel: string) => boolean;
  deliver: (channel: string, message: string) => void;
  queue: [string, string][];
  scheduled: boolean;
  active: boolean;
}

const registry = new Map<string, MemoryStore>();

export class MemoryStore {
  readonly name: string;

  readonly #strings = new Map<string, string>();
  readonly #lists = new Map<string, StoreList>();
  readonly #hashes = new Map<string, Map<string, string>>();
  readonly #sets = new Map<string, Set<string>>();
  /** Key → expiry time (epoch ms). */
  readonly #expires = new Map<string, number>();
  #lastSweep = Date.now();

  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #subscriptions = new Set<Subscription>();
  readonly #clients = new Map<number, string>();
  #nextClientId = 1;
  #objects: LocalObjectStore | undefined;

  constructor(name = DEFAULT_STORE_NAME) {
    this.name = name;
  }

  // ---- registry ---------------------------------------------------------------------------------

  /** The store registered under `name` in this process, created on first use. */
  static shared(name = DEFAULT_STORE_NAME): MemoryStore {
    let store = registry.get(name);
    if (store === undefined) {
      store = new MemoryStore(name);
      registry.set(name, store);
    }
    return store;
  }

  /** Removes a store from the registry (its data goes with it once no handle uses it). */
  static release(name: string): void {
    registry.delete(name);
  }

  /**
   * The pipeline's object store when none is configured: a temporary directory of this process,
   * created on first use and removed when the process exits.
   */
  get objects(): LocalObjectStore {
    this.#objects ??= LocalObjectStore.temporary(`karton-${this.name.replace(/[^A-Za-z0-9_-]/g, "_")}-`);
    return this.#objects;
  }

  // ---- keyspace -------------------------------------------------------------------------------------

  /** FLUSHDB: empties the keyspace (subscriptions, clients and waiters stay). */
  flush(): void {
    this.#strings.clear();
    this.#lists.clear();
    this.#hashes.clear();
    this.#sets.clear();
    this.#expires.clear();
  }

  /** Number of live keys of every type (DBSIZE). */
  size(): number {
    this.#sweep(true);
    return this.#strings.size + this.#lists.size + this.#hashes.size + this.#sets.size;
  }

  /** DEL: removes keys of any type; returns how many existed. */
  del(...keys: string[]): number {
    let n = 0;
    for (const key of keys) {
      if (this.exists(key)) n++;
      this.#evict(key);
    }
    return n;
  }

  /** EXISTS for one key of any type. */
  exists(key: string): boolean {
    this.#check(key);
    return this.#strings.has(key) || this.#lists.has(key) || this.#hashes.has(key) || this.#sets.has(key);
  }

  /** PEXPIRE: false when the key does not exist. */
  expire(key: string, ttlMs: number): boolean {
    if (!this.exists(key)) return false;
    this.#expires.set(key, Date.now() + Math.max(1, ttlMs));
    return true;
  }

  /** Milliseconds before the key expires; -1 without TTL, -2 when missing (PTTL). */
  ttl(key: string): number {
    if (!this.exists(key)) return -2;
    const at = this.#expires.get(key);
    return at === undefined ? -1 : Math.max(0, at - Date.now());
  }

  // ---- strings ------------------------------------------------------------------------------------

  get(key: string): string | null {
    this.#check(key);
    return this.#strings.get(key) ?? null;
  }

  /** SET (clears any previous TTL of the key, like Redis), with PX when `ttlMs` is given. */
  set(key: string, value: string, ttlMs?: number): void {
    this.#sweep();
    this.#check(key);
    this.#strings.set(key, value);
    if (ttlMs === undefined) this.#expires.delete(key);
    else this.#expires.set(key, Date.now() + Math.max(1, ttlMs));
  }

  /** Live string keys starting with `prefix`, in insertion order (a snapshot, like a full SCAN). */
  stringKeys(prefix: string): string[] {
    this.#sweep(true);
    const out: string[] = [];
    for (const key of this.#strings.keys()) if (key.startsWith(prefix)) out.push(key);
    return out;
  }

  // ---- lists --------------------------------------------------------------------------------------

  /** RPUSH; returns the new length. */
  rpush(key: string, ...values: string[]): number {
    if (values.length === 0) return this.llen(key);
    const list = this.#list(key, true);
    list.pushRight(...values);
    this.#notify(key);
    return list.length;
  }

  /** LPUSH of one value; returns the new length. */
  lpush(key: string, value: string): number {
    const list = this.#list(key, true);
    list.pushLeft(value);
    this.#notify(key);
    return list.length;
  }

  lpop(key: string): string | null {
    const list = this.#list(key, false);
    if (list === undefined) return null;
    const value = list.popLeft() ?? null;
    this.#dropIfEmpty(key, list);
    return value;
  }

  /** LMOVE source destination LEFT|RIGHT LEFT|RIGHT; null when the source is empty. */
  lmove(source: string, destination: string, from: "LEFT" | "RIGHT", to: "LEFT" | "RIGHT"): string | null {
    const src = this.#list(source, false);
    if (src === undefined) return null;
    const value = from === "LEFT" ? src.popLeft() : src.popRight();
    this.#dropIfEmpty(source, src);
    if (value === undefined) return null;
    const dst = this.#list(destination, true);
    if (to === "LEFT") dst.pushLeft(value);
    else dst.pushRight(value);
    this.#notify(destination);
    return value;
  }

  lrange(key: string, start = 0, stop = -1): string[] {
    return this.#list(key, false)?.range(start, stop) ?? [];
  }

  llen(key: string): number {
    return this.#list(key, false)?.length ?? 0;
  }

  /** LREM key 0 value: removes every occurrence; returns how many. */
  lrem(key: string, value: string): number {
    const list = this.#list(key, false);
    if (list === undefined) return 0;
    const n = list.remove(value);
    this.#dropIfEmpty(key, list);
    return n;
  }

  /** LPOS key value !== nil. */
  lcontains(key: string, value: string): boolean {
    return this.#list(key, false)?.includes(value) ?? false;
  }

  ltrim(key: string, start: number, stop: number): void {
    const list = this.#list(key, false);
    if (list === undefined) return;
    list.trim(start, stop);
    this.#dropIfEmpty(key, list);
  }

  #list(key: string, create: true): StoreList;
  #list(key: string, create: false): StoreList | undefined;
  #list(key: string, create: boolean): StoreList | undefined {
    this.#check(key);
    let list = this.#lists.get(key);
    if (list === undefined && create) {
      this.#sweep();
      list = new StoreList();
      this.#lists.set(key, list);
    }
    return list;
  }

  #dropIfEmpty(key: string, list: StoreList): void {
    if (list.length === 0) {
      this.#lists.delete(key);
      this.#expires.delete(key);
    }
  }

  // ---- hashes -------------------------------------------------------------------------------------

  hget(key: string, field: string): string | null {
    this.#check(key);
    return this.#hashes.get(key)?.get(field) ?? null;
  }

  /** HSET of one field; returns the previous value (null when new). */
  hset(key: string, field: string, value: string): string | null {
    const hash = this.#hash(key);
    const old = hash.get(field) ?? null;
    hash.set(field, value);
    return old;
  }

  /** HDEL; returns how many fields existed. */
  hdel(key: string, ...fields: string[]): number {
    this.#check(key);
    const hash = this.#hashes.get(key);
    if (hash === undefined) return 0;
    let n = 0;
    for (const field of fields) if (hash.delete(field)) n++;
    if (hash.size === 0) {
      this.#hashes.delete(key);
      this.#expires.delete(key);
    }
    return n;
  }

  /** HGETALL as [field, value] pairs, in insertion order. */
  hgetall(key: string): [string, string][] {
    this.#check(key);
    return [...(this.#hashes.get(key) ?? [])];
  }

  hkeys(key: string): string[] {
    this.#check(key);
    return [...(this.#hashes.get(key)?.keys() ?? [])];
  }

  /** HINCRBY; a field holding something else than an integer counts as 0 (Redis would refuse). */
  hincrby(key: string, field: string, by: number): number {
    const hash = this.#hash(key);
    const current = Number.parseInt(hash.get(field) ?? "0", 10);
    const next = (Number.isFinite(current) ? current : 0) + by;
    hash.set(field, String(next));
    return next;
  }

  #hash(key: string): Map<string, string> {
    this.#check(key);
    let hash = this.#hashes.get(key);
    if (hash === undefined) {
      this.#sweep();
      hash = new Map();
      this.#hashes.set(key, hash);
    }
    return hash;
  }

  // ---- sets ---------------------------------------------------------------------------------------

  /** SADD of one member; true when it was new. */
  sadd(key: string, member: string): boolean {
    this.#check(key);
    let set = this.#sets.get(key);
    if (set === undefined) {
      this.#sweep();
      set = new Set();
      this.#sets.set(key, set);
    }
    if (set.has(member)) return false;
    set.add(member);
    return true;
  }

  smembers(key: string): string[] {
    this.#check(key);
    return [...(this.#sets.get(key) ?? [])];
  }

  /** Live set keys starting with `prefix`, in insertion order (a snapshot, like a full SCAN). */
  setKeys(prefix: string): string[] {
    this.#sweep(true);
    const out: string[] = [];
    for (const key of this.#sets.keys()) if (key.startsWith(prefix)) out.push(key);
    return out;
  }

  // ---- expiry -------------------------------------------------------------------------------------

  /** Deletes `key` when its TTL has passed. */
  #check(key: string): void {
    const at = this.#expires.get(key);
    if (at !== undefined && at <= Date.now()) this.#evict(key);
  }

  #evict(key: string): void {
    this.#expires.delete(key);
    this.#strings.delete(key);
    this.#lists.delete(key);
    this.#hashes.delete(key);
    this.#sets.delete(key);
  }

  /** Removes every expired key (on writes at most every SWEEP_INTERVAL_MS, or now when `force`). */
  #sweep(force = false): void {
    const now = Date.now();
    if (!force && now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    for (const [key, at] of this.#expires) if (at <= now) this.#evict(key);
  }

  // ---- blocking pops ------------------------------------------------------------------------------

  /**
   * Waits until one of `keys` receives a push (RPUSH, LPUSH, LMOVE into it), at most `timeoutMs`.
   * The waiter only learns that something arrived; it takes it itself (and may find it already
   * taken by another waiter: then it waits again). The timer keeps the process alive while waiting,
   * as a blocked Redis connection would; {@link PushWait.cancel} releases it at once.
   */
  waitForPush(keys: readonly string[], timeoutMs: number): PushWait {
    let resolve!: (pushed: boolean) => void;
    const promise = new Promise<boolean>((r) => {
      resolve = r;
    });
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (pushed: boolean): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      for (const key of keys) {
        const set = this.#waiters.get(key);
        if (set === undefined) continue;
        set.delete(wake);
        if (set.size === 0) this.#waiters.delete(key);
      }
      resolve(pushed);
    };
    const wake = (): void => finish(true);
    for (const key of keys) {
      let set = this.#waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(key, set);
      }
      set.add(wake);
    }
    const deadline = Date.now() + Math.max(0, timeoutMs);
    const arm = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) finish(false);
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    return { promise, cancel: () => finish(false) };
  }

  /** Number of pending waits (tests, diagnostics). */
  get waiting(): number {
    const all = new Set<() => void>();
    for (const set of this.#waiters.values()) for (const w of set) all.add(w);
    return all.size;
  }

  #notify(key: string): void {
    const set = this.#waiters.get(key);
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  // ---- pub/sub --------------------------------------------------------------------------------------

  /**
   * PSUBSCRIBE `pattern` (Redis glob). Messages are delivered asynchronously (never inside
   * `publish`), in publication order; `deliver` must not throw. Returns the unsubscribe function.
   */
  psubscribe(pattern: string, deliver: (channel: string, message: string) => void): () => void {
    const sub: Subscription = {
      match: redisGlob(pattern),
      deliver,
      queue: [],
      scheduled: false,
      active: true,
    };
    this.#subscriptions.add(sub);
    return () => {
      sub.active = false;
      sub.queue.length = 0;
      this.#subscriptions.delete(sub);
    };
  }

  /** PUBLISH: returns the number of subscriptions the message was queued for. */
  publish(channel: string, message: string): number {
    let n = 0;
    for (const sub of this.#subscriptions) {
      if (!sub.match(channel)) continue;
      n++;
      sub.queue.push([channel, message]);
      if (!sub.scheduled) {
        sub.scheduled = true;
        setImmediate(() => flush(sub));
      }
    }
    return n;
  }

  /** Number of active pattern subscriptions (PUBSUB NUMPAT). */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  // ---- clients ------------------------------------------------------------------------------------

  /** Registers a connection named `name` ("" = unnamed); returns its id. */
  connect(name: string): number {
    const id = this.#nextClientId++;
    this.#clients.set(id, name);
    return id;
  }

  disconnect(id: number): void {
    this.#clients.delete(id);
  }

  /** The connected clients, oldest first (CLIENT LIST). */
  clients(): StoreClient[] {
    return [...this.#clients].map(([id, name]) => ({ id, name }));
  }
}

function flush(sub: Subscription): void {
  sub.scheduled = false;
  const batch = sub.queue.splice(0);
  for (const [channel, message] of batch) {
    if (!sub.active) return;
    sub.deliver(channel, message);
  }
}

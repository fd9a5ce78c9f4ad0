/**
 * The embedded backend: every {@link KartonBackend} operation on an in-process {@link MemoryStore}
 * plus a local-directory object store, for running a whole pipeline (karton-system router and GC,
 * consumers, producers, log consumers) in one Node process with no Redis and no S3.
 *
 * It mirrors the Redis backend operation by operation, over the same key names (../redis/keys.ts):
 * one operation — including what the Redis backend does in a Lua script or MULTI — is one
 * synchronous step on the store, hence atomic. Every operation first yields to the event loop (as a
 * network round trip would), so callers see the same asynchrony as with Redis. Task documents are
 * stored as their serialised text and parsed on every read.
 *
 * Blocking operations (`claimTask`, `takeUnrouted`) wait for a push notification of the store, up
 * to their block time; no polling. While a handle waits or holds a log subscription it keeps the
 * process alive, like an open Redis connection; {@link MemoryBackend.close} ends the waits (they
 * return null / []) and the subscriptions, after which the handle holds no timer.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { type Bind, parseBind, serializeBind } from "../../bind/bind.js";
import type { JsonObject } from "../../json/values.js";
import { type ParseTaskOptions, parseTask, serializeTask } from "../../task/document.js";
import { TaskState } from "../../task/enums.js";
import { nowSeconds, type Task } from "../../task/task.js";
import type { AbandonedClaims, BindsSnapshot, InstanceKind, KartonBackend } from "../backend.js";
import { decodeLogBody, decodeQuarantine, documentHasRoot, encodeQuarantine } from "../codec.js";
import {
  ALL_METRICS,
  ATTEMPTS_KEY,
  aliveKey,
  BINDS_KEY,
  claimsKey,
  consumerQueueKeys,
  INSTANCES_KEY,
  LEGACY_OPERATIONS_KEY,
  LEGACY_OPERATIONS_LOG_CHANNEL,
  logChannel,
  logPattern,
  metricsKey,
  OUTPUTS_KEY_PREFIX,
  outputsKey,
  parseOutputMembers,
  QUARANTINE_KEY,
  QUARANTINE_MAX_RECORDS,
  queueKey,
  routingKey,
  TASK_KEY_PREFIX,
  taskKey,
  UNROUTED_TASKS_KEY,
} from "../redis/keys.js";
import {
  KartonMetric,
  type LogMessage,
  type LogSubscription,
  type ObjectStore,
  type OnlineClient,
  type QuarantineRecord,
  type RawTask,
  type RoutePlan,
} from "../types.js";
import { MemoryStore, type PushWait } from "./memory-store.js";

/** Keys per chunk of bulk reads and deletions (as the Redis backend's MGET/DEL). */
const CHUNK = 1000;
/** Quarantine records keep at most this many characters of the offending value. */
/** A subscription keeps the process alive with a timer of this period (it never does anything). */
const KEEP_ALIVE_MS = 2 ** 30;

/** Severity of a backend event reported to the caller's logger. */
export type MemoryBackendEventLevel = "debug" | "info" | "warning" | "error";
/** Receives backend warnings (e.g. a claim made before the first heartbeat). Must not throw. */
export type MemoryBackendEventHandler = (level: MemoryBackendEventLevel, message: string) => void;

export interface MemoryBackendOptions {
  /**
   * The store, or the name of a store of the process-wide registry ({@link MemoryStore.shared},
   * `[embedded] name`). Default: the registry's `"default"` store.
   */
  store?: MemoryStore | string;
  /** Object store. Default: the store's own (a temporary directory of this process). */
  objects?: ObjectStore;
  /** Default bucket for resources and the GC. */
  defaultBucket?: string;
  /** Create the default bucket when missing, on {@link MemoryBackend.ping} (default false). */
  createDefaultBucket?: boolean;
  /**
   * Name of this handle's "connection" as {@link MemoryBackend.onlineClients} lists it: the
   * identity or its extended form (`identity?karton_version=…`). Undefined or empty = unnamed.
   */
  clientName?: string;
  onEvent?: MemoryBackendEventHandler;
  /** Fixed instance id (tests); default a random uuid. */
  instanceId?: string;
}

interface Registration {
  kind: InstanceKind;
  identity: string;
  host: string;
  pid: number;
  started: number;
}

export class MemoryBackend implements KartonBackend {
  readonly instanceId: string;
  readonly objects: ObjectStore;
  readonly defaultBucket: string | undefined;
  /** The shared store this handle works on. */
  readonly store: MemoryStore;

  readonly #onEvent: MemoryBackendEventHandler;
  readonly #clientName: string;
  readonly #createDefaultBucket: boolean;
  readonly #started = nowSeconds();
  #clientId: number | null = null;
  #closed = false;
  #registration: Registration | null = null;
  #warnedUnregistered = false;
  readonly #waits = new Set<PushWait>();
  readonly #subscriptions = new Set<LogSubscription>();

  constructor(options: MemoryBackendOptions = {}) {
    this.store =
      options.store instanceof MemoryStore ? options.store : MemoryStore.shared(options.store ?? undefined);
    this.instanceId = options.instanceId ?? randomUUID();
    this.objects = options.objects ?? this.store.objects;
    this.defaultBucket = options.defaultBucket || undefined;
    this.#createDefaultBucket = options.createDefaultBucket ?? false;
    this.#clientName = options.clientName || "";
    this.#onEvent = options.onEvent ?? (() => {});
  }

  #event(level: MemoryBackendEventLevel, message: string): void {
    try {
      this.#onEvent(level, message);
    } catch {
      // ignore logger failures
    }
  }

  /**
   * Runs one atomic step on the store after yielding to the event loop (like a round trip to
   * Redis). The handle "connects" (appears in onlineClients) on its first operation, as a lazy
   * Redis connection does.
   */
  async #op<T>(operation: string, step: () => T): Promise<T> {
    this.#assertOpen(operation);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#assertOpen(operation);
    if (this.#clientId === null) this.#clientId = this.store.connect(this.#clientName);
    return step();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new Error(`embedded store ${operation}: the backend is closed`);
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  async ping(): Promise<void> {
    await this.#op("PING", () => undefined);
    if (this.#createDefaultBucket && this.defaultBucket !== undefined) {
      if (!(await this.objects.bucketExists(this.defaultBucket))) {
        await this.objects.createBucket(this.defaultBucket);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wait of this.#waits) wait.cancel();
    this.#waits.clear();
    await Promise.all([...this.#subscriptions].map((sub) => sub.close()));
    if (this.#clientId !== null) this.store.disconnect(this.#clientId);
    this.#clientId = null;
    (this.objects as { close?: () => void }).close?.();
  }

  // ---- task documents ---------------------------------------------------------------------------

  async getTask(uid: string, options?: ParseTaskOptions): Promise<Task | null> {
    const raw = await this.#op(`GET ${taskKey(uid)}`, () => this.store.get(taskKey(uid)));
    if (raw === null) return null;
    return parseTask(raw, { storage: this.objects, ...options });
  }

  async getRawTasks(uids: string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < uids.length; i += CHUNK) {
      const chunk = uids.slice(i, i + CHUNK);
      out.push(
        ...(await this.#op("MGET of task documents", () => chunk.map((uid) => this.store.get(taskKey(uid))))),
      );
    }
    if (uids.length === 0) await this.#op("MGET of task documents", () => undefined);
    return out;
  }

  async saveTasks(tasks: Task[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const docs = tasks.slice(i, i + CHUNK).map((task) => [taskKey(task.uid), serializeTask(task)] as const);
      await this.#op("MSET of task documents", () => {
        for (const [key, doc] of docs) this.store.set(key, doc);
      });
    }
  }

  async setTaskStatus(task: Task, status: TaskState): Promise<void> {
    if (task.status === status) return;
    task.setStatus(status);
    const doc = serializeTask(task);
    await this.#op(`SET ${taskKey(task.uid)}`, () => this.store.set(taskKey(task.uid), doc));
  }

  async *scanTasks(options: { rootUid?: string; chunkSize?: number } = {}): AsyncIterable<RawTask[]> {
    const chunkSize = Math.max(1, options.chunkSize ?? CHUNK);
    const root = options.rootUid;
    const treePrefix = root === undefined ? "" : `${TASK_KEY_PREFIX}{${root}}:`;
    // New-style keys of the tree are selected by name; legacy (bare uid) keys by their document.
    const keys = (
      await this.#op("SCAN of task documents", () => this.store.stringKeys(TASK_KEY_PREFIX))
    ).filter(
      (key) =>
        root === undefined ||
        key.startsWith(treePrefix) ||
        (key.length > TASK_KEY_PREFIX.length && key[TASK_KEY_PREFIX.length] !== "{"),
    );
    for (let i = 0; i < keys.length; i += chunkSize) {
      const batch = keys.slice(i, i + chunkSize);
      const values = await this.#op("MGET of task documents", () => batch.map((key) => this.store.get(key)));
      const chunk: RawTask[] = [];
      batch.forEach((key, j) => {
        const raw = values[j];
        if (raw === null || raw === undefined) return;
        if (root !== undefined && !key.startsWith(treePrefix) && !documentHasRoot(raw, root)) return;
        chunk.push({ uid: key.slice(TASK_KEY_PREFIX.length), raw });
      });
      if (chunk.length > 0) yield chunk;
    }
  }

  async deleteTasks(uids: string[]): Promise<void> {
    for (let i = 0; i < uids.length; i += CHUNK) {
      const keys = uids.slice(i, i + CHUNK).map(taskKey);
      await this.#op("DEL of task documents", () => this.store.del(...keys));
    }
  }

  // ---- producer ---------------------------------------------------------------------------------

  async declareTask(task: Task): Promise<void> {
    const doc = serializeTask(task);
    await this.#op(`SET ${taskKey(task.uid)}`, () => this.store.set(taskKey(task.uid), doc));
  }

  async enqueueUnrouted(task: Task, identity: string): Promise<void> {
    await this.#op(`RPUSH ${UNROUTED_TASKS_KEY}`, () => {
      this.store.rpush(UNROUTED_TASKS_KEY, task.uid);
      this.store.hincrby(metricsKey(KartonMetric.Produced), identity, 1);
    });
  }

  // ---- binds ------------------------------------------------------------------------------------

  async registerBind(bind: Bind): Promise<Bind | null> {
    const value = serializeBind(bind);
    const old = await this.#op(`HSET ${BINDS_KEY}`, () => this.store.hset(BINDS_KEY, bind.identity, value));
    if (old === null) return null;
    try {
      return parseBind(bind.identity, old);
    } catch (err) {
      this.#event("warning", `previous bind of "${bind.identity}" was unreadable: ${(err as Error).message}`);
      return null;
    }
  }

  async getBind(identity: string): Promise<Bind | null> {
    const raw = await this.#op(`HGET ${BINDS_KEY}`, () => this.store.hget(BINDS_KEY, identity));
    return raw === null ? null : parseBind(identity, raw);
  }

  async getBinds(): Promise<BindsSnapshot> {
    const pairs = await this.#op(`HGETALL ${BINDS_KEY}`, () => this.store.hgetall(BINDS_KEY));
    const snapshot: BindsSnapshot = { binds: [], invalid: [] };
    for (const [identity, raw] of pairs) {
      try {
        snapshot.binds.push(parseBind(identity, raw));
      } catch (err) {
        snapshot.invalid.push({ identity, raw, reason: (err as Error).message });
      }
    }
    return snapshot;
  }

  async dropConsumer(identity: string): Promise<void> {
    await this.#op(`HDEL ${BINDS_KEY} + DEL of the queues of ${identity}`, () => {
      this.store.hdel(BINDS_KEY, identity);
      this.store.del(...consumerQueueKeys(identity));
    });
  }

  // ---- consumer ---------------------------------------------------------------------------------

  async claimTask(identity: string, blockSeconds: number): Promise<string | null> {
    const queues = consumerQueueKeys(identity);
    const claims = claimsKey(this.instanceId);
    const claimNow = (): string | null => {
      for (const queue of queues) {
        const uid = this.store.lmove(queue, claims, "LEFT", "RIGHT");
        if (uid !== null) return uid;
      }
      return null;
    };
    const deadline = Date.now() + Math.max(0, blockSeconds) * 1000;
    // The wait is registered in the same atomic step as the failed attempt, so no push can slip in
    // between; on wake-up the uid is taken synchronously, before anything else runs.
    let wait: PushWait | null = null;
    const attempt = (): string | null => {
      const uid = claimNow();
      if (uid === null) wait = this.#startWait(queues, deadline);
      return uid;
    };
    let uid = await this.#op(`claim for ${identity}`, () => {
      this.#ensureRegistered("consumer", identity);
      return attempt();
    });
    while (uid === null && wait !== null) {
      await this.#endWait(wait);
      wait = null;
      if (this.#closed) return null;
      uid = attempt();
    }
    return uid;
  }

  /** Starts waiting for a push onto `keys` until `deadline`; null when the deadline has passed. */
  #startWait(keys: readonly string[], deadline: number): PushWait | null {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || this.#closed) return null;
    const wait = this.store.waitForPush(keys, remaining);
    this.#waits.add(wait);
    return wait;
  }

  async #endWait(wait: PushWait): Promise<void> {
    try {
      await wait.promise;
    } finally {
      this.#waits.delete(wait);
    }
  }

  async completeClaimed(task: Task, identity: string, metrics: KartonMetric[]): Promise<void> {
    const doc = serializeTask(task);
    await this.#op(`completion of ${task.uid}`, () => {
      this.store.set(taskKey(task.uid), doc);
      const removed = this.store.lrem(claimsKey(this.instanceId), task.uid);
      this.store.hdel(ATTEMPTS_KEY, task.uid);
      // Counted only when this call released the claim (as the Redis script does).
      if (removed > 0) for (const metric of metrics) this.store.hincrby(metricsKey(metric), identity, 1);
    });
  }

  async handBackClaimed(task: Task, identity: string): Promise<void> {
    const doc = serializeTask(task);
    const done = await this.#op(`hand-back of ${task.uid}`, () => {
      if (this.store.lrem(claimsKey(this.instanceId), task.uid) === 0) return false;
      this.store.set(taskKey(task.uid), doc);
      this.store.lpush(queueKey(task.priority, identity), task.uid);
      return true;
    });
    if (!done) this.#event("warning", `claim of ${task.uid} was already gone; not handed back`);
  }

  async dropClaim(uid: string): Promise<void> {
    await this.#op(`release of claim ${uid}`, () => {
      this.store.lrem(claimsKey(this.instanceId), uid);
      this.store.hdel(ATTEMPTS_KEY, uid);
    });
  }

  async heartbeat(kind: InstanceKind, identity: string, ttlSeconds: number): Promise<void> {
    const registration = this.#newRegistration(kind, identity);
    const json = JSON.stringify(registration);
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
    await this.#op("heartbeat", () => {
      this.store.set(aliveKey(this.instanceId), json, ttlMs);
      this.store.hset(INSTANCES_KEY, this.instanceId, json);
    });
    this.#registration = registration;
  }

  #newRegistration(kind: InstanceKind, identity: string): Registration {
    return { kind, identity, host: hostname(), pid: process.pid, started: this.#started };
  }

  /**
   * Claims must always be attributable: when a caller claims before its first heartbeat, the
   * instance is registered (without a heartbeat, so a crash is recovered right away) and a warning
   * is reported once. Runs inside an atomic step.
   */
  #ensureRegistered(kind: InstanceKind, identity: string): void {
    if (this.#registration !== null) return;
    const registration = this.#newRegistration(kind, identity);
    this.store.hset(INSTANCES_KEY, this.instanceId, JSON.stringify(registration));
    this.#registration = registration;
    if (!this.#warnedUnregistered) {
      this.#warnedUnregistered = true;
      this.#event(
        "warning",
        `${kind} ${identity || "(anonymous)"} takes tasks before its first heartbeat(); ` +
          "another process may recover them as abandoned",
      );
    }
  }

  async retireInstance(): Promise<void> {
    const id = this.instanceId;
    const forgotten = await this.#op("instance retirement", () => this.#forget(id, true));
    if (!forgotten) {
      this.#event("warning", `instance ${id} retired with tasks still claimed; they will be recovered`);
    }
    this.#registration = null;
  }

  /** Forgets an instance unless it still holds claims (the forgetInstance script). */
  #forget(instanceId: string, dropHeartbeat: boolean): boolean {
    if (dropHeartbeat) this.store.del(aliveKey(instanceId));
    if (this.store.llen(claimsKey(instanceId)) > 0 || this.store.llen(routingKey(instanceId)) > 0)
      return false;
    this.store.hdel(INSTANCES_KEY, instanceId);
    return true;
  }

  // ---- router -----------------------------------------------------------------------------------

  async takeUnrouted(max: number, blockSeconds: number): Promise<string[]> {
    if (max < 1) return [];
    const routing = routingKey(this.instanceId);
    const takeNow = (): string[] => {
      const moved: string[] = [];
      while (moved.length < max) {
        const uid = this.store.lmove(UNROUTED_TASKS_KEY, routing, "LEFT", "RIGHT");
        if (uid === null) break;
        moved.push(uid);
      }
      return moved;
    };
    const deadline = Date.now() + Math.max(0, blockSeconds) * 1000;
    let wait: PushWait | null = null;
    const attempt = (): string[] => {
      const taken = takeNow();
      if (taken.length === 0) wait = this.#startWait([UNROUTED_TASKS_KEY], deadline);
      return taken;
    };
    let taken = await this.#op(`take from ${UNROUTED_TASKS_KEY}`, () => {
      // Uids still in the routing list belong to a batch that was not applied: handed out again first.
      const leftover = this.store.lrange(routing);
      if (leftover.length > 0) return leftover;
      this.#ensureRegistered("router", "karton.system");
      return attempt();
    });
    while (taken.length === 0 && wait !== null) {
      await this.#endWait(wait);
      wait = null;
      if (this.#closed) return [];
      taken = attempt();
    }
    return taken;
  }

  async applyRoutePlan(plan: RoutePlan): Promise<void> {
    const forks = plan.forks.map((fork) => ({
      key: taskKey(fork.task.uid),
      doc: serializeTask(fork.task),
      queue: queueKey(fork.priority, fork.identity),
      uid: fork.task.uid,
      identity: fork.identity,
    }));
    const finished = plan.finished.map((task) => [taskKey(task.uid), serializeTask(task)] as const);
    const quarantined = plan.quarantined.map(encodeQuarantine);
    const ttlMs = plan.outputsTtl === null ? null : Math.max(1, Math.round(plan.outputsTtl)) * 1000;
    const routing = routingKey(this.instanceId);
    const applied = await this.#op("routing batch", () => {
      // Applied once: when none of the taken uids is still in the routing list, the batch was
      // applied already (a retry) or handed back by a recoverer.
      if (plan.taken.length > 0 && !plan.taken.some((uid) => this.store.lcontains(routing, uid)))
        return false;
      if (ttlMs !== null) {
        for (const output of plan.outputs) {
          const key = outputsKey(output.origin);
          this.store.sadd(key, output.member);
          this.store.expire(key, ttlMs);
        }
      }
      for (const fork of forks) {
        this.store.set(fork.key, fork.doc);
        this.store.rpush(fork.queue, fork.uid);
        this.store.hincrby(metricsKey(KartonMetric.Assigned), fork.identity, 1);
      }
      for (const [key, doc] of finished) this.store.set(key, doc);
      if (quarantined.length > 0) {
        this.store.rpush(QUARANTINE_KEY, ...quarantined);
        this.store.ltrim(QUARANTINE_KEY, -QUARANTINE_MAX_RECORDS, -1);
      }
      for (const uid of plan.taken) this.store.lrem(routing, uid);
      return true;
    });
    if (!applied) {
      this.#event(
        "warning",
        `routing batch of ${plan.taken.length} task(s) was already applied or handed back`,
      );
    }
  }

  async takeLegacyOperations(max: number): Promise<string[]> {
    if (max < 1) return [];
    return await this.#op(`LRANGE/LTRIM ${LEGACY_OPERATIONS_KEY}`, () => {
      const bodies = this.store.lrange(LEGACY_OPERATIONS_KEY, 0, max - 1);
      this.store.ltrim(LEGACY_OPERATIONS_KEY, max, -1);
      return bodies;
    });
  }

  async publishLegacyOperations(bodies: string[]): Promise<void> {
    if (bodies.length === 0) return;
    await this.#op(`PUBLISH ${LEGACY_OPERATIONS_LOG_CHANNEL}`, () => {
      for (const body of bodies) this.store.publish(LEGACY_OPERATIONS_LOG_CHANNEL, body);
    });
  }

  // ---- recovery ---------------------------------------------------------------------------------

  async abandonedClaims(): Promise<AbandonedClaims[]> {
    const found = await this.#op("abandoned claims", () => {
      const out: { instanceId: string; raw: string; claims: string[]; routing: string[] }[] = [];
      for (const [instanceId, raw] of this.store.hgetall(INSTANCES_KEY)) {
        if (instanceId === this.instanceId || this.store.exists(aliveKey(instanceId))) continue;
        const claims = this.store.lrange(claimsKey(instanceId));
        const routing = this.store.lrange(routingKey(instanceId));
        if (claims.length === 0 && routing.length === 0) {
          // Nothing to recover: forget it right away.
          this.#forget(instanceId, false);
          continue;
        }
        out.push({ instanceId, raw, claims, routing });
      }
      return out;
    });
    return found.map(({ instanceId, raw, claims, routing }) => {
      let kind: InstanceKind = routing.length > 0 && claims.length === 0 ? "router" : "consumer";
      let identity = "";
      try {
        const reg = JSON.parse(raw) as Partial<Registration>;
        if (reg.kind === "router" || reg.kind === "consumer") kind = reg.kind;
        if (typeof reg.identity === "string") identity = reg.identity;
      } catch {
        this.#event("warning", `unreadable registration of instance ${instanceId}: ${raw.slice(0, 200)}`);
      }
      const uids = kind === "router" ? routing : claims;
      return { instanceId, kind, identity, uids: uids.length > 0 ? uids : [...claims, ...routing] };
    });
  }

  async requeueAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean> {
    const doc = serializeTask(task);
    return await this.#op(`requeue of ${task.uid}`, () => {
      if (this.store.lrem(claimsKey(instanceId), task.uid) === 0) return false;
      this.store.set(taskKey(task.uid), doc);
      this.store.rpush(queueKey(task.priority, identity), task.uid);
      this.store.hincrby(ATTEMPTS_KEY, task.uid, 1);
      return true;
    });
  }

  async crashAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean> {
    const doc = serializeTask(task);
    return await this.#op(`crash of abandoned ${task.uid}`, () => {
      if (this.store.lrem(claimsKey(instanceId), task.uid) === 0) return false;
      this.store.set(taskKey(task.uid), doc);
      this.store.hincrby(metricsKey(KartonMetric.Crashed), identity, 1);
      this.store.hdel(ATTEMPTS_KEY, task.uid);
      return true;
    });
  }

  async forgetAbandoned(instanceId: string, uid: string): Promise<void> {
    await this.#op(`release of abandoned claim ${uid}`, () => {
      this.store.lrem(claimsKey(instanceId), uid);
      this.store.hdel(ATTEMPTS_KEY, uid);
    });
  }

  async returnAbandonedUnrouted(instanceId: string): Promise<number> {
    return await this.#op("return of an abandoned routing batch", () => {
      const routing = routingKey(instanceId);
      let n = 0;
      while (this.store.lmove(routing, UNROUTED_TASKS_KEY, "RIGHT", "LEFT") !== null) n++;
      this.store.del(routing);
      return n;
    });
  }

  async forgetInstance(instanceId: string): Promise<void> {
    await this.#op(`forget instance ${instanceId}`, () => this.#forget(instanceId, false));
  }

  async getAttempts(uid: string): Promise<number> {
    const n = await this.#op(`HGET ${ATTEMPTS_KEY}`, () => this.store.hget(ATTEMPTS_KEY, uid));
    return n === null ? 0 : Number(n);
  }

  // ---- garbage collector ------------------------------------------------------------------------

  async unroutedSnapshot(): Promise<Set<string>> {
    return await this.#op(`LRANGE ${UNROUTED_TASKS_KEY}`, () => {
      const out = new Set(this.store.lrange(UNROUTED_TASKS_KEY));
      for (const id of this.store.hkeys(INSTANCES_KEY)) {
        for (const uid of this.store.lrange(routingKey(id))) out.add(uid);
      }
      return out;
    });
  }

  async onlineClients(): Promise<OnlineClient[]> {
    const clients = await this.#op("CLIENT LIST", () => this.store.clients());
    return clients.map(({ name }) => {
      const q = name.indexOf("?");
      const params: Record<string, string> = {};
      if (q >= 0) {
        for (const [key, value] of new URLSearchParams(name.slice(q + 1))) {
          if (!Object.hasOwn(params, key)) params[key] = value;
        }
      }
      return { identity: q < 0 ? name : name.slice(0, q), name, params };
    });
  }

  async collectTasks(tasks: { uid: string; receiver: string | null }[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const chunk = tasks.slice(i, i + CHUNK);
      await this.#op("collection of task documents", () => {
        for (const t of chunk) {
          this.store.del(taskKey(t.uid));
          this.store.hincrby(metricsKey(KartonMetric.GarbageCollected), t.receiver ?? "unknown", 1);
          this.store.hdel(ATTEMPTS_KEY, t.uid);
        }
      });
    }
  }

  // ---- operator actions -------------------------------------------------------------------------

  async restartTask(fork: Task, old: Task): Promise<void> {
    const receiver = fork.headers.receiver;
    if (typeof receiver !== "string" || receiver === "") {
      throw new Error(`cannot restart ${old.uid}: the new task has no "receiver" header`);
    }
    if (old.status !== TaskState.Finished) old.setStatus(TaskState.Finished);
    const forkDoc = serializeTask(fork);
    const oldDoc = serializeTask(old);
    await this.#op(`restart of ${old.uid}`, () => {
      this.store.set(taskKey(fork.uid), forkDoc);
      this.store.rpush(queueKey(fork.priority, receiver), fork.uid);
      this.store.set(taskKey(old.uid), oldDoc);
    });
  }

  async queueLengths(identity: string): Promise<{ bare: number; high: number; normal: number; low: number }> {
    const [bare, high, normal, low] = await this.#op(`LLEN of the queues of ${identity}`, () =>
      consumerQueueKeys(identity).map((key) => this.store.llen(key)),
    );
    return { bare: bare ?? 0, high: high ?? 0, normal: normal ?? 0, low: low ?? 0 };
  }

  async getOutputs(): Promise<Map<string, JsonObject[]>> {
    const sets = await this.#op("SCAN of karton.outputs:*", () =>
      this.store.setKeys(OUTPUTS_KEY_PREFIX).map((key) => [key, this.store.smembers(key)] as const),
    );
    const out = new Map<string, JsonObject[]>();
    for (const [key, members] of sets)
      out.set(key.slice(OUTPUTS_KEY_PREFIX.length), parseOutputMembers(members));
    return out;
  }

  // ---- quarantine -------------------------------------------------------------------------------

  async quarantine(records: QuarantineRecord[]): Promise<void> {
    if (records.length === 0) return;
    const encoded = records.map(encodeQuarantine);
    await this.#op(`RPUSH ${QUARANTINE_KEY}`, () => {
      this.store.rpush(QUARANTINE_KEY, ...encoded);
      this.store.ltrim(QUARANTINE_KEY, -QUARANTINE_MAX_RECORDS, -1);
    });
  }

  /** The newest `limit` records (default 100), newest first. */
  async listQuarantine(limit = 100): Promise<QuarantineRecord[]> {
    if (limit < 1) return [];
    const raws = await this.#op(`LRANGE ${QUARANTINE_KEY}`, () =>
      this.store.lrange(QUARANTINE_KEY, -limit, -1),
    );
    return decodeQuarantine(raws.reverse());
  }

  // ---- metrics ----------------------------------------------------------------------------------

  async incrementMetrics(metric: KartonMetric, identities: string[]): Promise<void> {
    if (identities.length === 0) return;
    const key = metricsKey(metric);
    await this.#op(`HINCRBY ${key}`, () => {
      for (const identity of identities) this.store.hincrby(key, identity, 1);
    });
  }

  async getMetrics(): Promise<Record<KartonMetric, Record<string, number>>> {
    const hashes = await this.#op("HGETALL of karton.metrics.*", () =>
      ALL_METRICS.map((metric) => this.store.hgetall(metricsKey(metric))),
    );
    const out = {} as Record<KartonMetric, Record<string, number>>;
    ALL_METRICS.forEach((metric, i) => {
      const values: Record<string, number> = {};
      for (const [field, value] of hashes[i] ?? []) values[field] = Number(value);
      out[metric] = values;
    });
    return out;
  }

  // ---- logs -------------------------------------------------------------------------------------

  async publishLog(level: string, identity: string, body: string): Promise<number> {
    const channel = logChannel(level, identity);
    return await this.#op(`PUBLISH ${channel}`, () => this.store.publish(channel, body));
  }

  async subscribeLogs(
    filter: { level?: string; identity?: string },
    onMessage: (message: LogMessage) => void,
    options: { clientName?: string } = {},
  ): Promise<LogSubscription> {
    const pattern = logPattern(filter);
    const { clientId, unsubscribe } = await this.#op(`PSUBSCRIBE ${pattern}`, () => ({
      // A subscription is a connection of its own, named when the caller names it (spec §1.3).
      clientId: this.store.connect(options.clientName || ""),
      unsubscribe: this.store.psubscribe(pattern, (channel, message) => {
        const body = decodeLogBody(message);
        if (body === null) {
          this.#event("warning", `unreadable log message on ${channel}: ${message.slice(0, 200)}`);
          return;
        }
        try {
          onMessage({ channel, body });
        } catch (err) {
          this.#event("error", `log handler failed: ${(err as Error).message}`);
        }
      }),
    }));
    // Like an open subscriber connection, a subscription keeps the process alive until closed.
    const keepAlive = setInterval(() => {}, KEEP_ALIVE_MS);
    let closed = false;
    const subscription: LogSubscription = {
      close: async () => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        unsubscribe();
        this.store.disconnect(clientId);
        this.#subscriptions.delete(subscription);
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }
}

import type { Bind } from "../bind/bind.js";
import type { JsonObject } from "../json/values.js";
import type { ParseTaskOptions } from "../task/document.js";
import type { TaskState } from "../task/enums.js";
import type { Task } from "../task/task.js";
import type {
  KartonMetric,
  LogMessage,
  LogSubscription,
  ObjectStore,
  OnlineClient,
  QuarantineRecord,
  RawTask,
  RoutePlan,
} from "./types.js";

/** What kind of process holds claims; decides how its abandoned claims are recovered. */
export type InstanceKind = "consumer" | "router";

/** Tasks claimed by a process whose heartbeat expired (it died without releasing them). */
export interface AbandonedClaims {
  instanceId: string;
  kind: InstanceKind;
  /** Identity of the dead instance (consumer identity, or the router's). */
  identity: string;
  uids: string[];
}

/** Binds as read from the store: the readable ones, and the ones set aside with the reason. */
export interface BindsSnapshot {
  binds: Bind[];
  invalid: { identity: string; raw: string; reason: string }[];
}

/** One routing batch as read from the store (see {@link KartonBackend.takeRoutingBatch}). */
export interface RoutingBatch {
  /** The uids taken (or still held from a batch that was not applied), in order. */
  taken: string[];
  /** The documents of `taken`, in the same order; null where a document is missing. */
  raws: (string | null)[];
  binds: BindsSnapshot;
}

/** What {@link KartonBackend.claimWithBind} found. */
export interface ClaimWithBindResult {
  /** The stored bind value of the identity; null when there is none. */
  bind: string | null;
  /**
   * The claimed tasks, in claim order: uid and raw document (null when the document is missing,
   * undefined when it could not be read: read it with {@link KartonBackend.getTask}). Empty when
   * nothing was claimed: the queues stayed empty, or the stored bind is not the expected value.
   */
  claimed: { uid: string; raw?: string | null }[];
}

/**
 * Everything Karton does to its storage, as named operations. Implemented by the Redis + S3
 * backend (production, wire-compatible with Python karton-core 5.x) and by the embedded backend
 * (in-process, no servers). Nothing above this layer builds a Redis key or calls a command.
 *
 * Instances: every backend object has a random `instanceId`. Consumers and routers keep claimed
 * uids in a per-instance list and refresh a heartbeat; when the heartbeat expires the broker
 * recovers those uids (see docs/reliability.md). Python components never see these extra keys.
 */
export interface KartonBackend {
  readonly instanceId: string;
  readonly objects: ObjectStore;
  /** Default bucket (`[s3] bucket`), if configured. */
  readonly defaultBucket: string | undefined;

  /** Resolves once the store answers (retrying with backoff); rejects with a clear error otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // ---- task documents -------------------------------------------------------------------------
  /** Null when there is no document; throws InvalidTaskError when it cannot be parsed. */
  getTask(uid: string, options?: ParseTaskOptions): Promise<Task | null>;
  getRawTasks(uids: string[]): Promise<(string | null)[]>;
  /** Writes whole documents (SET / MSET). */
  saveTasks(tasks: Task[]): Promise<void>;
  /** Sets status and last_update and writes the document; skipped when the status is unchanged. */
  setTaskStatus(task: Task, status: TaskState): Promise<void>;
  /**
   * Every task document, in chunks (SCAN + MGET), optionally only a `{root}` tree. A document is
   * yielded once, unless `unique: false`: then a document may (rarely, as Redis SCAN may return a key
   * twice) be yielded twice, and the scan keeps no memory of the keys it has seen (the garbage
   * collector's passes over millions of documents).
   */
  scanTasks(options?: { rootUid?: string; chunkSize?: number; unique?: boolean }): AsyncIterable<RawTask[]>;
  deleteTasks(uids: string[]): Promise<void>;

  // ---- producer -------------------------------------------------------------------------------
  /** Stores a new task document (status Declared) before its resources are uploaded. */
  declareTask(task: Task): Promise<void>;
  /** Queues a declared task for routing and counts it as produced by `identity`. */
  enqueueUnrouted(task: Task, identity: string): Promise<void>;

  // ---- binds ----------------------------------------------------------------------------------
  /** Registers (or replaces) a bind; returns the previous one (atomic read-and-write). */
  registerBind(bind: Bind): Promise<Bind | null>;
  /** Null when absent; throws InvalidBindError when unreadable. */
  getBind(identity: string): Promise<Bind | null>;
  getBinds(): Promise<BindsSnapshot>;
  /** Removes a consumer's bind and its four queues (GC of non-persistent consumers). */
  dropConsumer(identity: string): Promise<void>;

  // ---- consumer -------------------------------------------------------------------------------
  /**
   * Atomically takes the next task uid for `identity` (queues in priority order, legacy bare list
   * first) into this instance's claim list; waits up to `blockSeconds` when all are empty.
   */
  claimTask(identity: string, blockSeconds: number): Promise<string | null>;
  /**
   * A consumer's loop step in one go where the backend can (one round trip on Redis instead of
   * three): reads the stored bind value of `identity` ({@link getBind}); only when it is exactly
   * `expectedBind` (the value the consumer registered), claims up to `max` tasks like
   * {@link claimTask} (waiting up to `blockSeconds` for the first one) and reads their documents
   * ({@link getRawTasks}). Optional: consumers fall back to the separate calls.
   */
  claimWithBind?(
    identity: string,
    expectedBind: string,
    blockSeconds: number,
    max?: number,
  ): Promise<ClaimWithBindResult>;
  /**
   * Writes the final document of a claimed task and releases the claim in one atomic step;
   * `metrics` are incremented for `identity` in the same step, only when this call released the
   * claim (a retried or repeated completion writes the document again but never counts twice).
   */
  completeClaimed(task: Task, identity: string, metrics: KartonMetric[]): Promise<void>;
  /**
   * Gives a claimed task back (graceful shutdown before processing it): writes the document
   * (status Spawned), puts the uid back at the head of its queue and releases the claim, atomically.
   */
  handBackClaimed(task: Task, identity: string): Promise<void>;
  /** Releases a claim whose document is gone (nothing to write). */
  dropClaim(uid: string): Promise<void>;
  /** Marks this instance alive for `ttlSeconds` (call every ttl/3). */
  heartbeat(kind: InstanceKind, identity: string, ttlSeconds: number): Promise<void>;
  /** Removes this instance's heartbeat and registration (clean shutdown; claims must be empty). */
  retireInstance(): Promise<void>;

  // ---- router ---------------------------------------------------------------------------------
  /**
   * Atomically moves up to `max` uids from `karton.tasks` into this instance's routing list,
   * waiting up to `blockSeconds` for the first one.
   */
  takeUnrouted(max: number, blockSeconds: number): Promise<string[]>;
  /**
   * {@link takeUnrouted}, then {@link getRawTasks} of the taken uids and {@link getBinds}, in one step
   * (one round trip on Redis instead of three). Optional: a router falls back to the three calls.
   * The returned binds may be shared between calls: do not modify them.
   */
  takeRoutingBatch?(max: number, blockSeconds: number): Promise<RoutingBatch>;
  /** Applies one batch: forks, queues, metrics, outputs, originals Finished, claim released. */
  applyRoutePlan(plan: RoutePlan): Promise<void>;
  /** Legacy `karton.operations` bodies (≤ 4.3 clients), up to `max`, non-blocking. */
  takeLegacyOperations(max: number): Promise<string[]>;
  /** Publishes legacy operation bodies on `karton.log.info.karton.operations`. */
  publishLegacyOperations(bodies: string[]): Promise<void>;

  // ---- recovery (karton-ts extension) ---------------------------------------------------------
  abandonedClaims(): Promise<AbandonedClaims[]>;
  /**
   * Puts one abandoned consumer claim back into its queue with the given document (status
   * Spawned) and counts the attempt, in one atomic step; idempotent across concurrent
   * recoverers: returns false when another recoverer already did it.
   */
  requeueAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean>;
  /** Finishes an abandoned claim with the given (Crashed) document; idempotent like requeue. */
  crashAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean>;
  /** Drops an abandoned claim whose document is gone. */
  forgetAbandoned(instanceId: string, uid: string): Promise<void>;
  /** Returns a dead router's taken uids to the head of `karton.tasks`, in order. */
  returnAbandonedUnrouted(instanceId: string): Promise<number>;
  /** Removes a dead instance's registration once its claims are all recovered. */
  forgetInstance(instanceId: string): Promise<void>;
  /** How many times a task was recovered from dead consumers. */
  getAttempts(uid: string): Promise<number>;

  // ---- garbage collector ----------------------------------------------------------------------
  /** Uids not yet routed: `karton.tasks` plus every router's routing list. */
  unroutedSnapshot(): Promise<Set<string>>;
  onlineClients(): Promise<OnlineClient[]>;
  /** Deletes task documents (chunks of 1000) and counts them as garbage-collected per receiver. */
  collectTasks(tasks: { uid: string; receiver: string | null }[]): Promise<void>;

  // ---- operator actions (CLI, dashboard) ------------------------------------------------------
  /**
   * Restarts a routed task (spec §2.7 "Restart"): writes `fork` (status Spawned), pushes it to
   * `karton.queue.<priority>:<receiver>`, and writes `old` as Finished, in one pipeline.
   */
  restartTask(fork: Task, old: Task): Promise<void>;
  /** Lengths of a consumer's queues (bare legacy list and the three priorities). */
  queueLengths(identity: string): Promise<{ bare: number; high: number; normal: number; low: number }>;
  /**
   * Task tracking records (`karton.outputs:<origin>`, spec §5.4): for every producer identity, the
   * header sets of the tasks it sent that were routed. Members that are not JSON objects are skipped.
   */
  getOutputs(): Promise<Map<string, JsonObject[]>>;

  // ---- quarantine (karton-ts extension) -------------------------------------------------------
  quarantine(records: QuarantineRecord[]): Promise<void>;
  listQuarantine(limit?: number): Promise<QuarantineRecord[]>;

  // ---- metrics --------------------------------------------------------------------------------
  incrementMetrics(metric: KartonMetric, identities: string[]): Promise<void>;
  getMetrics(): Promise<Record<KartonMetric, Record<string, number>>>;

  // ---- logs -----------------------------------------------------------------------------------
  /** PUBLISH on `karton.log.<level>.<identity>`; returns the number of receivers. */
  publishLog(level: string, identity: string, body: string): Promise<number>;
  /**
   * PSUBSCRIBE `karton.log.<level or *>.<identity glob or *>` on a connection of its own, named
   * `options.clientName` when given (a log consumer's extended name, spec §1.3), else unnamed.
   */
  subscribeLogs(
    filter: { level?: string; identity?: string },
    onMessage: (message: LogMessage) => void,
    options?: { clientName?: string },
  ): Promise<LogSubscription>;
}

/**
 * The production backend: Redis (task documents, queues, binds, metrics, logs) plus an object store
 * (S3). Wire-compatible with Python karton-core 5.9.1: every command on a shared key is the one of
 * the wire-protocol spec; karton-ts bookkeeping (claims, routing batches, heartbeats, attempts,
 * quarantine) lives under `karton.ts.*` keys (see keys.ts and docs/adr/002-atomic-claims.md).
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { type Bind, parseBind, serializeBind } from "../../bind/bind.js";
import type { RedisOptions } from "../../config/options.js";
import { decodeUtf8Escaped } from "../../json/index.js";
import type { JsonObject } from "../../json/values.js";
import {
  type ParseTaskOptions,
  parseTask,
  serializeTask,
  type TaskDocumentParts,
  taskDocumentParts,
} from "../../task/document.js";
import { TaskState } from "../../task/enums.js";
import { nowSeconds, type Task } from "../../task/task.js";
import type {
  AbandonedClaims,
  BindsSnapshot,
  ClaimWithBindResult,
  InstanceKind,
  KartonBackend,
  RoutingBatch,
} from "../backend.js";
import { decodeLogBody, decodeQuarantine, documentHasRoot, encodeQuarantine } from "../codec.js";
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
import {
  BLOCKING_GRACE_MS,
  type ConnectionEventHandler,
  type ConnectionEventLevel,
  checkCredentials,
  createRedisConnection,
  describeRedisError,
  isAuthError,
  parseClientList,
  processInfo,
  RedisAuthError,
  type RedisTarget,
  reconnectDelay,
  resolveRedisTarget,
} from "./connection.js";
import {
  ALL_METRICS,
  ALL_TASKS_PATTERN,
  ATTEMPTS_KEY,
  aliveKey,
  BINDS_KEY,
  claimsKey,
  consumerQueueKeys,
  INSTANCES_KEY,
  LEGACY_OPERATIONS_KEY,
  LEGACY_OPERATIONS_LOG_CHANNEL,
  LEGACY_TASK_PATTERN,
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
  taskTreePattern,
  UNROUTED_TASKS_KEY,
} from "./keys.js";
import { defineScripts, runScript } from "./scripts.js";

/** Keys per DEL/MGET/MSET command (Python uses 1000 too). */
const CHUNK = 1000;
/** How long `claimTask` blocks on the normal queue before re-checking high and low (seconds). */
export const CLAIM_POLL_SECONDS = 0.5;
/** Claims read behind a blocking claim to find its document (others of this process may follow it). */
const NEWEST_CLAIMS = 8;
/** Claim lists are re-read for orphans (claims whose reply was lost) at least this often. */
const ORPHAN_CHECK_INTERVAL_MS = 15_000;
/** A suspected orphan is confirmed by a second look this much later. */
const ORPHAN_CONFIRM_MS = 3000;
/** Quarantine records keep at most this many characters of the offending value. */

export interface RedisBackendOptions {
  /** `[redis]` options (`KartonConfig.redisOptions()`). */
  redis: RedisOptions;
  objects: ObjectStore;
  /** `[s3] bucket`. */
  defaultBucket?: string;
  /**
   * Name of the main connection (`CLIENT SETNAME`): the identity, or the extended form of
   * {@link clientName}. Undefined or empty leaves it unnamed (anonymous producer, tools).
   */
  clientName?: string;
  /** Connection events (retries, reconnects, auth fall-back) and backend warnings. */
  onEvent?: ConnectionEventHandler;
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

export class RedisBackend implements KartonBackend {
  readonly instanceId: string;
  readonly objects: ObjectStore;
  readonly defaultBucket: string | undefined;
  /** Where this backend connects (no credentials), for messages. */
  readonly target: RedisTarget;

  readonly #onEvent: ConnectionEventHandler;
  readonly #clientName: string | undefined;
  readonly #main: Redis;
  readonly #blockingFree: Redis[] = [];
  readonly #connections = new Set<Redis>();
  readonly #started = nowSeconds();
  #withoutCredentials = false;
  #credentialsChecked = false;
  #versionChecked = false;
  #closed = false;
  /** Why the main connection is down, while it is (cleared when it is ready again). */
  #lastConnectionError: Error | undefined;
  #registration: Registration | null = null;
  #warnedUnregistered = false;

  /** Uids this instance claimed and has not completed yet (see #adoptOrphans). */
  readonly #held = new Set<string>();
  /** Listed in our claim list but not held at the last check (see #adoptOrphans). */
  #suspects = new Set<string>();
  #orphanCheck: Promise<void> | null = null;
  #orphanCheckDue = true;
  #lastOrphanCheck = 0;
  readonly #orphans: string[] = [];

  /** Parsed binds by identity and stored value (see #routerBinds). */
  readonly #bindCache = new Map<string, Bind | { identity: string; raw: string; reason: string }>();
  /** The binds the router last received and their digest: a take sends them only when changed. */
  #routerBindsHeld: { digest: string; snapshot: BindsSnapshot } = {
    digest: "",
    snapshot: { binds: [], invalid: [] },
  };

  /** The main connection's socket is corked until the end of this tick (see #cork). */
  #corked = false;

  /** The last routing take left karton.tasks empty (see takeRoutingBatch). */
  #routingDrained = false;
  /** Uids handed out by takeUnrouted and not applied yet (see #routingLeftovers). */
  #routingTaken = new Set<string>();
  /** Uids of the routing plans being applied right now. */
  readonly #routingApplying = new Set<string>();
  /** The routing list must be re-read: a reply may have been lost. */
  #routingDirty = true;

  constructor(options: RedisBackendOptions) {
    this.instanceId = options.instanceId ?? randomUUID();
    this.objects = options.objects;
    this.defaultBucket = options.defaultBucket;
    this.target = resolveRedisTarget(options.redis);
    this.#onEvent = options.onEvent ?? (() => {});
    this.#clientName = options.clientName || undefined;
    this.#main = this.#connect("main", this.#clientName);
  }

  #connect(role: "main" | "blocking" | "subscriber", name?: string): Redis {
    const options: Parameters<typeof createRedisConnection>[1] = {
      role,
      onEvent: this.#onEvent,
      withoutCredentials: this.#withoutCredentials,
    };
    if (name) options.name = name;
    const client = createRedisConnection(this.target, options);
    if (role !== "subscriber") defineScripts(client);
    client.on("close", () => {
      // A reply may have been lost with the connection: look for orphaned claims on the next claim
      // and re-read the routing list on the next take.
      this.#orphanCheckDue = true;
      this.#routingDirty = true;
    });
    client.on("end", () => this.#connections.delete(client));
    if (role === "main") {
      // Remembered so that a command that times out while disconnected says why (ECONNREFUSED...).
      client.on("error", (err: Error) => {
        this.#lastConnectionError = err;
      });
      client.on("ready", () => {
        this.#lastConnectionError = undefined;
      });
    }
    this.#connections.add(client);
    return client;
  }

  #event(level: ConnectionEventLevel, message: string): void {
    try {
      this.#onEvent(level, message);
    } catch {
      // ignore logger failures
    }
  }

  /**
   * Commands issued during one tick of the event loop leave in one write: the socket of the main
   * connection is corked at the first command of a tick and uncorked when the tick's microtasks are
   * done. A routing batch's log records and its apply, or a consumer's "Received" record and its
   * Started status, cost one system call (and one wake-up of Redis) instead of one per command.
   */
  #cork(): void {
    if (this.#corked || this.#main.status !== "ready") return;
    const stream = this.#main.stream;
    if (!stream || stream.destroyed) return;
    this.#corked = true;
    stream.cork();
    process.nextTick(() => {
      this.#corked = false;
      stream.uncork();
    });
  }

  /** Runs Redis commands, turning failures into errors that name the operation and the server. */
  async #r<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error(`Redis ${operation}: the backend is closed`);
    this.#cork();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RedisAuthError) throw err;
      let reason = describeRedisError(err);
      const down = this.#lastConnectionError;
      if (down !== undefined && this.#main.status !== "ready" && !isAuthError(err)) {
        reason = `not connected (${describeRedisError(down)}): ${reason}`;
      }
      const auth = isAuthError(err) ? " (authentication failed: check [redis] username/password)" : "";
      throw new Error(`Redis ${operation} failed at ${this.target.display}${auth}: ${reason}`, {
        cause: err,
      });
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  async ping(): Promise<void> {
    const bound = this.target.commandTimeoutMs > 0 ? this.target.commandTimeoutMs : 80_000;
    const deadline = Date.now() + bound;
    for (let attempt = 1; !this.#credentialsChecked; attempt++) {
      try {
        const use = await checkCredentials(this.target, this.#onEvent);
        if (!use && this.target.password !== undefined) {
          this.#withoutCredentials = true;
          // The main connection is lazy: drop the credentials before it first connects (and for
          // every reconnect, which re-reads the options).
          this.#main.options.password = undefined;
          this.#main.options.username = undefined;
          for (const client of this.#connections) {
            client.options.password = undefined;
            client.options.username = undefined;
          }
        }
        this.#credentialsChecked = true;
      } catch (err) {
        if (err instanceof RedisAuthError) throw err;
        if (Date.now() >= deadline) {
          throw new Error(`Redis at ${this.target.display} is not reachable: ${describeRedisError(err)}`, {
            cause: err,
          });
        }
        const delay = reconnectDelay(attempt);
        this.#event(
          "warning",
          `Redis at ${this.target.display} not reachable (${describeRedisError(err)}); retrying in ${delay} ms`,
        );
        await sleep(delay);
      }
    }
    await this.#r("PING", async () => {
      const reply = await this.#main.ping();
      if (reply !== "PONG") throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
    });
    if (!this.#versionChecked) {
      const info = await this.#r("INFO server", () => this.#main.info("server"));
      const version = /redis_version:(\d+)\.(\d+)/.exec(info);
      if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
        throw new Error(
          `Redis at ${this.target.display} is version ${version[1]}.${version[2]}; karton-ts needs Redis 6.2 or ` +
            "newer (LMOVE/BLMOVE for atomic claims)",
        );
      }
      this.#versionChecked = true;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      [...this.#connections].map(async (client) => {
        try {
          if (client.status === "ready") await client.quit();
          else client.disconnect();
        } catch {
          client.disconnect();
        }
      }),
    );
    this.#connections.clear();
    this.#blockingFree.length = 0;
    (this.objects as { close?: () => void }).close?.();
  }

  // ---- task documents ---------------------------------------------------------------------------

  async getTask(uid: string, options?: ParseTaskOptions): Promise<Task | null> {
    const raw = await this.#r(`GET ${taskKey(uid)}`, () => this.#main.getBuffer(taskKey(uid)));
    if (raw === null) return null;
    return parseTask(decodeUtf8Escaped(raw), { storage: this.objects, ...options });
  }

  async getRawTasks(uids: string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < uids.length; i += CHUNK) {
      const keys = uids.slice(i, i + CHUNK).map(taskKey);
      const values = await this.#r("MGET of task documents", () => this.#main.mgetBuffer(keys));
      for (const value of values) out.push(value === null ? null : decodeUtf8Escaped(value));
    }
    return out;
  }

  async saveTasks(tasks: Task[]): Promise<void> {
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const args: string[] = [];
      for (const task of tasks.slice(i, i + CHUNK)) args.push(taskKey(task.uid), serializeTask(task));
      if (args.length === 2)
        await this.#r("SET of a task document", () => this.#main.set(args[0]!, args[1]!));
      else if (args.length > 0) await this.#r("MSET of task documents", () => this.#main.mset(args));
    }
  }

  async setTaskStatus(task: Task, status: TaskState): Promise<void> {
    if (task.status === status) return;
    task.setStatus(status);
    const doc = serializeTask(task);
    await this.#r(`SET ${taskKey(task.uid)}`, () => this.#main.set(taskKey(task.uid), doc));
  }

  async *scanTasks(
    options: { rootUid?: string; chunkSize?: number; unique?: boolean } = {},
  ): AsyncIterable<RawTask[]> {
    const chunkSize = Math.max(1, options.chunkSize ?? CHUNK);
    const root = options.rootUid;
    const patterns = root === undefined ? [ALL_TASKS_PATTERN] : [LEGACY_TASK_PATTERN, taskTreePattern(root)];
    // Without `unique`, only the keys of the chunk being assembled are deduplicated.
    const unique = options.unique !== false;
    let seen = new Set<string>();
    for (const pattern of patterns) {
      const legacyFilter = root !== undefined && pattern === LEGACY_TASK_PATTERN;
      let pending: string[] = [];
      let cursor = "0";
      do {
        const [next, keys] = await this.#r(`SCAN MATCH ${pattern}`, () =>
          this.#main.scan(cursor, "MATCH", pattern, "COUNT", 1000),
        );
        cursor = next;
        for (const key of keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          pending.push(key);
        }
        while (pending.length >= chunkSize || (cursor === "0" && pending.length > 0)) {
          const keys = pending.slice(0, chunkSize);
          pending = pending.slice(chunkSize);
          if (!unique) seen = new Set(pending);
          const values = await this.#r("MGET of task documents", () => this.#main.mgetBuffer(keys));
          const chunk: RawTask[] = [];
          keys.forEach((key, i) => {
            const bytes = values[i];
            if (bytes === null || bytes === undefined) return;
            const raw = decodeUtf8Escaped(bytes);
            if (legacyFilter && root !== undefined && !documentHasRoot(raw, root)) return;
            chunk.push({ uid: key.slice(TASK_KEY_PREFIX.length), raw });
          });
          if (chunk.length > 0) yield chunk;
        }
      } while (cursor !== "0");
    }
  }

  async deleteTasks(uids: string[]): Promise<void> {
    for (let i = 0; i < uids.length; i += CHUNK) {
      const keys = uids.slice(i, i + CHUNK).map(taskKey);
      if (keys.length > 0) await this.#r("DEL of task documents", () => this.#main.del(...keys));
    }
  }

  // ---- producer ---------------------------------------------------------------------------------

  async declareTask(task: Task): Promise<void> {
    const doc = serializeTask(task);
    await this.#r(`SET ${taskKey(task.uid)}`, () => this.#main.set(taskKey(task.uid), doc));
  }

  async enqueueUnrouted(task: Task, identity: string): Promise<void> {
    // Two commands in one write (#r corks the socket), without a pipeline object (see #blockThen).
    await this.#r(`RPUSH ${UNROUTED_TASKS_KEY}`, () =>
      Promise.all([
        this.#main.rpush(UNROUTED_TASKS_KEY, task.uid),
        this.#main.hincrby(metricsKey(KartonMetric.Produced), identity, 1),
      ]),
    );
  }

  // ---- binds ------------------------------------------------------------------------------------

  async registerBind(bind: Bind): Promise<Bind | null> {
    const value = serializeBind(bind);
    const results = await this.#r(`MULTI HGET/HSET ${BINDS_KEY}`, async () => {
      const res = await this.#main
        .multi()
        .hget(BINDS_KEY, bind.identity)
        .hset(BINDS_KEY, bind.identity, value)
        .exec();
      throwFirstError(res);
      return res;
    });
    const old = results?.[0]?.[1];
    if (typeof old !== "string") return null;
    try {
      return parseBind(bind.identity, old);
    } catch (err) {
      this.#event("warning", `previous bind of "${bind.identity}" was unreadable: ${(err as Error).message}`);
      return null;
    }
  }

  async getBind(identity: string): Promise<Bind | null> {
    const raw = await this.#r(`HGET ${BINDS_KEY}`, () => this.#main.hget(BINDS_KEY, identity));
    return raw === null ? null : parseBind(identity, raw);
  }

  async getBinds(): Promise<BindsSnapshot> {
    const pairs = await this.#hgetallPairs(BINDS_KEY);
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

  /** HGETALL as [field, value] pairs in Redis order (a JS object would reorder numeric fields). */
  async #hgetallPairs(key: string): Promise<[string, string][]> {
    const flat = (await this.#r(`HGETALL ${key}`, () => this.#main.call("HGETALL", key))) as string[];
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!]);
    return pairs;
  }

  async dropConsumer(identity: string): Promise<void> {
    await this.#r(`HDEL ${BINDS_KEY} + DEL of the queues of ${identity}`, async () => {
      const res = await this.#main
        .multi()
        .hdel(BINDS_KEY, identity)
        .del(...consumerQueueKeys(identity))
        .exec();
      throwFirstError(res);
    });
  }

  // ---- consumer ---------------------------------------------------------------------------------

  async #checkOrphansIfDue(): Promise<void> {
    if (
      this.#orphanCheck === null &&
      (this.#orphanCheckDue || Date.now() - this.#lastOrphanCheck > ORPHAN_CHECK_INTERVAL_MS)
    ) {
      const check = this.#adoptOrphans().finally(() => {
        this.#orphanCheck = null;
      });
      this.#orphanCheck = check;
      await check;
    }
  }

  async claimWithBind(
    identity: string,
    expectedBind: string,
    blockSeconds: number,
    max = 1,
  ): Promise<ClaimWithBindResult> {
    await this.#checkOrphansIfDue();
    const orphan = this.#orphans.shift();
    if (orphan !== undefined) {
      const [bind, raw] = await this.#r(`HGET ${BINDS_KEY} + GET ${taskKey(orphan)}`, async () => {
        const res = await this.#main.pipeline().hget(BINDS_KEY, identity).getBuffer(taskKey(orphan)).exec();
        throwFirstError(res);
        const doc = res?.[1]?.[1] as Buffer | null | undefined;
        return [res?.[0]?.[1] as string | null, doc ? decodeUtf8Escaped(doc) : null];
      }).catch((err: unknown) => {
        this.#orphans.unshift(orphan);
        throw err;
      });
      if (bind !== expectedBind) {
        this.#orphans.unshift(orphan);
        return { bind: bind ?? null, claimed: [] };
      }
      return { bind, claimed: [{ uid: orphan, raw: raw ?? null }] };
    }
    await this.#ensureRegistered("consumer", identity);

    const claims = claimsKey(this.instanceId);
    const queues = consumerQueueKeys(identity);
    const deadline = Date.now() + Math.max(0, blockSeconds) * 1000;
    for (;;) {
      // Buffers, so that a document that is not UTF-8 is decoded like getTask does (and refused).
      const [stored, uids, raws] = (await this.#r(`claim for ${identity}`, () =>
        runScript(
          this.#main,
          "claimWithBind",
          [...queues, claims, BINDS_KEY],
          [identity, expectedBind, max],
          {
            buffers: true,
          },
        ),
      )) as [Buffer | null, Buffer[], (Buffer | null)[]];
      const bind = stored === null ? null : stored.toString("utf8");
      if (uids.length > 0) {
        return {
          bind,
          claimed: uids.map((uid, i) => {
            const raw = raws[i];
            return { uid: this.#hold(uid.toString("utf8")), raw: raw ? decodeUtf8Escaped(raw) : null };
          }),
        };
      }
      if (bind !== expectedBind) return { bind, claimed: [] };
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { bind, claimed: [] };
      const wait = Math.max(0.01, Math.min(remaining / 1000, CLAIM_POLL_SECONDS));
      // The document comes with the claim: read right behind the BLMOVE, on the same connection.
      const [moved, newest] = await this.#blockThen(`BLMOVE ${queues[2]}`, wait, (conn) => [
        conn.blmove(queues[2], claims, "LEFT", "RIGHT", wait.toFixed(3)),
        runScript(conn, "newestClaims", [claims], [NEWEST_CLAIMS], { buffers: true }),
      ]);
      if (moved !== null && moved !== undefined) {
        const uid = this.#hold(String(moved));
        const [uids, docs] = newest as [Buffer[], (Buffer | null)[]];
        const bytes = docs[uids.findIndex((candidate) => candidate.toString("utf8") === uid)];
        if (bytes !== undefined) {
          return { bind, claimed: [{ uid, raw: bytes === null ? null : decodeUtf8Escaped(bytes) }] };
        }
        // Not among the newest claims (more claims of this process came after it): read it. The
        // claim is ours now whatever happens to this read; the caller reads it again if needed.
        const raw = await this.#r(`GET ${taskKey(uid)}`, () => this.#main.getBuffer(taskKey(uid))).then(
          (got) => (got === null ? null : decodeUtf8Escaped(got)),
          () => undefined,
        );
        return { bind, claimed: [raw === undefined ? { uid } : { uid, raw }] };
      }
    }
  }

  async claimTask(identity: string, blockSeconds: number): Promise<string | null> {
    await this.#checkOrphansIfDue();
    const orphan = this.#orphans.shift();
    if (orphan !== undefined) return orphan;
    await this.#ensureRegistered("consumer", identity);

    const claims = claimsKey(this.instanceId);
    const queues = consumerQueueKeys(identity);
    const deadline = Date.now() + Math.max(0, blockSeconds) * 1000;
    for (;;) {
      const uid = (await this.#r(`claim for ${identity}`, () =>
        runScript(this.#main, "claimTask", [...queues, claims], []),
      )) as string | null;
      if (uid !== null) return this.#hold(uid);
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      const wait = Math.max(0.01, Math.min(remaining / 1000, CLAIM_POLL_SECONDS));
      const moved = await this.#blocking(`BLMOVE ${queues[2]}`, (conn) =>
        conn.blmove(queues[2], claims, "LEFT", "RIGHT", wait.toFixed(3)),
      );
      if (moved !== null) return this.#hold(moved);
    }
  }

  #hold(uid: string): string {
    this.#held.add(uid);
    this.#suspects.delete(uid);
    return uid;
  }

  /**
   * Claims whose reply was lost (the connection dropped after the server moved the uid, or a
   * blocking reply came after the client gave up) sit in our claim list without us knowing. The list
   * is re-read after a connection closed and every 15 s. A uid we do not hold may also be a claim
   * whose reply is simply still on its way (other claims run concurrently), so it is only a suspect
   * at first; still unknown and still listed at the next check (~3 s later) it is an orphan, handed
   * out before new claims.
   */
  async #adoptOrphans(): Promise<void> {
    this.#orphanCheckDue = false;
    this.#lastOrphanCheck = Date.now();
    const listed = await this.#r("LRANGE of the claim list", () =>
      this.#main.lrange(claimsKey(this.instanceId), 0, -1),
    );
    const unknown = listed.filter((uid) => !this.#held.has(uid) && !this.#orphans.includes(uid));
    const previous = this.#suspects;
    this.#suspects = new Set();
    for (const uid of unknown) {
      if (!previous.has(uid)) {
        this.#suspects.add(uid);
        continue;
      }
      this.#event("warning", `claim ${uid} found in the claim list of this instance (lost reply); taking it`);
      this.#held.add(uid);
      this.#orphans.push(uid);
    }
    // Confirm the suspects soon rather than in 15 s.
    if (this.#suspects.size > 0)
      this.#lastOrphanCheck = Date.now() - ORPHAN_CHECK_INTERVAL_MS + ORPHAN_CONFIRM_MS;
  }

  async #blocking<T>(operation: string, fn: (conn: Redis) => Promise<T>): Promise<T> {
    const conn = this.#blockingFree.pop() ?? this.#connect("blocking");
    let healthy = true;
    try {
      return await this.#r(operation, () => fn(conn));
    } catch (err) {
      healthy = false;
      this.#orphanCheckDue = true;
      throw err;
    } finally {
      if (this.#closed) conn.disconnect();
      else if (
        healthy ||
        conn.status === "ready" ||
        conn.status === "reconnecting" ||
        conn.status === "connecting"
      ) {
        this.#blockingFree.push(conn);
      } else {
        conn.disconnect();
      }
    }
  }

  async completeClaimed(task: Task, identity: string, metrics: KartonMetric[]): Promise<void> {
    const doc = serializeTask(task);
    const keys = [taskKey(task.uid), claimsKey(this.instanceId), ATTEMPTS_KEY, ...metrics.map(metricsKey)];
    await this.#r(`completion of ${task.uid}`, () =>
      runScript(this.#main, "completeClaimed", keys, [doc, task.uid, identity]),
    );
    this.#held.delete(task.uid);
  }

  async handBackClaimed(task: Task, identity: string): Promise<void> {
    const keys = [claimsKey(this.instanceId), taskKey(task.uid), queueKey(task.priority, identity)];
    const n = await this.#r(`hand-back of ${task.uid}`, () =>
      runScript(this.#main, "handBackClaimed", keys, [task.uid, serializeTask(task)]),
    );
    if (n !== 1) this.#event("warning", `claim of ${task.uid} was already gone; not handed back`);
    this.#held.delete(task.uid);
  }

  async dropClaim(uid: string): Promise<void> {
    await this.#r(`release of claim ${uid}`, async () => {
      const res = await this.#main
        .multi()
        .lrem(claimsKey(this.instanceId), 0, uid)
        .hdel(ATTEMPTS_KEY, uid)
        .exec();
      throwFirstError(res);
    });
    this.#held.delete(uid);
  }

  async heartbeat(kind: InstanceKind, identity: string, ttlSeconds: number): Promise<void> {
    const registration: Registration = { kind, identity, ...processInfo(), started: this.#started };
    const json = JSON.stringify(registration);
    const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
    await this.#r("heartbeat", async () => {
      const res = await this.#main
        .multi()
        .set(aliveKey(this.instanceId), json, "PX", ttlMs)
        .hset(INSTANCES_KEY, this.instanceId, json)
        .exec();
      throwFirstError(res);
    });
    this.#registration = registration;
  }

  /**
   * Claims must always be attributable: when a caller claims before its first heartbeat, the
   * instance is registered (without a heartbeat, so a crash is recovered right away) and a warning
   * is reported once.
   */
  async #ensureRegistered(kind: InstanceKind, identity: string): Promise<void> {
    if (this.#registration !== null) return;
    const registration: Registration = { kind, identity, ...processInfo(), started: this.#started };
    await this.#r("instance registration", () =>
      this.#main.hset(INSTANCES_KEY, this.instanceId, JSON.stringify(registration)),
    );
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
    const forgotten = await this.#r("instance retirement", () =>
      runScript(
        this.#main,
        "forgetInstance",
        [INSTANCES_KEY, claimsKey(id), routingKey(id), aliveKey(id)],
        [id, "1"],
      ),
    );
    if (forgotten !== 1) {
      this.#event("warning", `instance ${id} retired with tasks still claimed; they will be recovered`);
    }
    this.#registration = null;
  }

  // ---- router -----------------------------------------------------------------------------------

  /**
   * Uids still in the routing list belong to a batch that was not applied (or whose reply was lost):
   * they are handed out again first. The backend knows which uids it handed out and which are being
   * applied, so the list is only re-read (LRANGE) when a reply may have been lost: at the first take,
   * after an error or a closed connection, and after a blocking take that found nothing.
   */
  async #routingLeftovers(): Promise<string[]> {
    if (this.#routingDirty) {
      this.#routingDirty = false;
      const routing = routingKey(this.instanceId);
      try {
        const listed = await this.#r("LRANGE of the routing list", () => this.#main.lrange(routing, 0, -1));
        this.#routingTaken = new Set(listed);
      } catch (err) {
        this.#routingDirty = true;
        throw err;
      }
    }
    if (this.#routingTaken.size === 0) return [];
    return [...this.#routingTaken].filter((uid) => !this.#routingApplying.has(uid));
  }

  async takeUnrouted(max: number, blockSeconds: number): Promise<string[]> {
    if (max < 1) return [];
    const leftover = await this.#routingLeftovers();
    if (leftover.length > 0) return leftover;
    await this.#ensureRegistered("router", "karton.system");
    const routing = routingKey(this.instanceId);
    // Non-blocking first (one round trip per batch while karton.tasks is not empty); else wait for
    // one uid, then take what arrived with it.
    let taken: string[];
    try {
      taken = (await this.#r(`take from ${UNROUTED_TASKS_KEY}`, () =>
        runScript(this.#main, "takeUnrouted", [UNROUTED_TASKS_KEY, routing], [max]),
      )) as string[];
      if (taken.length === 0 && blockSeconds > 0) {
        const first = await this.#blocking(`BLMOVE ${UNROUTED_TASKS_KEY}`, (conn) =>
          conn.blmove(UNROUTED_TASKS_KEY, routing, "LEFT", "RIGHT", blockSeconds.toFixed(3)),
        );
        // A reply given up by the client may still have moved a uid: look at the list next time.
        if (first === null) this.#routingDirty = true;
        else if (max === 1) taken = [first];
        else {
          this.#routingTaken.add(first);
          const more = (await this.#r(`take from ${UNROUTED_TASKS_KEY}`, () =>
            runScript(this.#main, "takeUnrouted", [UNROUTED_TASKS_KEY, routing], [max - 1]),
          )) as string[];
          taken = [first, ...more];
        }
      }
    } catch (err) {
      this.#routingDirty = true;
      throw err;
    }
    for (const uid of taken) this.#routingTaken.add(uid);
    return taken;
  }

  async takeRoutingBatch(max: number, blockSeconds: number): Promise<RoutingBatch> {
    const leftover = await this.#routingLeftovers();
    if (leftover.length > 0 || max < 1) {
      const [raws, binds] = await Promise.all([this.getRawTasks(leftover), this.getBinds()]);
      return { taken: leftover, raws, binds };
    }
    await this.#ensureRegistered("router", "karton.system");
    const routing = routingKey(this.instanceId);
    try {
      // After a take that emptied karton.tasks, wait at once: the BLMOVE returns at once if tasks
      // came in the meantime, and the take behind it takes them (one round trip per lone task).
      const waitFirst = this.#routingDrained && blockSeconds > 0;
      let batch = waitFirst ? null : await this.#takeRoutingBatch(routing, max);
      if (batch === null || (batch.taken.length === 0 && blockSeconds > 0)) {
        batch = await this.#blockThenTake(routing, max, blockSeconds);
        // A reply given up by the client may still have moved a uid: look at the list next time.
        if (batch.taken.length === 0) this.#routingDirty = true;
      }
      this.#routingDrained = batch.taken.length < max;
      for (const uid of batch.taken) this.#routingTaken.add(uid);
      return batch;
    } catch (err) {
      this.#routingDirty = true;
      throw err;
    }
  }

  async #takeRoutingBatch(routing: string, max: number): Promise<RoutingBatch> {
    const held = this.#routerBindsHeld;
    // Buffers, so that a document that is not UTF-8 is decoded like getRawTasks does (see
    // decodeUtf8Escaped) and refused by the router, instead of read with replacement characters.
    const reply = await this.#r(`take from ${UNROUTED_TASKS_KEY}`, () =>
      runScript(
        this.#main,
        "takeRoutingBatch",
        [UNROUTED_TASKS_KEY, routing, BINDS_KEY],
        [max, held.digest],
        {
          buffers: true,
        },
      ),
    );
    return this.#routingBatch(reply, held);
  }

  /**
   * Waits for the first uid (BLMOVE) and, right behind it on the same connection, takes what came
   * with it: Redis runs the take as soon as the BLMOVE returns, so a lone task costs one round trip
   * to Redis, not two. Called with no leftovers (after a take that found nothing or emptied
   * karton.tasks), so the routing list holds what the BLMOVE moved and the uids of a batch being
   * applied (left out by the script).
   */
  async #blockThenTake(routing: string, max: number, blockSeconds: number): Promise<RoutingBatch> {
    const held = this.#routerBindsHeld;
    const keys = [UNROUTED_TASKS_KEY, routing, BINDS_KEY];
    const args = [max - 1, held.digest, "*", ...this.#routingApplying];
    const [, take] = await this.#blockThen(`BLMOVE ${UNROUTED_TASKS_KEY}`, blockSeconds, (conn) => [
      conn.blmove(UNROUTED_TASKS_KEY, routing, "LEFT", "RIGHT", blockSeconds.toFixed(3)),
      runScript(conn, "takeRoutingBatch", keys, args, { buffers: true }),
    ]);
    return this.#routingBatch(take, held);
  }

  /**
   * Sends a blocking command and what must follow it on a blocking connection, in one write (Redis
   * runs the rest as soon as the blocking command returns); the replies, or throws the first error.
   * What follows has no timeout on that connection: if no reply comes (a dead peer), the connection
   * is dropped once the block's time and its grace are over, which fails all of them.
   *
   * Plain commands on a corked socket rather than an ioredis pipeline: what a pipeline references
   * outlives the young-generation GCs (a BLMOVE + script loop alone leaves ~550 KB per scavenge
   * with a pipeline, ~10 KB without), which made the router's scavenges longer.
   */
  async #blockThen(
    operation: string,
    seconds: number,
    send: (conn: Redis) => Promise<unknown>[],
  ): Promise<unknown[]> {
    const replies = await this.#blocking(operation, (conn) => {
      const pending = inOneWrite(conn, () => send(conn));
      const timer = setTimeout(() => conn.disconnect(), seconds * 1000 + BLOCKING_GRACE_MS);
      return Promise.allSettled(pending).finally(() => clearTimeout(timer));
    });
    const failed = replies.find((reply) => reply.status === "rejected");
    if (failed) {
      // The blocking command may have moved a uid whose follow-up failed: look for it at once.
      this.#orphanCheckDue = true;
      throw new Error(
        `Redis ${operation} failed at ${this.target.display}: ${describeRedisError(failed.reason)}`,
        { cause: failed.reason },
      );
    }
    return replies.map((reply) => (reply as PromiseFulfilledResult<unknown>).value);
  }

  /** A take's reply; the binds are those `held` when the script found them unchanged. */
  #routingBatch(reply: unknown, held: { digest: string; snapshot: BindsSnapshot }): RoutingBatch {
    const [taken, raws, digest, flat] = reply as [Buffer[], (Buffer | null)[], Buffer, Buffer[] | undefined];
    let binds = held.snapshot;
    if (flat !== undefined) {
      binds = this.#routerBinds(flat.map((item) => item.toString("utf8")));
      this.#routerBindsHeld = { digest: digest.toString("utf8"), snapshot: binds };
    }
    return {
      taken: taken.map((uid) => uid.toString("utf8")),
      raws: raws.map((raw) => (raw === null ? null : decodeUtf8Escaped(raw))),
      binds,
    };
  }

  /**
   * The binds snapshot of a flat HGETALL reply, for the router: binds are parsed once per distinct
   * stored value, and the same objects are returned while the value does not change.
   */
  #routerBinds(flat: string[]): BindsSnapshot {
    const snapshot: BindsSnapshot = { binds: [], invalid: [] };
    const cache = this.#bindCache;
    if (cache.size > 10_000) cache.clear();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const identity = flat[i] as string;
      const raw = flat[i + 1] as string;
      const key = `${identity}\u0000${raw}`;
      let entry = cache.get(key);
      if (entry === undefined) {
        try {
          entry = parseBind(identity, raw);
        } catch (err) {
          entry = { identity, raw, reason: (err as Error).message };
        }
        cache.set(key, entry);
      }
      if ("filters" in entry) snapshot.binds.push(entry);
      else snapshot.invalid.push(entry);
    }
    return snapshot;
  }

  async applyRoutePlan(plan: RoutePlan): Promise<void> {
    for (const uid of plan.taken) this.#routingApplying.add(uid);
    try {
      await this.#applyRoutePlan(plan);
      for (const uid of plan.taken) this.#routingTaken.delete(uid);
    } catch (err) {
      this.#routingDirty = true;
      throw err;
    } finally {
      for (const uid of plan.taken) this.#routingApplying.delete(uid);
    }
  }

  async #applyRoutePlan(plan: RoutePlan): Promise<void> {
    const args: string[] = [String(plan.taken.length), ...plan.taken, String(QUARANTINE_MAX_RECORDS)];
    if (plan.outputsTtl !== null) {
      const ttl = String(Math.max(1, Math.round(plan.outputsTtl)));
      // The same (key, member) twice in one atomic batch has the effect of once.
      const seen = new Set<string>();
      for (const output of plan.outputs) {
        const key = outputsKey(output.origin);
        const id = `${key}\u0000${output.member}`;
        if (seen.has(id)) continue;
        seen.add(id);
        args.push("O", key, output.member, ttl);
      }
    }
    // Documents go in three pieces; the middle (payloads) a fork shares with its original is sent
    // once (looked up by the original's parts, not by the text: hashing long strings is not free).
    let middles = 0;
    const indexOf = new Map<TaskDocumentParts, string>();
    const middleIndex = (parts: TaskDocumentParts, original: TaskDocumentParts): string => {
      if (parts.middle === "") return "0";
      if (parts.middle === original.middle) {
        let n = indexOf.get(original);
        if (n === undefined) {
          n = String(++middles);
          args.push("M", original.middle);
          indexOf.set(original, n);
        }
        return n;
      }
      args.push("M", parts.middle);
      return String(++middles);
    };
    const originals = new Map<string, { task: Task; parts: TaskDocumentParts }>();
    const finishedParts: TaskDocumentParts[] = [];
    for (const task of plan.finished) {
      const parts = taskDocumentParts(task);
      originals.set(task.uid, { task, parts });
      finishedParts.push(parts);
    }
    for (const fork of plan.forks) {
      const origin = fork.task.origUid === null ? undefined : originals.get(fork.task.origUid);
      const parts = taskDocumentParts(fork.task, origin);
      const n = middleIndex(parts, origin?.parts ?? parts);
      args.push(
        "F",
        parts.head,
        n,
        parts.tail,
        queueKey(fork.priority, fork.identity),
        fork.task.uid,
        fork.identity,
      );
    }
    plan.finished.forEach((task, i) => {
      const parts = finishedParts[i] as TaskDocumentParts;
      args.push("S", task.uid, parts.head, middleIndex(parts, parts), parts.tail);
    });
    for (const record of plan.quarantined) args.push("Q", encodeQuarantine(record));
    const keys = [routingKey(this.instanceId), metricsKey(KartonMetric.Assigned), QUARANTINE_KEY];
    const result = await this.#r("routing batch", () => runScript(this.#main, "applyRoutePlan", keys, args));
    if (result === -1) {
      this.#event(
        "warning",
        `routing batch of ${plan.taken.length} task(s) was already applied or handed back`,
      );
    } else if (Array.isArray(result) && result.length > 0) {
      this.#event(
        "error",
        `routing batch applied with ${result.length} failed command(s): ${result.join("; ")}`,
      );
    }
  }

  async takeLegacyOperations(max: number): Promise<string[]> {
    if (max < 1) return [];
    const res = await this.#r(`MULTI LRANGE/LTRIM ${LEGACY_OPERATIONS_KEY}`, async () => {
      const r = await this.#main
        .multi()
        .lrange(LEGACY_OPERATIONS_KEY, 0, max - 1)
        .ltrim(LEGACY_OPERATIONS_KEY, max, -1)
        .exec();
      throwFirstError(r);
      return r;
    });
    return (res?.[0]?.[1] as string[] | undefined) ?? [];
  }

  async publishLegacyOperations(bodies: string[]): Promise<void> {
    if (bodies.length === 0) return;
    await this.#r(`PUBLISH ${LEGACY_OPERATIONS_LOG_CHANNEL}`, async () => {
      const multi = this.#main.multi();
      for (const body of bodies) multi.publish(LEGACY_OPERATIONS_LOG_CHANNEL, body);
      throwFirstError(await multi.exec());
    });
  }

  // ---- recovery ---------------------------------------------------------------------------------

  async abandonedClaims(): Promise<AbandonedClaims[]> {
    const entries = (await this.#hgetallPairs(INSTANCES_KEY)).filter(([id]) => id !== this.instanceId);
    if (entries.length === 0) return [];
    const alive = await this.#r("EXISTS of heartbeats", async () => {
      const pipe = this.#main.pipeline();
      for (const [id] of entries) pipe.exists(aliveKey(id));
      const res = await pipe.exec();
      throwFirstError(res);
      return (res ?? []).map(([, n]) => n === 1);
    });
    const dead = entries.filter((_, i) => !alive[i]);
    if (dead.length === 0) return [];
    const lists = await this.#r("LRANGE of abandoned claims", async () => {
      const pipe = this.#main.pipeline();
      for (const [id] of dead) pipe.lrange(claimsKey(id), 0, -1).lrange(routingKey(id), 0, -1);
      const res = await pipe.exec();
      throwFirstError(res);
      return (res ?? []).map(([, v]) => v as string[]);
    });
    const out: AbandonedClaims[] = [];
    dead.forEach(([instanceId, raw], i) => {
      const claims = lists[2 * i] ?? [];
      const routing = lists[2 * i + 1] ?? [];
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
      if (claims.length === 0 && routing.length === 0) {
        // Nothing to recover: forget it right away (the script re-checks atomically).
        void this.forgetInstance(instanceId).catch(() => {});
        return;
      }
      out.push({ instanceId, kind, identity, uids: uids.length > 0 ? uids : [...claims, ...routing] });
    });
    return out;
  }

  async requeueAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean> {
    const keys = [claimsKey(instanceId), taskKey(task.uid), queueKey(task.priority, identity), ATTEMPTS_KEY];
    const n = await this.#r(`requeue of ${task.uid}`, () =>
      runScript(this.#main, "requeueAbandoned", keys, [task.uid, serializeTask(task)]),
    );
    return n === 1;
  }

  async crashAbandoned(instanceId: string, task: Task, identity: string): Promise<boolean> {
    const keys = [claimsKey(instanceId), taskKey(task.uid), metricsKey(KartonMetric.Crashed), ATTEMPTS_KEY];
    const n = await this.#r(`crash of abandoned ${task.uid}`, () =>
      runScript(this.#main, "crashAbandoned", keys, [task.uid, serializeTask(task), identity]),
    );
    return n === 1;
  }

  async forgetAbandoned(instanceId: string, uid: string): Promise<void> {
    await this.#r(`release of abandoned claim ${uid}`, async () => {
      const res = await this.#main.multi().lrem(claimsKey(instanceId), 0, uid).hdel(ATTEMPTS_KEY, uid).exec();
      throwFirstError(res);
    });
  }

  async returnAbandonedUnrouted(instanceId: string): Promise<number> {
    const n = await this.#r("return of an abandoned routing batch", () =>
      runScript(this.#main, "returnAbandonedUnrouted", [routingKey(instanceId), UNROUTED_TASKS_KEY], []),
    );
    return Number(n);
  }

  async forgetInstance(instanceId: string): Promise<void> {
    await this.#r(`forget instance ${instanceId}`, () =>
      runScript(
        this.#main,
        "forgetInstance",
        [INSTANCES_KEY, claimsKey(instanceId), routingKey(instanceId), aliveKey(instanceId)],
        [instanceId, "0"],
      ),
    );
  }

  async getAttempts(uid: string): Promise<number> {
    const n = await this.#r(`HGET ${ATTEMPTS_KEY}`, () => this.#main.hget(ATTEMPTS_KEY, uid));
    return n === null ? 0 : Number(n);
  }

  // ---- garbage collector ------------------------------------------------------------------------

  async unroutedSnapshot(): Promise<Set<string>> {
    const instances = await this.#r(`HKEYS ${INSTANCES_KEY}`, () => this.#main.hkeys(INSTANCES_KEY));
    const res = await this.#r(`LRANGE ${UNROUTED_TASKS_KEY}`, async () => {
      const multi = this.#main.multi().lrange(UNROUTED_TASKS_KEY, 0, -1);
      for (const id of instances) multi.lrange(routingKey(id), 0, -1);
      const r = await multi.exec();
      throwFirstError(r);
      return r ?? [];
    });
    const out = new Set<string>();
    for (const [, uids] of res) for (const uid of uids as string[]) out.add(uid);
    return out;
  }

  async onlineClients(): Promise<OnlineClient[]> {
    const text = (await this.#r("CLIENT LIST", () => this.#main.call("CLIENT", "LIST"))) as string;
    return parseClientList(text).map(({ identity, name, params }) => ({ identity, name, params }));
  }

  async collectTasks(tasks: { uid: string; receiver: string | null }[]): Promise<void> {
    // One script per chunk: documents deleted and counted once each (see collectTasks-N).
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const chunk = tasks.slice(i, i + CHUNK);
      const keys = [metricsKey(KartonMetric.GarbageCollected), ATTEMPTS_KEY];
      const args: string[] = [];
      for (const t of chunk) {
        keys.push(taskKey(t.uid));
        args.push(t.receiver ?? "unknown");
      }
      for (const t of chunk) args.push(t.uid);
      await this.#r("garbage collection of task documents", () =>
        runScript(this.#main, "collectTasks", keys, args),
      );
    }
  }

  // ---- operator actions -------------------------------------------------------------------------

  async restartTask(fork: Task, old: Task): Promise<void> {
    const receiver = fork.headers.receiver;
    if (typeof receiver !== "string" || receiver === "") {
      throw new Error(`cannot restart ${old.uid}: the new task has no "receiver" header`);
    }
    if (old.status !== TaskState.Finished) old.setStatus(TaskState.Finished);
    // Python's dashboard: one plain pipeline, SET of the new fork before its RPUSH (spec §2.7).
    await this.#r(`restart of ${old.uid}`, async () => {
      const res = await this.#main
        .pipeline()
        .set(taskKey(fork.uid), serializeTask(fork))
        .rpush(queueKey(fork.priority, receiver), fork.uid)
        .set(taskKey(old.uid), serializeTask(old))
        .exec();
      throwFirstError(res);
    });
  }

  async queueLengths(identity: string): Promise<{ bare: number; high: number; normal: number; low: number }> {
    const lengths = await this.#r(`LLEN of the queues of ${identity}`, async () => {
      const pipe = this.#main.pipeline();
      for (const key of consumerQueueKeys(identity)) pipe.llen(key);
      const res = await pipe.exec();
      throwFirstError(res);
      return (res ?? []).map(([, n]) => Number(n));
    });
    return { bare: lengths[0] ?? 0, high: lengths[1] ?? 0, normal: lengths[2] ?? 0, low: lengths[3] ?? 0 };
  }

  async getOutputs(): Promise<Map<string, JsonObject[]>> {
    const pattern = `${OUTPUTS_KEY_PREFIX}*`;
    const keys = new Set<string>();
    let cursor = "0";
    do {
      const [next, found] = await this.#r(`SCAN MATCH ${pattern}`, () =>
        this.#main.scan(cursor, "MATCH", pattern, "COUNT", 1000),
      );
      cursor = next;
      for (const key of found) keys.add(key);
    } while (cursor !== "0");
    const out = new Map<string, JsonObject[]>();
    const all = [...keys];
    for (let i = 0; i < all.length; i += CHUNK) {
      const chunk = all.slice(i, i + CHUNK);
      const res = await this.#r("SMEMBERS of karton.outputs:*", async () => {
        const pipe = this.#main.pipeline();
        for (const key of chunk) pipe.smembers(key);
        const r = await pipe.exec();
        throwFirstError(r);
        return r ?? [];
      });
      chunk.forEach((key, j) => {
        const members = (res[j]?.[1] as string[] | undefined) ?? [];
        out.set(key.slice(OUTPUTS_KEY_PREFIX.length), parseOutputMembers(members));
      });
    }
    return out;
  }

  // ---- quarantine -------------------------------------------------------------------------------

  async quarantine(records: QuarantineRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.#r(`RPUSH ${QUARANTINE_KEY}`, async () => {
      const res = await this.#main
        .multi()
        .rpush(QUARANTINE_KEY, ...records.map(encodeQuarantine))
        .ltrim(QUARANTINE_KEY, -QUARANTINE_MAX_RECORDS, -1)
        .exec();
      throwFirstError(res);
    });
  }

  /** The newest `limit` records (default 100), newest first. */
  async listQuarantine(limit = 100): Promise<QuarantineRecord[]> {
    if (limit < 1) return [];
    const raws = await this.#r(`LRANGE ${QUARANTINE_KEY}`, () =>
      this.#main.lrange(QUARANTINE_KEY, -limit, -1),
    );
    return decodeQuarantine(raws.reverse());
  }

  // ---- metrics ----------------------------------------------------------------------------------

  async incrementMetrics(metric: KartonMetric, identities: string[]): Promise<void> {
    if (identities.length === 0) return;
    const key = metricsKey(metric);
    if (identities.length === 1) {
      await this.#r(`HINCRBY ${key}`, () => this.#main.hincrby(key, identities[0]!, 1));
      return;
    }
    await this.#r(`MULTI HINCRBY ${key}`, async () => {
      const multi = this.#main.multi();
      for (const identity of identities) multi.hincrby(key, identity, 1);
      throwFirstError(await multi.exec());
    });
  }

  async getMetrics(): Promise<Record<KartonMetric, Record<string, number>>> {
    const res = await this.#r("HGETALL of karton.metrics.*", async () => {
      const pipe = this.#main.pipeline();
      for (const metric of ALL_METRICS) pipe.call("HGETALL", metricsKey(metric));
      const r = await pipe.exec();
      throwFirstError(r);
      return r ?? [];
    });
    const out = {} as Record<KartonMetric, Record<string, number>>;
    ALL_METRICS.forEach((metric, i) => {
      const flat = (res[i]?.[1] as string[] | undefined) ?? [];
      const values: Record<string, number> = {};
      for (let j = 0; j + 1 < flat.length; j += 2) values[flat[j]!] = Number(flat[j + 1]);
      out[metric] = values;
    });
    return out;
  }

  // ---- logs -------------------------------------------------------------------------------------

  async publishLog(level: string, identity: string, body: string): Promise<number> {
    const channel = logChannel(level, identity);
    return await this.#r(`PUBLISH ${channel}`, () => this.#main.publish(channel, body));
  }

  async subscribeLogs(
    filter: { level?: string; identity?: string },
    onMessage: (message: LogMessage) => void,
    options: { clientName?: string } = {},
  ): Promise<LogSubscription> {
    const pattern = logPattern(filter);
    const sub = this.#connect("subscriber", options.clientName || undefined);
    sub.on("pmessage", (_pattern: string, channel: string, message: string) => {
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
    });
    try {
      await this.#r(`PSUBSCRIBE ${pattern}`, () => sub.psubscribe(pattern));
    } catch (err) {
      sub.disconnect();
      this.#connections.delete(sub);
      throw err;
    }
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        this.#connections.delete(sub);
        try {
          if (sub.status === "ready") await sub.quit();
          else sub.disconnect();
        } catch {
          sub.disconnect();
        }
      },
    };
  }
}

function throwFirstError(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error("transaction aborted");
  for (const [err] of results) if (err) throw err;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `send` with the connection's socket corked, so that the commands it issues (written at once
 * by ioredis when connected) leave in one write. Queued commands of a connection not ready yet are
 * sent in order when it is.
 */
function inOneWrite<T>(conn: Redis, send: () => T): T {
  const stream = conn.status === "ready" ? conn.stream : undefined;
  if (!stream || stream.destroyed) return send();
  stream.cork();
  try {
    return send();
  } finally {
    stream.uncork();
  }
}

/**
 * The garbage collector of karton-system (wire-protocol spec §6), incremental.
 *
 * A pass is a sequence of small steps, run beside the router (which routes between and during
 * them: routing latency stays flat during a pass over millions of tasks), and memory stays bounded
 * by one chunk:
 *
 * 1. `binds`: non-persistent binds of offline consumers are removed with their queues (§6.2);
 * 2. `tasks`: one chunk (≤ 250 documents) per step, each task judged by {@link gcDecision};
 *    deletions and crashes of the chunk are written before the next step;
 * 3. `list-objects`: every version and delete marker of the default bucket, a page per step (taken BEFORE scanning
 *    tasks, §6.3);
 * 4. `resources`: one chunk per step, removing referenced keys from the listing;
 * 5. `delete-objects`: what is left, ≤ 100 entries (one request) per step.
 *
 * An error in any step is logged and ends the pass (like Python, where an exception in the task phase
 * also skips the resource phase); nothing is deleted from S3 unless every task was read.
 */
import type { KartonBackend } from "../backend/backend.js";
import { KartonMetric, type QuarantineRecord, type RawTask } from "../backend/types.js";
import { parse } from "../json/index.js";
import type { Logger } from "../service/logging.js";
import { taskFromDocument } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import { nowSeconds, type Task } from "../task/task.js";
import { deletionEntries, forEachReferencedKey, parseForGc, textMentions } from "./gc-resources.js";
import {
  type GcContext,
  type GcTaskView,
  gcDecision,
  isDispatchedOrphanCandidate,
  STARTED_TIMEOUT_ERROR,
} from "./gc-rules.js";
import type { QuarantineReporter } from "./quarantine.js";
import { errorMessage } from "./route.js";

export { gcDecision, STARTED_TIMEOUT_ERROR } from "./gc-rules.js";

/** The backend operations the collector uses. */
export type GcBackend = Pick<
  KartonBackend,
  | "getBinds"
  | "onlineClients"
  | "dropConsumer"
  | "scanTasks"
  | "unroutedSnapshot"
  | "collectTasks"
  | "saveTasks"
  | "incrementMetrics"
  | "objects"
  | "defaultBucket"
>;

export interface GcOptions {
  /** Seconds (`[system] task_dispatched_timeout`). */
  dispatchedTimeout: number;
  /** Seconds (`[system] task_started_timeout`). */
  startedTimeout: number;
  /** Seconds (`[system] task_crashed_timeout`). */
  crashedTimeout: number;
  /** `[system] crash_started_tasks_on_timeout`. */
  crashStartedOnTimeout: boolean;
  /** `[system] enable_null_version_deletion`. */
  enableNullVersionDeletion: boolean;
  /** Identity written as `reporter` of quarantine records. */
  reporter: string;
  /**
   * Documents read (MGET) and judged per step (default 250; Python reads 1000 at a time): a step's
   * synchronous part (parsing) delays routing, which runs beside the collector, by that much.
   */
  chunkSize?: number;
  /** S3 entries deleted per step (default 100: one DeleteObjects request per step). */
  deleteBatch?: number;
  /**
   * Maximum age in seconds of the unrouted snapshot used for rule 2 (default 2). The snapshot is
   * only fetched when a chunk holds a Declared task past the dispatched timeout.
   */
  unroutedMaxAge?: number;
  /** Clock in float seconds (tests). */
  now?: () => number;
}

/** Figures of one pass. */
export interface GcPassStats {
  startedAt: number;
  finishedAt: number;
  /** Identities whose non-persistent binds and queues were removed. */
  clearedConsumers: string[];
  tasksScanned: number;
  tasksDeleted: number;
  tasksCrashed: number;
  /** Documents that could not be read (kept, reported to the quarantine once). */
  tasksUnreadable: number;
  objectsListed: number;
  /** Object keys deleted (with all their versions). */
  objectsDeleted: number;
  /** DeleteObjects entries sent (versions and delete markers). */
  versionsDeleted: number;
  /** The pass ended on an error. */
  failed: boolean;
  steps: number;
}

type Phase = "idle" | "binds" | "tasks" | "list-objects" | "resources" | "delete-objects";

/** The collector. Call {@link start} when a pass is due, then {@link step} until it returns false. */
export class GarbageCollector {
  readonly #backend: GcBackend;
  readonly #log: Logger;
  readonly #quarantine: QuarantineReporter;
  readonly #options: Required<Omit<GcOptions, "now">>;
  readonly #now: () => number;

  #phase: Phase = "idle";
  #stats: GcPassStats = emptyStats(0);
  #cleared = new Set<string>();
  #crashed = new Set<string>();
  #scan: AsyncIterator<RawTask[]> | undefined;
  #unrouted: { set: Set<string>; at: number } | undefined;
  #versions = new Map<string, string[]>();
  #listCursor: string | undefined;
  #entries: { key: string; versionId?: string }[] = [];
  #entryIndex = 0;
  #last: GcPassStats | undefined;
  #warnedNoBucket = false;

  constructor(backend: GcBackend, log: Logger, quarantine: QuarantineReporter, options: GcOptions) {
    this.#backend = backend;
    this.#log = log;
    this.#quarantine = quarantine;
    this.#now = options.now ?? nowSeconds;
    this.#options = {
      dispatchedTimeout: options.dispatchedTimeout,
      startedTimeout: options.startedTimeout,
      crashedTimeout: options.crashedTimeout,
      crashStartedOnTimeout: options.crashStartedOnTimeout,
      enableNullVersionDeletion: options.enableNullVersionDeletion,
      reporter: options.reporter,
      chunkSize: options.chunkSize ?? 250,
      deleteBatch: options.deleteBatch ?? 100,
      unroutedMaxAge: options.unroutedMaxAge ?? 2,
    };
  }

  /** True while a pass is in progress. */
  get active(): boolean {
    return this.#phase !== "idle";
  }

  /** The current phase (for logs and tests). */
  get phase(): Phase {
    return this.#phase;
  }

  /** Figures of the last finished pass. */
  get lastPass(): GcPassStats | undefined {
    return this.#last;
  }

  /** Begins a pass (no-op while one is in progress). */
  start(): void {
    if (this.active) return;
    this.#stats = emptyStats(this.#now());
    this.#cleared = new Set();
    this.#crashed = new Set();
    this.#unrouted = undefined;
    this.#versions = new Map();
    this.#listCursor = undefined;
    this.#entries = [];
    this.#entryIndex = 0;
    this.#phase = "binds";
    this.#log.debug("GC: pass started");
  }

  /** Runs a whole pass (tests, tools); returns its figures. */
  async runPass(): Promise<GcPassStats> {
    this.start();
    while (await this.step()) {
      // one chunk at a time
    }
    return this.#last as GcPassStats;
  }

  /** Stops a pass in progress (shutdown); nothing more is deleted. */
  async abort(): Promise<void> {
    if (!this.active) return;
    await this.#closeScan();
    this.#phase = "idle";
  }

  /** Performs one step of the pass in progress; returns false once the pass is over (or idle). */
  async step(): Promise<boolean> {
    if (this.#phase === "idle") return false;
    this.#stats.steps++;
    try {
      switch (this.#phase) {
        case "binds":
          await this.#stepBinds();
          break;
        case "tasks":
          await this.#stepTasks();
          break;
        case "list-objects":
          await this.#stepListObjects();
          break;
        case "resources":
          await this.#stepResources();
          break;
        case "delete-objects":
          await this.#stepDeleteObjects();
          break;
      }
    } catch (error) {
      this.#log.exception(`GC failed during the ${this.#phase} phase; the pass is abandoned`, error);
      this.#stats.failed = true;
      await this.#closeScan();
      this.#finish();
    }
    return this.active;
  }

  // ---- phases -------------------------------------------------------------------------------------

  async #stepBinds(): Promise<void> {
    const [snapshot, clients] = await Promise.all([this.#backend.getBinds(), this.#backend.onlineClients()]);
    const online = new Set(clients.map((client) => client.identity));
    for (const bind of snapshot.binds) {
      if (bind.persistent || online.has(bind.identity)) continue;
      this.#log.info(`GC: non-persistent consumer ${bind.identity} is offline: removing its bind and queues`);
      await this.#backend.dropConsumer(bind.identity);
      this.#cleared.add(bind.identity);
      this.#stats.clearedConsumers.push(bind.identity);
    }
    // Not `unique`: the scan must not remember millions of keys; a key SCAN returns twice is harmless
    // (collectTasks counts only what it deleted; crashes are remembered per pass).
    this.#scan = this.#backend
      .scanTasks({ chunkSize: this.#options.chunkSize, unique: false })
      [Symbol.asyncIterator]();
    this.#phase = "tasks";
  }

  async #stepTasks(): Promise<void> {
    const next = await (this.#scan as AsyncIterator<RawTask[]>).next();
    if (next.done) {
      this.#scan = undefined;
      this.#endTaskPhase();
      return;
    }
    const chunk = dedupe(next.value);
    this.#stats.tasksScanned += chunk.length;
    await this.#refreshCleared();

    // Only what the rules need is kept from each document (its parsed tree is garbage at once, which
    // keeps a pass over millions of documents small in memory).
    const tasks: { view: GcTaskView; origin: unknown; raw: RawTask }[] = [];
    const unreadable: QuarantineRecord[] = [];
    for (const raw of chunk) {
      try {
        const task = taskFromDocument(parseForGc(raw.raw), { decodeResources: false });
        if (task.uid !== raw.uid) throw new Error(`the document's uid is ${JSON.stringify(task.uid)}`);
        const receiver = task.headers.receiver;
        tasks.push({
          raw,
          origin: task.headers.origin,
          view: {
            uid: raw.uid,
            status: task.status,
            lastUpdate: task.lastUpdate,
            receiver: typeof receiver === "string" ? receiver : null,
          },
        });
      } catch (error) {
        this.#stats.tasksUnreadable++;
        unreadable.push(this.#unreadableRecord(raw, `kept by the garbage collector: ${errorMessage(error)}`));
      }
    }
    await this.#reportUnreadable(unreadable);

    const now = this.#now();
    const ctx: GcContext = {
      now,
      cleared: this.#cleared,
      unrouted: { has: () => true },
      dispatchedTimeout: this.#options.dispatchedTimeout,
      startedTimeout: this.#options.startedTimeout,
      crashedTimeout: this.#options.crashedTimeout,
      crashStartedOnTimeout: this.#options.crashStartedOnTimeout,
    };
    const needsUnrouted = tasks.some(
      ({ view }) =>
        !(view.receiver !== null && this.#cleared.has(view.receiver)) &&
        isDispatchedOrphanCandidate(view, ctx),
    );
    if (needsUnrouted) {
      const unrouted = await this.#unroutedSnapshot(now);
      ctx.unrouted = unrouted;
    }

    const toDelete: { uid: string; receiver: string | null }[] = [];
    const toCrash: Task[] = [];
    for (const { view, origin, raw } of tasks) {
      const decision = gcDecision(view, ctx);
      if (decision.action === "keep") continue;
      if (decision.action === "crash") {
        // A SCAN may return a key twice: crash (and count) it once per pass.
        if (this.#crashed.has(view.uid)) continue;
        this.#crashed.add(view.uid);
        // Written back: read again with the lossless parser (exact numbers in the payload).
        const task = taskFromDocument(parse(raw.raw), { decodeResources: false });
        task.status = TaskState.Crashed;
        task.lastUpdate = now;
        task.error = [STARTED_TIMEOUT_ERROR];
        toCrash.push(task);
        this.#log.warning(
          `Task ${view.uid} is in Started state more than ${this.#options.startedTimeout} seconds. Crashed. (receiver: ${view.receiver ?? "<unknown>"})`,
        );
        continue;
      }
      toDelete.push({ uid: view.uid, receiver: view.receiver });
      this.#logDeletion(view, decision.rule, origin);
    }
    if (toDelete.length > 0) {
      await this.#backend.collectTasks(toDelete);
      this.#stats.tasksDeleted += toDelete.length;
      this.#log.info(`GC: Removed ${toDelete.length} tasks`);
    }
    if (toCrash.length > 0) {
      await this.#backend.saveTasks(toCrash);
      await this.#backend.incrementMetrics(
        KartonMetric.Crashed,
        toCrash.map((task) => receiverOf(task) ?? "unknown"),
      );
      this.#stats.tasksCrashed += toCrash.length;
      this.#log.info(`GC: Crashed ${toCrash.length} tasks`);
    }
  }

  #endTaskPhase(): void {
    if (this.#backend.defaultBucket === undefined) {
      if (!this.#warnedNoBucket) {
        this.#warnedNoBucket = true;
        this.#log.warning("GC: no default bucket configured ([s3] bucket): the resource phase is skipped");
      }
      this.#finish();
      return;
    }
    this.#phase = "list-objects";
  }

  async #stepListObjects(): Promise<void> {
    const bucket = this.#backend.defaultBucket as string;
    // The listing MUST be taken before the tasks are scanned (spec §6.3): a task is registered before
    // its resources are uploaded, so every object listed here is referenced by a task the scan sees.
    const objects = this.#backend.objects;
    if (objects.listObjectVersionsPage) {
      // One page per step, so that routing goes on while a big bucket is listed.
      const page = await objects.listObjectVersionsPage(bucket, this.#listCursor);
      for (const [key, versionId] of page.versions) {
        const ids = this.#versions.get(key);
        if (ids === undefined) this.#versions.set(key, [versionId]);
        else ids.push(versionId);
      }
      this.#listCursor = page.next;
      if (page.next !== undefined) return;
    } else {
      this.#versions = await objects.listObjectVersions(bucket);
    }
    this.#stats.objectsListed = this.#versions.size;
    if (this.#versions.size === 0) {
      this.#finish();
      return;
    }
    // Not `unique`: the scan must not remember millions of keys; a key SCAN returns twice is harmless
    // (collectTasks counts only what it deleted; crashes are remembered per pass).
    this.#scan = this.#backend
      .scanTasks({ chunkSize: this.#options.chunkSize, unique: false })
      [Symbol.asyncIterator]();
    this.#phase = "resources";
  }

  async #stepResources(): Promise<void> {
    const bucket = this.#backend.defaultBucket as string;
    const next = await (this.#scan as AsyncIterator<RawTask[]>).next();
    if (!next.done) {
      const versions = this.#versions;
      const unreadable: QuarantineRecord[] = [];
      for (const raw of next.value) {
        const ok = forEachReferencedKey(raw.raw, bucket, (key) => {
          versions.delete(key);
        });
        if (!ok) {
          // Keep every object the unreadable document mentions anywhere.
          for (const key of textMentions(raw.raw, versions.keys())) versions.delete(key);
          unreadable.push(this.#unreadableRecord(raw, "its resources are unknown to the garbage collector"));
        }
      }
      await this.#reportUnreadable(unreadable);
      if (versions.size > 0) return;
      await this.#closeScan();
    }
    this.#scan = undefined;
    if (this.#versions.size === 0) {
      this.#finish();
      return;
    }
    this.#entries = deletionEntries(this.#versions, this.#options.enableNullVersionDeletion);
    this.#entryIndex = 0;
    this.#stats.objectsDeleted = this.#versions.size;
    this.#log.info(
      `GC: removing ${this.#versions.size} unreferenced objects (${this.#entries.length} versions) from bucket ${bucket}`,
    );
    this.#phase = "delete-objects";
  }

  async #stepDeleteObjects(): Promise<void> {
    const bucket = this.#backend.defaultBucket as string;
    const batch = this.#entries.slice(this.#entryIndex, this.#entryIndex + this.#options.deleteBatch);
    if (batch.length > 0) {
      await this.#backend.objects.deleteObjects(bucket, batch);
      this.#entryIndex += batch.length;
      this.#stats.versionsDeleted += batch.length;
    }
    if (this.#entryIndex >= this.#entries.length) this.#finish();
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /** Identities that registered a bind again since they were cleared keep their new tasks. */
  async #refreshCleared(): Promise<void> {
    if (this.#cleared.size === 0) return;
    const snapshot = await this.#backend.getBinds();
    for (const bind of snapshot.binds) {
      if (this.#cleared.delete(bind.identity)) {
        this.#log.info(`GC: consumer ${bind.identity} registered again; its tasks are kept`);
      }
    }
    for (const invalid of snapshot.invalid) this.#cleared.delete(invalid.identity);
  }

  async #unroutedSnapshot(now: number): Promise<Set<string>> {
    const cached = this.#unrouted;
    if (cached !== undefined && now - cached.at <= this.#options.unroutedMaxAge) return cached.set;
    const set = await this.#backend.unroutedSnapshot();
    this.#unrouted = { set, at: this.#now() };
    return set;
  }

  #logDeletion(view: GcTaskView, rule: number, origin: unknown): void {
    const o = this.#options;
    switch (rule) {
      case 1:
        this.#log.debug(`GC: Task ${view.uid} belongs to removed consumer ${view.receiver}. Killed.`);
        break;
      case 2: {
        this.#log.warning(
          `Task ${view.uid} is in Dispatched state more than ${o.dispatchedTimeout} seconds. Killed. (origin: ${typeof origin === "string" ? origin : "<unknown>"})`,
        );
        break;
      }
      case 3:
        this.#log.warning(
          `Task ${view.uid} is in Started state more than ${o.startedTimeout} seconds. Killed. (receiver: ${view.receiver ?? "<unknown>"})`,
        );
        break;
      case 4:
        this.#log.debug(`GC: Finished task ${view.uid}`);
        break;
      case 5:
        this.#log.debug(
          `GC: Task ${view.uid} is in Crashed state more than ${o.crashedTimeout} seconds. Killed. (receiver: ${view.receiver ?? "<unknown>"})`,
        );
        break;
    }
  }

  #unreadableRecord(raw: RawTask, what: string): QuarantineRecord {
    return {
      subject: raw.uid,
      kind: "task",
      reason: `task ${raw.uid} cannot be read; ${what}`,
      raw: raw.raw,
      at: this.#now(),
      reporter: this.#options.reporter,
    };
  }

  async #reportUnreadable(records: QuarantineRecord[]): Promise<void> {
    if (records.length === 0) return;
    const fresh = records.filter((record) => !this.#quarantine.seen(record));
    if (fresh.length === 0) return;
    for (const record of fresh) this.#log.error(`GC: ${record.reason}`);
    try {
      await this.#quarantine.report(fresh);
    } catch (error) {
      this.#log.exception("GC: cannot record unreadable tasks in the quarantine", error);
    }
  }

  async #closeScan(): Promise<void> {
    const scan = this.#scan;
    this.#scan = undefined;
    if (scan?.return) {
      try {
        await scan.return();
      } catch {
        // the scan is abandoned anyway
      }
    }
  }

  #finish(): void {
    this.#phase = "idle";
    this.#versions = new Map();
    this.#entries = [];
    this.#unrouted = undefined;
    this.#stats.finishedAt = this.#now();
    this.#last = this.#stats;
    const s = this.#stats;
    if (!s.failed) {
      // One line per pass (every gc_interval): how long it took and what it did.
      this.#log.info(
        `GC: pass done in ${(s.finishedAt - s.startedAt).toFixed(3)} s: ${s.tasksScanned} tasks scanned, ` +
          `${s.tasksDeleted} removed, ${s.tasksCrashed} crashed, ${s.objectsDeleted} objects removed`,
      );
    }
  }
}

function emptyStats(at: number): GcPassStats {
  return {
    startedAt: at,
    finishedAt: at,
    clearedConsumers: [],
    tasksScanned: 0,
    tasksDeleted: 0,
    tasksCrashed: 0,
    tasksUnreadable: 0,
    objectsListed: 0,
    objectsDeleted: 0,
    versionsDeleted: 0,
    failed: false,
    steps: 0,
  };
}

function receiverOf(task: Task): string | null {
  const receiver = task.headers.receiver;
  return typeof receiver === "string" ? receiver : null;
}

/** The same key twice in one SCAN chunk (SCAN may repeat keys) is judged once. */
function dedupe(chunk: RawTask[]): RawTask[] {
  const seen = new Set<string>();
  const out: RawTask[] = [];
  for (const raw of chunk) {
    if (seen.has(raw.uid)) continue;
    seen.add(raw.uid);
    out.push(raw);
  }
  return out;
}

/**
 * The routing loop of karton-system (wire-protocol spec §5): takes batches of unrouted uids, plans
 * their routing with {@link planRoute} and has the backend apply each plan atomically.
 *
 * Differences from Python (documented in docs/system.md): uids are taken into a per-instance claim list
 * (recovered if this process dies) instead of being popped; a batch is applied in one atomic step;
 * unreadable documents are quarantined instead of crashing the router; missing documents are logged.
 */
import type { BindsSnapshot, KartonBackend } from "../backend/backend.js";
import type { RoutePlan } from "../backend/types.js";
import { type Logger, LogLevel, type LogRecord } from "../service/logging.js";
import { parseTask } from "../task/document.js";
import { isTaskState } from "../task/enums.js";
import { nowSeconds, type Task } from "../task/task.js";
import type { QuarantineReporter } from "./quarantine.js";
import {
  BindsCompiler,
  type CompiledBinds,
  errorMessage,
  type FilterCompiler,
  type FilterValidator,
  planRoute,
} from "./route.js";

export type RouterBackend = Pick<
  KartonBackend,
  | "takeUnrouted"
  | "takeRoutingBatch"
  | "getRawTasks"
  | "getBinds"
  | "applyRoutePlan"
  | "takeLegacyOperations"
  | "publishLegacyOperations"
  | "saveTasks"
>;

export interface RouterOptions {
  /** Identity of this karton-system (quarantine reporter). */
  identity: string;
  /** `[system] enable_task_tracking`. */
  taskTracking: boolean;
  /** `[system] task_tracking_ttl` in seconds. */
  taskTrackingTtl: number;
  /** Uids per batch (default 100, as Python's ≤ 101). */
  batchSize?: number;
  /** `[system] max_task_size` in bytes; 0 or undefined = no limit. */
  maxTaskSize?: number;
  /** Republish legacy operations on `karton.log.info.karton.operations` (log publishing on). */
  publishOperations?: boolean;
  /** Minimum interval between polls of the legacy `karton.operations` list, ms (default 1000). */
  legacyPollMs?: number;
  /** Minimum interval between two error logs about the same bind's filters, ms (default 60 000). */
  bindErrorLogIntervalMs?: number;
  /** The filter engine's compiler for routing (lenient `compileFilters` of src/filters). */
  compileFilters: FilterCompiler;
  /** Strict validation: binds failing it are reported (log + quarantine) but still routed to. */
  validateFilters?: FilterValidator;
  now?: () => number;
}

/** What one call of {@link Router.routeBatch} did. */
export interface BatchResult {
  taken: number;
  routed: number;
  forks: number;
  quarantined: number;
  missing: number;
}

const EMPTY: BatchResult = Object.freeze({ taken: 0, routed: 0, forks: 0, quarantined: 0, missing: 0 });

export class Router {
  readonly #backend: RouterBackend;
  readonly #log: Logger;
  readonly #quarantine: QuarantineReporter;
  readonly #options: Required<
    Omit<RouterOptions, "compileFilters" | "validateFilters" | "now" | "maxTaskSize">
  >;
  readonly #maxTaskSize: number;
  readonly #compiler: BindsCompiler;
  readonly #now: () => number;
  /**
   * Plans made and not applied yet, oldest first. The first one may be being applied (`#applying`):
   * after a full batch its apply runs while the next batch is taken and planned. A plan whose apply
   * failed stays here and is retried (in order, the same forks) before anything new is taken.
   */
  #plans: RoutePlan[] = [];
  #applying: Promise<void> | undefined;
  #lastLegacyPoll = 0;
  #bindErrorLog = new Map<string, { lastLogged: number; suppressed: number }>();

  constructor(backend: RouterBackend, log: Logger, quarantine: QuarantineReporter, options: RouterOptions) {
    this.#backend = backend;
    this.#log = log;
    this.#quarantine = quarantine;
    this.#now = options.now ?? nowSeconds;
    this.#compiler = new BindsCompiler(options.compileFilters, options.validateFilters);
    this.#maxTaskSize = options.maxTaskSize ?? 0;
    this.#options = {
      identity: options.identity,
      taskTracking: options.taskTracking,
      taskTrackingTtl: options.taskTrackingTtl,
      batchSize: options.batchSize ?? 100,
      publishOperations: options.publishOperations ?? true,
      legacyPollMs: options.legacyPollMs ?? 1000,
      bindErrorLogIntervalMs: options.bindErrorLogIntervalMs ?? 60_000,
    };
  }

  /**
   * True while a planned batch still waits to be applied (its uids are claimed by this instance):
   * being applied after a full batch, or failed and waiting for a retry. See {@link flush}.
   */
  get hasPending(): boolean {
    return this.#plans.length > 0;
  }

  /**
   * Routes one batch: takes up to `batchSize` uids (waiting up to `blockSeconds` for the first),
   * reads their documents and the binds, plans and applies. A plan that fails to apply is kept and
   * retried by the next call (the same forks, so a retry never routes twice). Throws on storage errors.
   *
   * After a full batch the apply is started but not awaited: it runs in Redis while the next call
   * takes and plans the next batch (which waits for it before starting its own apply), so that the
   * router and Redis work at the same time. A partial batch (the queue is drained) is applied before
   * returning. Call {@link flush} before stopping.
   */
  async routeBatch(blockSeconds: number): Promise<BatchResult> {
    if (this.#plans.length > 0 && this.#applying === undefined) {
      await this.flush();
      return EMPTY;
    }
    const { taken, raws, snapshot } = await this.#take(blockSeconds);
    if (taken.length === 0) {
      await this.flush();
      return EMPTY;
    }
    const binds = this.#compiler.compile(snapshot);
    await this.#reportInvalidBinds(binds);

    const outcome = planRoute(
      taken,
      raws,
      binds,
      {
        taskTracking: this.#options.taskTracking,
        ttl: this.#options.taskTrackingTtl,
        reporter: this.#options.identity,
        maxTaskSize: this.#maxTaskSize,
      },
      this.#now(),
    );
    for (const uid of outcome.missing) {
      this.#log.warning(`Task ${uid} taken from karton.tasks has no document any more; skipped`);
    }
    for (const record of outcome.plan.quarantined) this.#log.error(`${record.reason}; quarantined`);
    this.#logBindErrors(outcome.bindErrors);

    this.#plans.push(outcome.plan);
    await this.#settle();
    this.#startApply();
    // Logged once the apply is on its way: the records leave right after it, in the same write.
    this.#logProcessing(outcome.routed);
    if (taken.length < this.#options.batchSize) await this.flush();
    return {
      taken: taken.length,
      routed: outcome.routed.length,
      forks: outcome.plan.forks.length,
      quarantined: outcome.plan.quarantined.length,
      missing: outcome.missing.length,
    };
  }

  /**
   * "[<root_uid>] Processing task <short uid>" at INFO for every routed task, as Python. This is the
   * hot path of the router (one record per task), so the records are handed to the logger's
   * handlers directly, all at once, with a fixed source location instead of capturing a stack trace
   * for each.
   */
  #logProcessing(routed: readonly { uid: string; rootUid: string }[]): void {
    const log = this.#log;
    if (routed.length === 0 || !log.isEnabledFor(LogLevel.INFO)) return;
    const handlers = log.handlers;
    if (handlers.length === 0) return;
    const created = Date.now() / 1000;
    const records: LogRecord[] = [];
    for (const task of routed) {
      records.push({
        name: log.name,
        levelno: LogLevel.INFO,
        levelname: "INFO",
        message: `[${task.rootUid}] Processing task ${shortUid(task.uid)}`,
        created,
        filename: "router.ts",
        module: "router",
        lineno: 0,
        funcName: "routeBatch",
        extra: {},
      });
    }
    // One write per handler for the whole batch where the handler can (console, publishing).
    for (const handler of handlers) {
      try {
        if (handler.handleBatch) handler.handleBatch(records);
        else for (const record of records) handler.handle(record);
      } catch {
        // a failing handler must not stop routing (the logger reports its own failures)
      }
    }
  }

  /** Takes a batch with its documents and the binds: in one step when the backend can. */
  async #take(
    blockSeconds: number,
  ): Promise<{ taken: string[]; raws: (string | null)[]; snapshot: BindsSnapshot }> {
    const backend = this.#backend;
    if (backend.takeRoutingBatch) {
      const batch = await backend.takeRoutingBatch(this.#options.batchSize, blockSeconds);
      return { taken: batch.taken, raws: batch.raws, snapshot: batch.binds };
    }
    const taken = await backend.takeUnrouted(this.#options.batchSize, blockSeconds);
    if (taken.length === 0) return { taken, raws: [], snapshot: { binds: [], invalid: [] } };
    const [raws, snapshot] = await Promise.all([backend.getRawTasks(taken), backend.getBinds()]);
    return { taken, raws, snapshot };
  }

  /**
   * Applies every planned batch, in order (waiting for the one being applied first). Throws when one
   * fails; it stays planned and is retried by the next call of this or {@link routeBatch}.
   */
  async flush(): Promise<void> {
    await this.#settle();
    while (this.#plans.length > 0) {
      this.#startApply();
      await this.#settle();
    }
  }

  /** Starts applying the oldest plan. */
  #startApply(): void {
    const plan = this.#plans[0] as RoutePlan;
    const applying = this.#backend.applyRoutePlan(plan).then(() => {
      if (this.#plans[0] === plan) this.#plans.shift();
      this.#quarantine.remember(plan.quarantined);
    });
    applying.catch(() => undefined); // observed by #settle
    this.#applying = applying;
  }

  /** Waits for the apply in progress, if any; rethrows its failure (the plan stays planned). */
  async #settle(): Promise<void> {
    const applying = this.#applying;
    if (applying === undefined) return;
    try {
      await applying;
    } finally {
      this.#applying = undefined;
    }
  }

  async #reportInvalidBinds(binds: CompiledBinds): Promise<void> {
    if (binds.newlyInvalid.length === 0) return;
    const at = this.#now();
    const records = binds.newlyInvalid.map((inv) => ({
      subject: inv.identity,
      kind: "bind" as const,
      reason: inv.skipped
        ? `bind of ${inv.identity} is skipped by the router: ${inv.reason}`
        : `bind of ${inv.identity} has ${inv.reason}; it matches no task where they fail to evaluate`,
      raw: inv.raw,
      at,
      reporter: this.#options.identity,
    }));
    for (const record of records) this.#log.error(`${record.reason}; quarantined`);
    try {
      await this.#quarantine.report(records);
    } catch (error) {
      this.#log.exception("Cannot record invalid binds in the quarantine", error);
    }
  }

  #logBindErrors(errors: { identity: string; uid: string; error: unknown }[]): void {
    if (errors.length === 0) return;
    const nowMs = this.#now() * 1000;
    for (const { identity, uid, error } of errors) {
      const state = this.#bindErrorLog.get(identity);
      if (state !== undefined && nowMs - state.lastLogged < this.#options.bindErrorLogIntervalMs) {
        state.suppressed++;
        continue;
      }
      const suppressed = state?.suppressed ?? 0;
      this.#bindErrorLog.set(identity, { lastLogged: nowMs, suppressed: 0 });
      this.#log.error(
        `Filters of bind ${identity} failed on the headers of task ${uid}: ${errorMessage(error)}; treated as no match` +
          (suppressed > 0 ? ` (${suppressed} similar errors of this bind not logged)` : ""),
      );
    }
  }

  /**
   * Handles legacy `karton.operations` status requests of Karton ≤ 4.3 clients (spec §5.6), at most
   * every `legacyPollMs` unless `force`. Returns how many bodies were taken.
   */
  async handleLegacyOperations(force = false): Promise<number> {
    const nowMs = this.#now() * 1000;
    if (!force && nowMs - this.#lastLegacyPoll < this.#options.legacyPollMs) return 0;
    this.#lastLegacyPoll = nowMs;
    const bodies = await this.#backend.takeLegacyOperations(1000);
    if (bodies.length === 0) return 0;
    const tasks: Task[] = [];
    const valid: string[] = [];
    for (const body of bodies) {
      try {
        const operation = JSON.parse(body) as { status?: unknown; identity?: unknown; task?: unknown };
        if (typeof operation.task !== "string") throw new Error('"task" must be a JSON string');
        if (!isTaskState(operation.status))
          throw new Error(`unknown status ${JSON.stringify(operation.status)}`);
        const task = parseTask(operation.task, { decodeResources: false });
        if (task.status !== operation.status) {
          task.status = operation.status;
          task.lastUpdate = this.#now();
          this.#log.info(
            `[${task.rootUid}] ${String(operation.identity)} ${operation.status} task ${task.uid}`,
          );
          tasks.push(task);
        }
        valid.push(body);
      } catch (error) {
        this.#log.error(`Legacy operation skipped (${errorMessage(error)}): ${body.slice(0, 500)}`);
      }
    }
    if (tasks.length > 0) await this.#backend.saveTasks(tasks);
    if (valid.length > 0 && this.#options.publishOperations)
      await this.#backend.publishLegacyOperations(valid);
    return bodies.length;
  }
}

function shortUid(uid: string): string {
  const at = uid.lastIndexOf(":");
  return at < 0 ? uid : uid.slice(at + 1);
}

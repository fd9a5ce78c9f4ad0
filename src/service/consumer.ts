// biome-ignore-all lint/complexity/noThisInStatic: static helpers dispatch on the subclass they are called on (main(), argsParser()).
/**
 * Consumer: registers its bind, takes routed tasks from its queues and runs `process()` on them
 * (spec §11.2–11.8), on the backend's claim operations (a claimed task is never lost if the process
 * dies: karton-system recovers it after `[system] task_claim_timeout`).
 */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { KartonMetric } from "../backend/types.js";
import { type Bind, bindsEqual, parseBind, serializeBind } from "../bind/bind.js";
import type { KartonConfig } from "../config/config.js";
import type { JsonObject } from "../json/values.js";
import { parseTask } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import type { Task } from "../task/task.js";
import { buildBind, type CompiledFilterList, checkFilters } from "./consumer-bind.js";
import { BindRemovedError, KartonServiceError, TaskInterruptedError, TaskTimeoutError } from "./errors.js";
import type { NamedHook, PostHook, PreHook } from "./hooks.js";
import { LogSite, pyRepr } from "./logging.js";
import { KartonServiceBase, type ServiceArgs, type ServiceOptions } from "./service-base.js";
import type { ProcessContext, TaskContext } from "./task-context.js";
import { errorMessage, formatException } from "./traceback.js";

/** The two records logged for every task (their source location is looked up once). */
const RECEIVED_SITE = new LogSite();
const DONE_SITE = new LogSite();

/** How long one claim waits for a task (bounds how fast shutdown and bind changes are noticed). */
export const CLAIM_BLOCK_SECONDS = 1;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 5000;

/** Options of {@link Consumer.loop}. */
export interface LoopOptions {
  /** Handle SIGINT/SIGTERM (first: graceful stop; second: interrupt running tasks). Default true. */
  handleSignals?: boolean;
  /** Aborting this signal requests a graceful stop, like a first SIGINT. */
  signal?: AbortSignal;
}

/** Errors that are about data, not about reaching the store: retrying cannot help. */
function isPermanent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "INVALID_TASK" || code === "INVALID_BIND";
}

function parsePositiveInt(name: string, allowZero: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || (!allowZero && n < 1)) {
      throw new InvalidArgumentError(`${name} must be a${allowZero ? " non-negative" : " positive"} integer`);
    }
    return n;
  };
}

/**
 * Base class of task consumers (seed §3.2). Subclasses set `static identity`, `static filters` and
 * implement `process(task, { signal })`.
 */
export abstract class Consumer extends KartonServiceBase {
  /** Filter rules: a task is routed here when its headers match one of them (spec §7). */
  static filters: JsonObject[] = [];
  /** Whether the queue outlives the consumer (spec §6.2); `[karton] persistent` overrides it. */
  static persistent = true;
  /** Task timeout in seconds; when undefined, `[karton] task_timeout` applies. 0 = none. */
  static taskTimeout: number | undefined = undefined;
  protected static override identityRequired = true;
  protected static override kind = "consumer";

  readonly filters: JsonObject[];
  readonly persistent: boolean;
  /** Effective task timeout in seconds (undefined = none). */
  readonly taskTimeout: number | undefined;
  /** How many tasks run at once in this process (`[karton] concurrency_limit`, `--concurrency`). */
  concurrency: number;
  /** The bind registered by {@link loop}. */
  readonly bind: Bind;

  readonly #compiled: CompiledFilterList;
  readonly #preHooks: NamedHook<PreHook>[] = [];
  readonly #postHooks: NamedHook<PostHook>[] = [];
  #running = false;
  #stopRequested = false;
  #force = new AbortController();
  #waiters = new Set<() => void>();
  #inFlight = new Set<Promise<void>>();
  #abandoned = new Set<Promise<unknown>>();
  /** Claims not yet released (completed, handed back or dropped). */
  #openClaims = 0;

  constructor(options: ServiceOptions = {}) {
    super(options);
    const cls = this.constructor as typeof Consumer;
    const { filters, compiled } = checkFilters(this.identity, cls.filters);
    this.filters = filters;
    this.#compiled = compiled;
    const karton = this.config.kartonOptions();
    this.persistent = this.debug ? false : (karton.persistent ?? cls.persistent);
    const timeout = cls.taskTimeout ?? karton.taskTimeout;
    this.taskTimeout = timeout !== undefined && timeout > 0 ? timeout : undefined;
    this.concurrency = karton.concurrencyLimit;
    this.bind = buildBind({
      identity: this.identity,
      filters: this.filters,
      info: cls.description ?? null,
      persistent: this.persistent,
      serviceVersion: this.serviceVersion,
    });
    this.setupLogger();
  }

  /**
   * Processes one task. `context.signal` is aborted when the task timeout expires or a forced
   * shutdown interrupts the task; the task is then already marked Crashed and the promise abandoned.
   */
  abstract process(task: Task, context: ProcessContext): void | Promise<void>;

  /** Adds a function called (in registration order) before `process()` of every task. */
  addPreHook(callback: PreHook, name?: string): void {
    this.#preHooks.push({ callback, name });
  }

  /** Adds a function called after `process()` of every task with the error it threw, or null. */
  addPostHook(callback: PostHook, name?: string): void {
    this.#postHooks.push({ callback, name });
  }

  /** True while {@link loop} runs. */
  get running(): boolean {
    return this.#running;
  }

  /** How many abandoned `process()` calls (timed out or interrupted) are still running. */
  get abandonedCount(): number {
    return this.#abandoned.size;
  }

  /**
   * Requests a stop: no more tasks are claimed and in-flight tasks finish. With `force`, tasks not
   * yet started are handed back and running ones are interrupted (marked Crashed).
   */
  stop(options: { force?: boolean } = {}): void {
    this.#stopRequested = true;
    if (options.force && !this.#force.signal.aborted) this.#force.abort(new TaskInterruptedError());
    this.#notify();
  }

  /** Alias of {@link loop}. */
  run(options?: LoopOptions): Promise<void> {
    return this.loop(options);
  }

  /**
   * The consumer loop (spec §11.2): registers the bind, then until a stop is requested: re-reads the
   * bind (changed → stop; removed → throws a {@link BindRemovedError}), claims the next task and
   * processes it, up to {@link concurrency} at once. Resolves after a clean stop; store outages are
   * retried with backoff.
   */
  async loop(options: LoopOptions = {}): Promise<void> {
    if (this.#running)
      throw new KartonServiceError("ALREADY_RUNNING", `loop() of ${this.identity} is already running`);
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new KartonServiceError(
        "INVALID_CONCURRENCY",
        `concurrency must be an integer >= 1, got ${this.concurrency}`,
      );
    }
    this.#running = true;
    this.#stopRequested = false;
    this.#force = new AbortController();
    const removeSignalHandlers = options.handleSignals === false ? () => {} : this.#installSignalHandlers();
    const onAbort = () => this.stop();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) this.stop();
    const ttl = this.config.systemOptions().taskClaimTimeout;
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      this.log.info(`Service ${this.identity} started`);
      if (this.taskTimeout !== undefined) this.log.info(`Task timeout is set to ${this.taskTimeout} seconds`);
      if (this.concurrency > 1) this.log.info(`Processing up to ${this.concurrency} tasks at once`);
      await this.connect();
      await this.#retry(
        "Sending the heartbeat",
        () => this.backend.heartbeat("consumer", this.identity, ttl),
        "stop",
      );
      heartbeat = this.#startHeartbeat(ttl);
      const old = await this.#retry(
        "Registering the bind",
        () => this.backend.registerBind(this.bind),
        "stop",
      );
      if (old === null) this.log.info("Service binds created.");
      else if (!bindsEqual(old, this.bind))
        this.log.info("Binds changed, old service instances should exit soon.");
      for (const rule of this.filters) this.log.info(`Binding on: ${pyRepr(rule)}`);
      await this.#dispatch();
    } finally {
      await Promise.allSettled([...this.#inFlight]);
      if (heartbeat) clearInterval(heartbeat);
      options.signal?.removeEventListener("abort", onAbort);
      removeSignalHandlers();
      if (this.#openClaims === 0) {
        await this.backend.retireInstance().catch((error: unknown) => {
          this.log.warning(`Could not retire this instance: ${errorMessage(error)}`);
        });
      } else {
        this.log.warning(
          `${this.#openClaims} claimed task(s) could not be released; karton-system recovers them ` +
            `after task_claim_timeout (${ttl} s)`,
        );
      }
      if (this.#abandoned.size > 0) {
        this.log.warning(`${this.#abandoned.size} abandoned process() call(s) still running at exit`);
      }
      this.#running = false;
    }
  }

  // ---- loop internals ---------------------------------------------------------------------------

  async #dispatch(): Promise<void> {
    let delay = RETRY_MIN_MS;
    // The stored bind value this consumer's bind is known to equal (the one it registered, at first).
    let expectedBind = serializeBind(this.bind);
    while (!this.#stopRequested) {
      while (this.#inFlight.size >= this.concurrency && !this.#stopRequested) await this.#waitChange();
      if (this.#stopRequested) break;
      let claims: { uid: string; raw?: string | null }[];
      try {
        const backend = this.backend;
        if (backend.claimWithBind) {
          // Bind check, claims (one per free slot) and documents in one step (one round trip on Redis).
          const free = this.concurrency - this.#inFlight.size;
          const result = await backend.claimWithBind(this.identity, expectedBind, CLAIM_BLOCK_SECONDS, free);
          if (result.bind !== expectedBind) {
            if (result.bind === null) throw new BindRemovedError(this.identity);
            if (!bindsEqual(parseBind(this.identity, result.bind), this.bind)) {
              this.log.info("Binds changed, shutting down.");
              break;
            }
            expectedBind = result.bind; // the same bind, written differently (e.g. by another replica)
          }
          claims = result.claimed;
        } else {
          const current = await backend.getBind(this.identity);
          if (current === null) throw new BindRemovedError(this.identity);
          if (!bindsEqual(current, this.bind)) {
            this.log.info("Binds changed, shutting down.");
            break;
          }
          const uid = await backend.claimTask(this.identity, CLAIM_BLOCK_SECONDS);
          claims = uid === null ? [] : [{ uid }];
        }
        delay = RETRY_MIN_MS;
      } catch (error) {
        if (error instanceof BindRemovedError || isPermanent(error)) throw error;
        this.log.warning(`Cannot reach the store (${errorMessage(error)}); retrying in ${delay / 1000} s`);
        await this.#sleep(delay, () => this.#stopRequested);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
        continue;
      }
      for (const claim of claims) {
        this.#openClaims++;
        const work: Promise<void> = this.#handleClaim(claim.uid, claim.raw).finally(() => {
          this.#inFlight.delete(work);
          this.#notify();
        });
        this.#inFlight.add(work);
      }
    }
  }

  /**
   * Never rejects: every failure is logged, and the claim is released whenever the store allows.
   * `raw` is the document when it was read with the claim (null: missing; undefined: not read).
   */
  async #handleClaim(uid: string, raw?: string | null): Promise<void> {
    try {
      let task: Task | null;
      try {
        task =
          raw === undefined
            ? await this.#retry(
                `Reading task ${uid}`,
                () => this.backend.getTask(uid, { storage: this.backend.objects }),
                "force",
              )
            : raw === null
              ? null
              : parseTask(raw, { storage: this.backend.objects });
      } catch (error) {
        if (!isPermanent(error)) throw error;
        this.log.error(`Task ${uid} has an unreadable document, dropping it: ${errorMessage(error)}`);
        task = null;
      }
      if (task === null) {
        await this.#retry(`Releasing task ${uid}`, () => this.backend.dropClaim(uid), "force");
        this.#openClaims--;
        return;
      }
      if (this.#stopRequested) {
        const claimed = task;
        await this.#retry(
          `Handing back task ${uid}`,
          () => this.backend.handBackClaimed(claimed, this.identity),
          "force",
        );
        this.#openClaims--;
        this.log.info(`Handed back task ${uid} (shutting down)`);
        return;
      }
      await this.#processClaimed(task);
    } catch (error) {
      this.log.error(`Task ${uid} could not be completed: ${errorMessage(error)}`, { error });
    }
  }

  async #processClaimed(task: Task): Promise<void> {
    const controller = new AbortController();
    const context: TaskContext = { task, signal: controller.signal };
    await this.runWithTask(context, async () => {
      let matches: boolean;
      try {
        matches = this.#compiled.matches(task.headers);
      } catch (error) {
        this.log.warning(
          `Evaluating the filters on task ${task.uid} failed, treating it as no match: ${errorMessage(error)}`,
        );
        matches = false;
      }
      if (!matches) {
        this.log.info("Task rejected because binds are no longer valid.");
        this.log.info(`Rejected task headers: ${pyRepr(task.headers)}`);
        task.setStatus(TaskState.Finished);
        await this.#complete(task, []);
        return;
      }
      this.log.info(`Received new task - ${task.uid}`, { site: RECEIVED_SITE });
      // The Started document is written while process() begins (it leaves with the record above, in
      // one write): not awaited, since the completion, sent later on the same connection, lands
      // after it anyway. A failure only costs the intermediate status: it is logged, and the
      // completion (retried until it succeeds) writes the final document.
      void this.backend.setTaskStatus(task, TaskState.Started).catch((error: unknown) => {
        this.log.warning(`Marking task ${task.uid} Started failed: ${errorMessage(error)}`);
      });
      task.status = TaskState.Started;
      for (const hook of this.#preHooks) {
        try {
          await hook.callback(task);
        } catch (error) {
          this.log.exception(hook.name ? `Pre-hook (${hook.name}) failed` : "Pre-hook failed", error);
        }
      }
      let failure: unknown = null;
      let failed = false;
      try {
        await this.#runProcess(task, controller);
      } catch (error) {
        failure = error;
        failed = true;
      }
      for (const hook of this.#postHooks) {
        try {
          await hook.callback(task, failed ? failure : null);
        } catch (error) {
          this.log.exception(hook.name ? `Post-hook (${hook.name}) failed` : "Post-hook failed", error);
        }
      }
      if (failed) {
        this.log.exception(`Failed to process task - ${task.uid}`, failure);
        task.error = formatException(failure);
        task.setStatus(TaskState.Crashed);
        await this.#complete(task, [KartonMetric.Consumed, KartonMetric.Crashed]);
      } else {
        this.log.info(`Task done - ${task.uid}`, { site: DONE_SITE });
        task.setStatus(TaskState.Finished);
        await this.#complete(task, [KartonMetric.Consumed]);
      }
    });
  }

  /**
   * Runs `process()` raced against the task timeout and a forced shutdown. When one of those wins,
   * the signal is aborted, the error thrown here crashes the task, and the still-running promise is
   * abandoned: it is not awaited (the next task may start at once); its outcome is logged when it
   * settles, and `sendTask` refuses to send from it.
   */
  async #runProcess(task: Task, controller: AbortController): Promise<void> {
    const timeout = this.taskTimeout;
    const force = this.#force.signal;
    const work = (async () => this.process(task, { signal: controller.signal }))();
    let timer: NodeJS.Timeout | undefined;
    let onForce: (() => void) | undefined;
    const guard = new Promise<never>((_, reject) => {
      const abandon = (reason: Error) => {
        controller.abort(reason);
        reject(reason);
      };
      if (timeout !== undefined)
        timer = setTimeout(() => abandon(new TaskTimeoutError(timeout)), timeout * 1000);
      onForce = () => abandon(new TaskInterruptedError());
      if (force.aborted) onForce();
      else force.addEventListener("abort", onForce, { once: true });
    });
    guard.catch(() => undefined);
    try {
      await Promise.race([work, guard]);
    } catch (error) {
      if (controller.signal.aborted && error === controller.signal.reason) this.#abandon(task, work);
      throw error;
    } finally {
      if (timer) clearTimeout(timer);
      if (onForce) force.removeEventListener("abort", onForce);
    }
  }

  #abandon(task: Task, work: Promise<unknown>): void {
    this.#abandoned.add(work);
    work
      .then(
        () => this.log.warning(`Abandoned process() of task ${task.uid} finished after all`),
        (error: unknown) =>
          this.log.warning(
            `Abandoned process() of task ${task.uid} ended with an error: ${errorMessage(error)}`,
          ),
      )
      .finally(() => this.#abandoned.delete(work));
  }

  /** Writes the final document, increments metrics and releases the claim (one atomic backend step). */
  async #complete(task: Task, metrics: KartonMetric[]): Promise<void> {
    await this.#retry(
      `Saving the result of task ${task.uid}`,
      () => this.backend.completeClaimed(task, this.identity, metrics),
      "force",
    );
    this.#openClaims--;
  }

  /**
   * Runs a backend operation, retrying store failures with backoff (0.5 s doubling up to 5 s) until
   * it succeeds, or until a stop (`"stop"`) / forced stop (`"force"`) is requested. Data errors
   * (unreadable task or bind) are not retried.
   */
  async #retry<T>(what: string, fn: () => Promise<T>, until: "stop" | "force"): Promise<T> {
    const giveUp = () => (until === "stop" ? this.#stopRequested : this.#force.signal.aborted);
    let delay = RETRY_MIN_MS;
    let failures = 0;
    for (;;) {
      try {
        const result = await fn();
        if (failures > 0) this.log.info(`${what} succeeded after ${failures} failed attempt(s)`);
        return result;
      } catch (error) {
        if (isPermanent(error) || giveUp()) throw error;
        failures++;
        this.log.warning(`${what} failed (${errorMessage(error)}); retrying in ${delay / 1000} s`);
        await this.#sleep(delay, giveUp);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  #startHeartbeat(ttl: number): NodeJS.Timeout {
    let failing = false;
    return setInterval(
      () => {
        this.backend.heartbeat("consumer", this.identity, ttl).then(
          () => {
            if (failing) this.log.info("Heartbeat restored");
            failing = false;
          },
          (error: unknown) => {
            if (!failing) this.log.warning(`Heartbeat failed: ${errorMessage(error)}`);
            failing = true;
          },
        );
      },
      Math.max(100, (ttl * 1000) / 3),
    );
  }

  #installSignalHandlers(): () => void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (!this.#stopRequested) {
        this.log.info("Got signal, shutting down...");
        this.stop();
      } else {
        this.log.warning(`Got ${signal} again, interrupting running tasks...`);
        this.stop({ force: true });
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    return () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #waitChange(): Promise<void> {
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  /** Sleeps `ms`, waking early when `cancelled()` becomes true (checked on every stop notification). */
  async #sleep(ms: number, cancelled: () => boolean): Promise<void> {
    const end = Date.now() + ms;
    while (!cancelled()) {
      const left = end - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, left);
        }),
        this.#waitChange(),
      ]);
      clearTimeout(timer);
    }
  }

  // ---- command line -----------------------------------------------------------------------------

  static override argsParser(): Command {
    return super
      .argsParser()
      .option("--non-persistent", "Run the service with a non-persistent queue")
      .option(
        "--task-timeout <seconds>",
        "Limit task execution time (used when the class sets none; 0 = no limit)",
        parsePositiveInt("--task-timeout", true),
      )
      .option(
        "--concurrency <n>",
        "How many tasks to process at once (default 1)",
        parsePositiveInt("--concurrency", false),
      )
      .option(
        "--concurrency-limit <n>",
        "Alias of --concurrency (Python asyncio consumers' name)",
        parsePositiveInt("--concurrency-limit", false),
      );
  }

  static override configFromArgs(config: KartonConfig, args: ServiceArgs): void {
    super.configFromArgs(config, args);
    config.loadFromDict(
      {
        karton: {
          persistent: args.nonPersistent === true ? false : undefined,
          task_timeout: args.taskTimeout as number | undefined,
          concurrency_limit: (args.concurrency ?? args.concurrencyLimit) as number | undefined,
        },
      },
      { fromArgs: true },
    );
  }
}

/**
 * karton-system: the broker service (router + garbage collector + claim recovery), wire-compatible
 * with Python karton-core 5.9.1's `karton-system` (spec §5, §6, §10.3). See docs/system.md.
 */
import { performance } from "node:perf_hooks";
import { type Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { KartonBackend } from "../backend/backend.js";
import { createBackend } from "../backend/create-backend.js";
import type { KartonConfig } from "../config/config.js";
import { ConfigError } from "../config/errors.js";
import type { SystemOptions } from "../config/options.js";
import { compileFilters } from "../filters/index.js";
import type { JsonObject } from "../json/index.js";
import {
  EXIT_FATAL,
  EXIT_OK,
  EXIT_USAGE,
  KartonServiceBase,
  type ServiceArgs,
  type ServiceOptions,
} from "../service/service-base.js";
import { nowSeconds } from "../task/task.js";
import { LIBRARY_VERSION } from "../version.js";
import { GarbageCollector } from "./gc.js";
import { QuarantineReporter } from "./quarantine.js";
import { Recovery } from "./recovery.js";
import { errorMessage, type FilterCompiler } from "./route.js";
import { Router } from "./router.js";

export interface SystemServiceOptions extends ServiceOptions {
  /** Create the default bucket when it is missing (`--setup-bucket`). */
  setupBucket?: boolean;
  /** Tuning of the main loop (tests, benchmarks). */
  tuning?: Partial<SystemTuning>;
}

/** Main-loop tuning; the defaults suit production. */
export interface SystemTuning {
  /** Uids per routing batch (default 100). */
  batchSize: number;
  /** Longest wait of an idle router for new tasks, seconds (default 1). */
  routerBlockSeconds: number;
  /**
   * With the router in the same process, the collector pauses after each step for this fraction of
   * the step's duration (default 0.5), leaving CPU to routing (and to Redis) during a pass. 0 = no
   * pause; without a router the collector never pauses.
   */
  gcPauseRatio: number;
  /** Interval of claim recovery, seconds (default: task_claim_timeout / 4, between 1 and 5). */
  recoveryIntervalSeconds: number;
  /** Wait after an unexpected error in the main loop, seconds (default 1, doubling up to 10). */
  errorBackoffSeconds: number;
}

/** Raised (and reported) when the default bucket is missing and `--setup-bucket` was not given. */
export class MissingBucketError extends Error {
  readonly code = "MISSING_BUCKET";
  constructor(
    readonly bucket: string,
    readonly address: string,
  ) {
    super(`bucket ${bucket} does not exist at ${address}; create it or run karton-system --setup-bucket`);
    this.name = "MissingBucketError";
  }
}

/** Integer option parser for commander. */
function integerArg(min: number): (value: string) => number {
  return (value: string) => {
    const text = value.trim();
    if (!/^[+-]?\d+$/.test(text)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
    const n = Number(text);
    if (n < min) throw new InvalidArgumentError(`expected an integer ≥ ${min}, got ${n}`);
    return n;
  };
}

/** Python's `str()` of a config value in the "Effective config" message. */
function pyStr(value: number | boolean): string {
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

/** The "Effective config" message of Python karton-system, plus the karton-ts options. */
export function effectiveConfigMessage(o: SystemOptions): string {
  const lines: [string, number | boolean][] = [
    ["gc_interval", o.gcInterval],
    ["task_dispatched_timeout", o.taskDispatchedTimeout],
    ["task_started_timeout", o.taskStartedTimeout],
    ["task_crashed_timeout", o.taskCrashedTimeout],
    ["enable_gc", o.enableGc],
    ["enable_router", o.enableRouter],
    ["enable_null_version_deletion", o.enableNullVersionDeletion],
    ["enable_task_tracking", o.enableTaskTracking],
    ["task_tracking_ttl", o.taskTrackingTtl],
    ["crash_started_tasks_on_timeout", o.crashStartedTasksOnTimeout],
    ["task_claim_timeout", o.taskClaimTimeout],
    ["task_max_attempts", o.taskMaxAttempts],
    ["max_task_size", o.maxTaskSize],
  ];
  return `Effective config:\n${lines.map(([name, value]) => ` ${name}:\t${pyStr(value)}`).join("\n")}`;
}

export class SystemService extends KartonServiceBase {
  static override identity = "karton.system";
  static override version: string | undefined = LIBRARY_VERSION;
  static override description = "Karton message broker.";
  protected static override withServiceInfo = true;
  protected static override identityRequired = true;
  protected static override kind = "karton-system";

  /** `[system]` options, validated. */
  readonly systemOptions: SystemOptions;
  /** Create the default bucket when missing. */
  setupBucket: boolean;
  readonly tuning: SystemTuning;

  #stopping = false;
  #wakers = new Set<() => void>();
  #router: Router | undefined;
  #gc: GarbageCollector | undefined;

  constructor(options: SystemServiceOptions = {}) {
    super(options);
    this.systemOptions = this.config.systemOptions();
    if (options.backend === undefined && this.systemOptions.enableNullVersionDeletion) {
      // The object store decides how "null" version ids are sent (spec §6.3); the backend made by the
      // base class uses the default (by key only), so make one that sends them explicitly. The
      // discarded backend never connected (connections are lazy).
      void this.backend.close().catch(() => undefined);
      (this as { backend: KartonBackend }).backend = createBackend(this.config, {
        identity: this.identity,
        clientName: this.clientName(),
        onEvent: (event) => this.onBackendEvent(event),
        enableNullVersionDeletion: true,
      });
    }
    this.setupBucket = options.setupBucket ?? false;
    const claim = this.systemOptions.taskClaimTimeout;
    this.tuning = {
      batchSize: 100,
      routerBlockSeconds: 1,
      gcPauseRatio: 0.5,
      recoveryIntervalSeconds: Math.min(5, Math.max(1, claim / 4)),
      errorBackoffSeconds: 1,
      ...options.tuning,
    };
  }

  // ---- command line -----------------------------------------------------------------------------

  static override argsParser(): Command {
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `this` bound to the subclass (identity, version)
    return super
      .argsParser()
      .name("karton-system")
      .option("--setup-bucket", "Create missing bucket in S3 storage")
      .option("--disable-gc", "Do not run GC in this instance")
      .option("--disable-router", "Do not run task routing in this instance")
      .option("--gc-interval <seconds>", "Garbage collection interval", integerArg(1))
      .option(
        "--task-dispatched-timeout <seconds>",
        "Timeout for non-enqueued tasks stuck in Dispatched state (non-graceful shutdown of producer)",
        integerArg(0),
      )
      .option(
        "--task-started-timeout <seconds>",
        "Timeout for non-enqueued tasks stuck in Started state (non-graceful shutdown of consumer)",
        integerArg(0),
      )
      .option("--task-crashed-timeout <seconds>", "Timeout for tasks in Crashed state", integerArg(0))
      .option(
        "--crash-started-task-on-timeout",
        "Crash Started tasks on timeout instead of deleting them (works in karton-ts, unlike Python 5.9.1)",
      )
      .addOption(new Option("--crash-started-tasks-on-timeout").hideHelp())
      .option(
        "--task-claim-timeout <seconds>",
        "karton-ts: seconds without a heartbeat after which tasks claimed by a dead process are recovered",
        integerArg(1),
      )
      .option(
        "--task-max-attempts <n>",
        "karton-ts: hand-outs of a task to consumers that die before it is marked Crashed",
        integerArg(1),
      );
  }

  static override configFromArgs(config: KartonConfig, args: ServiceArgs): void {
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `this` bound to the subclass (identity, version)
    super.configFromArgs(config, args);
    const num = (value: unknown) => (typeof value === "number" ? value : undefined);
    const crash = args.crashStartedTaskOnTimeout === true || args.crashStartedTasksOnTimeout === true;
    config.loadFromDict(
      {
        system: {
          enable_gc: args.disableGc === true ? false : undefined,
          enable_router: args.disableRouter === true ? false : undefined,
          gc_interval: num(args.gcInterval),
          task_dispatched_timeout: num(args.taskDispatchedTimeout),
          task_started_timeout: num(args.taskStartedTimeout),
          task_crashed_timeout: num(args.taskCrashedTimeout),
          crash_started_tasks_on_timeout: crash ? true : undefined,
          task_claim_timeout: num(args.taskClaimTimeout),
          task_max_attempts: num(args.taskMaxAttempts),
        },
      },
      { fromArgs: true },
    );
  }

  static override fromArgs(args: ServiceArgs, options: { env?: NodeJS.ProcessEnv } = {}): SystemService {
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `this` bound to the subclass (identity, version)
    const service = super.fromArgs(args, options) as SystemService;
    service.setupBucket = args.setupBucket === true;
    return service;
  }

  /**
   * `karton-system` entry point: returns 0 after a clean shutdown, 1 on a fatal error (including a
   * missing bucket without `--setup-bucket` — Python exits 0 there), 2 for bad arguments or
   * configuration. Never throws.
   */
  static override async run(argv: readonly string[] = process.argv): Promise<number> {
    let args: ServiceArgs;
    try {
      args = SystemService.parseArgs(argv);
    } catch (error) {
      if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      process.stderr.write(`error: ${errorMessage(error)}\n`);
      return EXIT_USAGE;
    }
    let service: SystemService;
    try {
      service = SystemService.fromArgs(args);
    } catch (error) {
      process.stderr.write(`error: ${errorMessage(error)}\n`);
      const code = (error as { code?: unknown } | null)?.code;
      return error instanceof ConfigError || code === "CONFIG_ERROR" || code === "INVALID_IDENTITY"
        ? EXIT_USAGE
        : EXIT_FATAL;
    }
    const exitCode = await service.serve();
    try {
      await service.close();
    } catch (error) {
      process.stderr.write(`warning: closing the backend failed: ${errorMessage(error)}\n`);
    }
    return exitCode;
  }

  // ---- running ----------------------------------------------------------------------------------

  /** Requests a graceful stop: the batch in hand is finished, then {@link serve} returns. */
  stop(): void {
    this.#stopping = true;
    for (const wake of [...this.#wakers]) wake();
  }

  /** True once a stop was requested. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Runs until stopped (for `main()`-style callers that expect a `loop()`). */
  async loop(): Promise<void> {
    const code = await this.serve();
    if (code !== EXIT_OK) throw new Error(`karton-system stopped with exit code ${code}`);
  }

  /**
   * Runs karton-system with signal handling until SIGINT/SIGTERM or {@link stop}; returns the exit
   * code. Logs instead of throwing.
   */
  async serve(options: { handleSignals?: boolean } = {}): Promise<number> {
    this.setupLogger();
    const handleSignals = options.handleSignals ?? true;
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        this.log.info("Got signal, shutting down...");
        this.stop();
      } else {
        this.log.warning(`Got ${signal} again: exiting without finishing the batch in hand`);
        process.exit(EXIT_FATAL);
      }
    };
    if (handleSignals) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    try {
      return await this.#serve();
    } catch (error) {
      this.log.critical(`karton-system ${this.identity} stopped on a fatal error`, { error });
      return EXIT_FATAL;
    } finally {
      if (handleSignals) {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      await this.logHandler?.flush();
    }
  }

  async #serve(): Promise<number> {
    const o = this.systemOptions;
    this.log.info(effectiveConfigMessage(o));
    this.log.debug(`Configuration (secrets redacted): ${JSON.stringify(this.config.redacted())}`);

    try {
      await this.backend.ping();
    } catch (error) {
      this.log.error(`Cannot connect to the Karton storage: ${errorMessage(error)}`);
      return EXIT_FATAL;
    }
    if (!(await this.#ensureBucket())) return EXIT_FATAL;
    if (this.#stopping) return EXIT_OK;

    this.log.info(`Manager ${this.identity} started`);
    await this.#mainLoop();
    return EXIT_OK;
  }

  /** Checks the default bucket (spec §10.3); creates it with `--setup-bucket`. */
  async #ensureBucket(): Promise<boolean> {
    const bucket = this.backend.defaultBucket;
    let address = "(unknown address)";
    try {
      address = this.config.s3Options().address;
    } catch {
      // reported by the backend already
    }
    if (bucket === undefined || bucket === "") {
      this.log.error(
        `No default bucket configured: set [s3] bucket in karton.ini (or KARTON_S3_BUCKET); karton-system needs it`,
      );
      return false;
    }
    let exists: boolean;
    try {
      exists = await this.backend.objects.bucketExists(bucket);
    } catch (error) {
      this.log.error(`Cannot check bucket ${bucket} at ${address}: ${errorMessage(error)}`);
      return false;
    }
    if (exists) return true;
    if (!this.setupBucket) {
      this.log.error(new MissingBucketError(bucket, address).message);
      return false;
    }
    try {
      await this.backend.objects.createBucket(bucket);
    } catch (error) {
      this.log.error(`Cannot create bucket ${bucket} at ${address}: ${errorMessage(error)}`);
      return false;
    }
    this.log.info(`Bucket ${bucket} was missing. Created a new one.`);
    return true;
  }

  async #mainLoop(): Promise<void> {
    const o = this.systemOptions;
    const t = this.tuning;
    const quarantine = new QuarantineReporter(this.backend);
    const router = o.enableRouter
      ? new Router(this.backend, this.log, quarantine, {
          identity: this.identity,
          taskTracking: o.enableTaskTracking,
          taskTrackingTtl: o.taskTrackingTtl,
          batchSize: t.batchSize,
          maxTaskSize: o.maxTaskSize,
          publishOperations: this.logHandler !== undefined,
          // Binds are written by other processes: compile leniently so that an invalid operator fails
          // (= no match) exactly where Python's router would raise, and report what strict
          // validation finds.
          compileFilters: ((filters) => compileFilters(filters, { validate: false })) as FilterCompiler,
          validateFilters: (filters: JsonObject[]) => {
            compileFilters(filters);
          },
        })
      : undefined;
    const gc = o.enableGc
      ? new GarbageCollector(this.backend, this.log, quarantine, {
          dispatchedTimeout: o.taskDispatchedTimeout,
          startedTimeout: o.taskStartedTimeout,
          crashedTimeout: o.taskCrashedTimeout,
          crashStartedOnTimeout: o.crashStartedTasksOnTimeout,
          enableNullVersionDeletion: o.enableNullVersionDeletion,
          reporter: this.identity,
        })
      : undefined;
    const recovery = new Recovery(this.backend, this.log, quarantine, {
      maxAttempts: o.taskMaxAttempts,
      reporter: this.identity,
    });
    this.#router = router;
    this.#gc = gc;

    let heartbeat: NodeJS.Timeout | undefined;
    if (router) {
      const ttl = o.taskClaimTimeout;
      const beat = () =>
        this.backend.heartbeat("router", this.identity, ttl).catch((error: unknown) => {
          this.log.warning(`Router heartbeat failed: ${errorMessage(error)}`);
        });
      await beat();
      heartbeat = setInterval(beat, Math.max(250, (ttl * 1000) / 3));
    }

    // The collector runs beside the router (its own loop, sharing the connection and the event
    // loop), not between routing batches: a task arriving during a pass is routed at once instead
    // of waiting for a GC slice (and a slow S3 request of the resource phase) to end.
    const collecting = gc ? this.#gcLoop(gc, router ? t.gcPauseRatio : 0) : undefined;
    let lastRecovery = 0;
    let backoff = t.errorBackoffSeconds;
    try {
      while (!this.#stopping) {
        try {
          if (router) {
            const result = await router.routeBatch(t.routerBlockSeconds);
            const busy = result.taken >= t.batchSize || router.hasPending;
            if (!busy && !this.#stopping) await router.handleLegacyOperations();
          }
          if (!this.#stopping && nowSeconds() - lastRecovery >= t.recoveryIntervalSeconds) {
            lastRecovery = nowSeconds();
            await recovery.run();
          }
          if (!router && !this.#stopping) await this.#sleep(1000);
          backoff = t.errorBackoffSeconds;
        } catch (error) {
          if (this.#stopping) break;
          this.log.exception(
            `Unexpected error in the karton-system loop (${errorMessage(error)}); retrying in ${backoff} s`,
            error,
          );
          await this.#sleep(backoff * 1000);
          backoff = Math.min(10, backoff * 2);
        }
      }
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      await this.#shutdown(collecting);
    }
  }

  /**
   * Garbage collection passes, every `gc_interval` seconds (the first one `gc_interval` after the
   * start, as Python), each run step by step until done or until a stop is requested.
   */
  async #gcLoop(gc: GarbageCollector, pauseRatio: number): Promise<void> {
    const interval = this.systemOptions.gcInterval;
    let lastGc = nowSeconds();
    while (!this.#stopping) {
      const due = lastGc + interval - nowSeconds();
      if (due > 0) {
        await this.#sleep(Math.min(due, 1) * 1000);
        continue;
      }
      try {
        gc.start();
        let started = performance.now();
        while (!this.#stopping && (await gc.step())) {
          const took = performance.now() - started;
          // Let routing replies that arrived meanwhile be handled before the next step, and pause.
          if (pauseRatio > 0) await this.#sleep(took * pauseRatio);
          else await new Promise<void>((resolve) => setImmediate(resolve));
          started = performance.now();
        }
      } catch (error) {
        this.log.exception(`Unexpected error in the garbage collector (${errorMessage(error)})`, error);
      }
      lastGc = nowSeconds();
    }
  }

  /** Finishes the batch in hand, stops the GC pass, and retires this instance when nothing is claimed. */
  async #shutdown(collecting: Promise<void> | undefined): Promise<void> {
    const router = this.#router;
    await collecting; // the step in progress ends, no new one starts (stopping)
    for (let attempt = 1; router?.hasPending && attempt <= 3; attempt++) {
      try {
        await router.flush();
      } catch (error) {
        this.log.warning(
          `Cannot apply the routing batch in hand (attempt ${attempt}): ${errorMessage(error)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
    await this.#gc?.abort();
    if (router?.hasPending) {
      this.log.error(
        "Stopping with an unapplied routing batch: its tasks stay claimed by this instance and are " +
          `returned to karton.tasks by another karton-system after task_claim_timeout (${this.systemOptions.taskClaimTimeout} s)`,
      );
      return;
    }
    try {
      await this.backend.retireInstance();
    } catch (error) {
      this.log.warning(`Cannot retire this instance: ${errorMessage(error)}`);
    }
  }

  /** Sleeps, waking up early on {@link stop}. */
  #sleep(ms: number): Promise<void> {
    let wake: () => void = () => {};
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      wake = done;
      this.#wakers.add(done);
    }).finally(() => {
      this.#wakers.delete(wake);
    });
  }
}

import type { LogSubscription } from "../backend/types.js";
import { KartonServiceError } from "./errors.js";
import { KartonServiceBase, type ServiceOptions } from "./service-base.js";
import { errorMessage, formatExceptionText } from "./traceback.js";

/** A received log event: the record body of spec §8.2 (with `task` decoded), or an operation body. */
export type LogEvent = Record<string, unknown>;

/** Options of {@link LogConsumer.loop}. */
export interface LogLoopOptions {
  /** Handle SIGINT/SIGTERM (graceful stop). Default true. */
  handleSignals?: boolean;
  /** Aborting this signal stops the loop. */
  signal?: AbortSignal;
}

/**
 * Receives the log records every service publishes (seed §3.4, spec §8.3). Subscribes to
 * `karton.log.<level or *>.<loggerFilter or *>`; `level` selects exactly one level (not "this level
 * and above") and `loggerFilter` is a service identity (Redis glob syntax allowed).
 * Errors thrown by `processLog` are printed on stderr and ignored.
 */
export abstract class LogConsumer extends KartonServiceBase {
  /** One level to receive (`debug`, `info`, `warning`, `error`, `critical`); all when undefined. */
  static level: string | undefined = undefined;
  /** Identity (glob) of the services whose logs to receive; all when undefined. */
  static loggerFilter: string | undefined = undefined;
  protected static override withServiceInfo = true;
  protected static override kind = "log consumer";

  #stop: (() => void) | undefined;
  #stopRequested = false;

  constructor(options: ServiceOptions = {}) {
    super(options);
    this.setupLogger();
  }

  /** Handles one log event (sync or async). */
  abstract processLog(event: LogEvent): void | Promise<void>;

  /** Stops {@link loop}. */
  stop(): void {
    this.#stopRequested = true;
    this.#stop?.();
  }

  /** Subscribes and delivers events to {@link processLog} until stopped. */
  async loop(options: LogLoopOptions = {}): Promise<void> {
    if (this.#stop)
      throw new KartonServiceError("ALREADY_RUNNING", `loop() of ${this.identity} is already running`);
    const cls = this.constructor as typeof LogConsumer;
    this.#stopRequested = false;
    const stopped = new Promise<void>((resolve) => {
      this.#stop = resolve;
    });
    if (options.signal?.aborted) this.stop();
    const onAbort = () => this.stop();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const onSignal = () => {
      this.log.info("Got signal, shutting down...");
      this.stop();
    };
    if (options.handleSignals !== false) {
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    }
    let subscription: LogSubscription | undefined;
    try {
      this.log.info(`Logger ${this.identity} started`);
      const filter: { level?: string; identity?: string } = {};
      if (cls.level !== undefined) filter.level = cls.level.toLowerCase();
      if (cls.loggerFilter !== undefined) filter.identity = cls.loggerFilter;
      await this.connect();
      if (!this.#stopRequested) {
        subscription = await this.backend.subscribeLogs(filter, (message) => this.#deliver(message.body));
      }
      await stopped;
    } finally {
      await subscription?.close().catch((error: unknown) => {
        process.stderr.write(`Closing the log subscription failed: ${errorMessage(error)}\n`);
      });
      options.signal?.removeEventListener("abort", onAbort);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      this.#stop = undefined;
    }
  }

  /** Alias of {@link loop}. */
  run(options?: LogLoopOptions): Promise<void> {
    return this.loop(options);
  }

  #deliver(event: LogEvent): void {
    const report = (error: unknown) => {
      process.stderr.write(
        `Error in ${this.constructor.name}.processLog():\n${formatExceptionText(error)}\n`,
      );
    };
    try {
      const result = this.processLog(event);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  }
}

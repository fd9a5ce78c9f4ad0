// biome-ignore-all lint/complexity/noThisInStatic: static helpers dispatch on the subclass they are called on (main(), argsParser()).
/**
 * The common base of every service (Producer, Consumer, Karton, LogConsumer): configuration,
 * identity, backend, logger, current task and the command-line entry point `main()`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Command, CommanderError } from "commander";
import type { KartonBackend } from "../backend/backend.js";
import { type BackendEvent, createBackend } from "../backend/create-backend.js";
import { KartonConfig } from "../config/config.js";
import { ConfigError } from "../config/errors.js";
import type { Task } from "../task/task.js";
import { LIBRARY_VERSION } from "../version.js";
import { InvalidFiltersError, InvalidIdentityError } from "./errors.js";
import { debugIdentity, validateIdentity } from "./identity.js";
import { ConsoleHandler, Logger, PublishHandler } from "./logging.js";
import type { TaskSender } from "./send-task.js";
import type { TaskContext } from "./task-context.js";
import { errorMessage } from "./traceback.js";

/** Constructor options of every service. */
export interface ServiceOptions {
  /** Configuration; default: `KartonConfig.load()` (files, `KARTON_*` environment). */
  config?: KartonConfig;
  /** Identity; overrides the class's `static identity`, overridden by `[karton] identity`. */
  identity?: string;
  /** Backend to use instead of creating one from the configuration (the caller closes it). */
  backend?: KartonBackend;
}

/** Parsed command-line options (commander's `opts()`). */
export type ServiceArgs = Record<string, unknown>;

/** Exit codes of `main()`. */
export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;

/** A concrete service class, as seen by the static helpers. */
type ServiceConstructor = (new (options?: ServiceOptions) => KartonServiceBase) & typeof KartonServiceBase;

/** Errors that mean "bad arguments or configuration" (exit code 2). */
function isUsageError(error: unknown): boolean {
  if (
    error instanceof ConfigError ||
    error instanceof InvalidIdentityError ||
    error instanceof InvalidFiltersError
  ) {
    return true;
  }
  const code = (error as { code?: unknown } | null)?.code;
  return code === "CONFIG_ERROR" || code === "INVALID_FILTER";
}

/**
 * Base of all services. Subclasses set `static identity` (and `static version`, the service's own
 * version, shown in binds and client names).
 */
export abstract class KartonServiceBase {
  /** Service identity: queue and bind name, logger name, `origin` of sent tasks. */
  static identity = "";
  /** The service's own version (`service_version` of the bind), or undefined. */
  static version: string | undefined = undefined;
  /** Short description: the bind's `info` (shown as Markdown by the dashboard) and the `--help` text. */
  static description: string | undefined = undefined;
  /** Use the extended client name `identity?karton_version=...` (spec §1.3). */
  protected static withServiceInfo = false;
  /** Whether an empty identity is refused. */
  protected static identityRequired = false;
  /** Word used in identity errors. */
  protected static kind = "service";

  readonly config: KartonConfig;
  /** The effective identity (with the debug suffix in debug mode). */
  readonly identity: string;
  /** `[karton] debug` (spec §11.7). */
  readonly debug: boolean;
  readonly backend: KartonBackend;
  /** Logger named after the identity. */
  readonly log: Logger;

  readonly #ownsBackend: boolean;
  readonly #taskContext = new AsyncLocalStorage<TaskContext>();
  #publishHandler: PublishHandler | undefined;
  #consoleHandler: ConsoleHandler | undefined;
  #loggerReady = false;
  #connected: Promise<void> | undefined;

  constructor(options: ServiceOptions = {}) {
    const cls = this.constructor as typeof KartonServiceBase;
    this.config = options.config ?? KartonConfig.load();
    const karton = this.config.kartonOptions();
    const identity = karton.identity ?? options.identity ?? cls.identity ?? "";
    validateIdentity(identity, { required: cls.identityRequired, kind: cls.kind });
    this.debug = karton.debug;
    this.identity = this.debug && identity !== "" ? debugIdentity(identity) : identity;
    this.log = new Logger(this.identity === "" ? "karton" : this.identity);
    this.log.level = this.config.loggingOptions().levelNumber;
    this.log.setTaskProvider(() => this.#taskContext.getStore()?.task);
    if (options.backend) {
      this.backend = options.backend;
      this.#ownsBackend = false;
    } else {
      this.backend = createBackend(this.config, {
        identity: this.identity,
        clientName: this.clientName(),
        onEvent: (event) => this.onBackendEvent(event),
      });
      this.#ownsBackend = true;
    }
  }

  /** The service's own version (the class's `static version`), or null. */
  get serviceVersion(): string | null {
    return (this.constructor as typeof KartonServiceBase).version ?? null;
  }

  /**
   * The Redis client name (spec §1.3): the identity, or `identity?karton_version=…[&service_version=…]`
   * for services with service info; null for an anonymous producer.
   */
  clientName(): string | null {
    if (this.identity === "") return null;
    if (!(this.constructor as typeof KartonServiceBase).withServiceInfo) return this.identity;
    const params = new URLSearchParams({ karton_version: LIBRARY_VERSION });
    if (this.serviceVersion !== null) params.set("service_version", this.serviceVersion);
    return `${this.identity}?${params.toString()}`;
  }

  /** Connection events of the backend (retries, reconnects) are logged at their level. */
  protected onBackendEvent(event: BackendEvent): void {
    const level = (["debug", "info", "warning", "error"] as const).includes(event.level)
      ? event.level
      : "warning";
    this.log[level](event.message);
  }

  /**
   * Connects to the store and checks it answers (`backend.ping()`, which retries with backoff).
   * Called by the loops and before the first `sendTask`; memoised until it fails.
   */
  async connect(): Promise<void> {
    this.#connected ??= this.backend.ping().catch((error: unknown) => {
      this.#connected = undefined;
      throw error;
    });
    await this.#connected;
  }

  /**
   * Installs the console handler (stderr) and, unless `[logging] enable_publish = false` or debug
   * mode, the handler publishing records to `karton.log.<level>.<identity>`. Consumers and log
   * consumers call it in their constructor; a Producer publishes only after the application calls it.
   * Idempotent. `level` overrides `[logging] level`.
   */
  setupLogger(level?: string | number): void {
    if (level !== undefined) this.log.level = level;
    if (this.#loggerReady) return;
    this.#loggerReady = true;
    this.#consoleHandler = new ConsoleHandler();
    this.log.addHandler(this.#consoleHandler);
    const { enablePublish } = this.config.loggingOptions();
    if (enablePublish && !this.debug && this.identity !== "") {
      this.#publishHandler = new PublishHandler(
        (lvl, identity, body) => this.backend.publishLog(lvl, identity, body),
        this.identity,
      );
      this.log.addHandler(this.#publishHandler);
    }
  }

  /** The handler publishing this service's records, once {@link setupLogger} installed it. */
  get logHandler(): PublishHandler | undefined {
    return this.#publishHandler;
  }

  /** The task being processed in the current async context (undefined outside `process()`). */
  get currentTask(): Task | undefined {
    return this.#taskContext.getStore()?.task;
  }

  /** The whole current task context (task and abort signal). */
  protected get taskContext(): TaskContext | undefined {
    return this.#taskContext.getStore();
  }

  /** What `sendTask` needs from this service. */
  protected taskSender(): TaskSender {
    return {
      identity: this.identity,
      backend: this.backend,
      log: this.log,
      context: this.#taskContext.getStore(),
      connect: () => this.connect(),
      maxTaskSize: this.config.maxTaskSize(),
    };
  }

  /** Runs `fn` with `context` as the current task context. */
  protected runWithTask<T>(context: TaskContext, fn: () => T): T {
    return this.#taskContext.run(context, fn);
  }

  /** Flushes published log records and closes the backend if this service created it. */
  async close(): Promise<void> {
    await this.#publishHandler?.flush();
    if (this.#ownsBackend) await this.backend.close();
  }

  // ---- command line -----------------------------------------------------------------------------

  /** Short description for `--help`. */
  static argsDescription(): string {
    return this.description?.trim().split("\n")[0] ?? `Karton service ${this.identity || "(no identity)"}`;
  }

  /**
   * The argument parser of `main()` (spec §10.3). Override to add options, calling
   * `super.argsParser()` first, and map them in {@link configFromArgs}.
   */
  static argsParser(): Command {
    const version = this.version ?? LIBRARY_VERSION;
    return new Command()
      .name(this.identity || "karton-service")
      .description(this.argsDescription())
      .version(`${version} (karton-ts ${LIBRARY_VERSION})`, "--version", "Print the service version and exit")
      .option("--config-file <path>", "Alternative configuration path")
      .option("--identity <identity>", "Alternative identity for the Karton service")
      .option("--log-level <level>", "Logging level of the Karton logger (DEBUG, INFO, WARNING, ERROR...)")
      .option("--debug", "Enable debugging mode (private queue, not persistent, no log publishing)");
  }

  /**
   * Maps parsed options onto the configuration (only given options: unset flags do not override).
   * Override to map your own options, calling `super.configFromArgs(config, args)`.
   */
  static configFromArgs(config: KartonConfig, args: ServiceArgs): void {
    config.loadFromDict(
      {
        karton: { identity: args.identity as string | undefined, debug: args.debug as boolean | undefined },
        logging: { level: args.logLevel as string | undefined },
      },
      { fromArgs: true },
    );
  }

  /** Parses `argv` (node-style: `[node, script, ...args]`) with {@link argsParser}. */
  static parseArgs(argv: readonly string[] = process.argv): ServiceArgs {
    const parser = this.argsParser();
    parser.exitOverride();
    parser.parse([...argv], { from: "node" });
    return parser.opts();
  }

  /** Builds the service from parsed arguments, the configuration files and the environment. */
  static fromArgs(args: ServiceArgs, options: { env?: NodeJS.ProcessEnv } = {}): KartonServiceBase {
    const configFile = typeof args.configFile === "string" ? args.configFile : undefined;
    const config = KartonConfig.load({
      ...(configFile !== undefined && { path: configFile }),
      env: options.env,
    });
    this.configFromArgs(config, args);
    return new (this as unknown as ServiceConstructor)({ config });
  }

  /**
   * Runs the service from the command line and returns the exit code: 0 after a clean shutdown,
   * 1 on a fatal error, 2 for bad arguments or configuration. Never throws.
   */
  static async run(argv: readonly string[] = process.argv): Promise<number> {
    let args: ServiceArgs;
    try {
      args = this.parseArgs(argv);
    } catch (error) {
      if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      process.stderr.write(`error: ${errorMessage(error)}\n`);
      return EXIT_USAGE;
    }
    let service: KartonServiceBase;
    try {
      service = this.fromArgs(args);
    } catch (error) {
      process.stderr.write(`error: ${errorMessage(error)}\n`);
      return isUsageError(error) ? EXIT_USAGE : EXIT_FATAL;
    }
    const loop = (service as unknown as { loop?: () => Promise<void> }).loop;
    if (typeof loop !== "function") {
      process.stderr.write(`error: ${this.name} has no loop(); main() runs consumers and log consumers\n`);
      await service.close().catch(() => undefined);
      return EXIT_USAGE;
    }
    let code = EXIT_OK;
    try {
      await loop.call(service);
    } catch (error) {
      service.log.critical(`Service ${service.identity} stopped on a fatal error`, { error });
      code = EXIT_FATAL;
    }
    try {
      await service.close();
    } catch (error) {
      process.stderr.write(`warning: closing the backend failed: ${errorMessage(error)}\n`);
    }
    return code;
  }

  /**
   * Command-line entry point: `MyKarton.main()`. Parses arguments, loads the configuration, runs the
   * loop and exits the process with the code of {@link run}.
   */
  static async main(argv: readonly string[] = process.argv): Promise<void> {
    const code = await this.run(argv);
    process.exit(code);
  }
}

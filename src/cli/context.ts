/**
 * What every `karton` sub-command gets: the streams, the global options, the configuration
 * (loaded on first use), a connected backend, JSON output and secret-free messages.
 */
import type { KartonBackend } from "../backend/backend.js";
import { type CreateBackendOptions, createBackend } from "../backend/create-backend.js";
import { KartonConfig } from "../config/config.js";
import { ConfigError } from "../config/errors.js";
import { maskUrlCredentials } from "../config/redact.js";
import { stringify } from "../json/index.js";
import { CliError, EXIT_UNREACHABLE, EXIT_USAGE } from "./errors.js";
import { type CliInput, type CliOutput, LineReader } from "./io.js";

/** Builds a backend from a configuration (default: the library's `createBackend`). */
export type BackendFactory = (config: KartonConfig, options: CreateBackendOptions) => KartonBackend;

/** Streams and hooks of {@link runCli}; every field defaults to the process's own. */
export interface CliEnvironment {
  stdout?: CliOutput;
  stderr?: CliOutput;
  stdin?: CliInput;
  env?: NodeJS.ProcessEnv;
  /** Directory of `./karton.ini` and of relative paths (default `process.cwd()`). */
  cwd?: string;
  /**
   * Stops long-running commands (`karton logs`). Without it they stop on SIGINT/SIGTERM.
   */
  signal?: AbortSignal;
  /** Backend factory (tests, embedding); default `createBackend`. */
  createBackend?: BackendFactory;
  /** How long to wait for Redis/S3 to answer before giving up with exit code 3 (default 10000 ms). */
  connectTimeoutMs?: number;
}

/** Connection problems that will not go away by retrying for a few seconds. */
const FAST_FAIL =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|WRONGPASS|NOAUTH|rejected the credentials/;

/** Global options (`karton [-c FILE] [-v] <command>`). */
export interface GlobalOptions {
  configFile?: string;
  verbose?: boolean;
}

/** The per-run context handed to commands. */
export class CliContext {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly signal: AbortSignal | undefined;
  readonly reader: LineReader;
  readonly stdin: CliInput;
  readonly connectTimeoutMs: number;
  readonly #factory: BackendFactory;
  #globals: GlobalOptions = {};
  #config: KartonConfig | undefined;
  /** Values never to print (passwords, secret keys), replaced by `***` in messages. */
  readonly #secrets = new Set<string>();
  /** Set while {@link connect} waits: receives the backend's warnings. */
  #connecting: ((message: string) => void) | null = null;

  constructor(environment: CliEnvironment = {}) {
    this.stdout = environment.stdout ?? process.stdout;
    this.stderr = environment.stderr ?? process.stderr;
    this.stdin = environment.stdin ?? process.stdin;
    this.env = environment.env ?? process.env;
    this.cwd = environment.cwd ?? process.cwd();
    this.signal = environment.signal;
    this.reader = new LineReader(this.stdin);
    this.connectTimeoutMs = environment.connectTimeoutMs ?? 10_000;
    this.#factory = environment.createBackend ?? createBackend;
  }

  setGlobals(globals: GlobalOptions): void {
    this.#globals = globals;
  }

  get globals(): GlobalOptions {
    return this.#globals;
  }

  get verbose(): boolean {
    return this.#globals.verbose === true;
  }

  // ---- output -----------------------------------------------------------------------------------

  /** Writes a line (or lines) to stdout. */
  out(text = ""): void {
    this.stdout.write(`${text}\n`);
  }

  /** Writes a diagnostic line to stderr, secrets redacted. */
  err(text: string): void {
    this.stderr.write(`${this.redact(text)}\n`);
  }

  /** A `-v` diagnostic line on stderr. */
  debug(text: string): void {
    if (this.verbose) this.err(`debug: ${text}`);
  }

  /** Machine-readable output: one JSON document on one line (lossless numbers, Python separators). */
  json(value: unknown): void {
    this.out(stringify(value, { sortKeys: false }));
  }

  /** Registers a secret value: it is masked in every message written with {@link err}. */
  addSecret(value: string | undefined): void {
    if (value !== undefined && value.length >= 3) this.#secrets.add(value);
  }

  /** Masks URL passwords and every registered secret value. */
  redact(text: string): string {
    let out = text.replace(/[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s/@]*@[^\s]*/g, (url) => maskUrlCredentials(url));
    for (const secret of this.#secrets) out = out.split(secret).join("***");
    return out;
  }

  // ---- configuration and backend ----------------------------------------------------------------

  /** The configuration (files, `KARTON_*` environment, `-c`), loaded once. ConfigError → exit 2. */
  config(): KartonConfig {
    if (this.#config) return this.#config;
    try {
      const path = this.#globals.configFile;
      this.#config = KartonConfig.load({
        ...(path !== undefined ? { path } : {}),
        env: this.env,
        cwd: this.cwd,
      });
    } catch (error) {
      if (error instanceof ConfigError) throw configError(error);
      throw error;
    }
    this.addSecret(this.#config.get("redis", "password"));
    this.addSecret(this.#config.get("s3", "secret_key"));
    this.addSecret(this.#config.get("minio", "secret_key"));
    const url = this.#config.get("redis", "url");
    if (url) this.debug(`Redis URL ${maskUrlCredentials(url)}`);
    return this.#config;
  }

  /** Creates a backend (not connected) from a configuration. ConfigError → exit 2. */
  createBackend(config: KartonConfig, clientName?: string): KartonBackend {
    try {
      return this.#factory(config, {
        identity: "karton.cli",
        clientName: clientName ?? null,
        onEvent: (event) => {
          if (this.#connecting !== null && (event.level === "warning" || event.level === "error")) {
            // While connecting, problems are reported once, in the error (or with -v).
            this.#connecting(event.message);
            this.debug(event.message);
          } else if (event.level === "warning" || event.level === "error") {
            this.err(`${event.level}: ${event.message}`);
          } else this.debug(event.message);
        },
      });
    } catch (error) {
      if (error instanceof ConfigError) throw configError(error);
      throw error;
    }
  }

  /**
   * Runs `fn` with a connected backend from the configuration, closed afterwards. A store that does
   * not answer within the connect timeout ends the command with exit code 3.
   */
  async withBackend<T>(fn: (backend: KartonBackend) => Promise<T>): Promise<T> {
    const backend = this.createBackend(this.config());
    try {
      await this.connect(backend);
      return await fn(backend);
    } finally {
      await backend.close().catch((error: unknown) => this.debug(`closing the backend: ${String(error)}`));
    }
  }

  /** Pings the backend within the connect timeout; failures become exit code 3. */
  async connect(backend: KartonBackend): Promise<void> {
    let lastProblem: string | undefined;
    let refused: ((error: Error) => void) | undefined;
    const fatal = new Promise<never>((_, reject) => {
      refused = reject;
    });
    fatal.catch(() => undefined);
    this.#connecting = (message) => {
      lastProblem = message.replace(/;\s*reconnecting in .*$/, "");
      // Like redis-py, give up at once when nothing listens there (no retry loop for a CLI).
      if (FAST_FAIL.test(message)) refused?.(new Error(lastProblem));
    };
    try {
      await Promise.race([withTimeout(backend.ping(), this.connectTimeoutMs, "Redis did not answer"), fatal]);
    } catch (error) {
      let text = errorText(error);
      if (lastProblem !== undefined && !text.includes(lastProblem)) text += ` (last problem: ${lastProblem})`;
      throw new CliError(EXIT_UNREACHABLE, `cannot connect to Redis: ${text}`, { cause: error });
    } finally {
      this.#connecting = null;
    }
  }
}

/** The usage-error form of a configuration problem, pointing at `karton configure`. */
export function configError(error: ConfigError): CliError {
  const hint = error.message.includes("karton configure")
    ? ""
    : '\nRun "karton configure" to create a configuration file, or pass -c/--config-file.';
  return new CliError(EXIT_USAGE, `${error.message}${hint}`, { cause: error });
}

/** Rejects with `message` (and the limit) when `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    // The losing promise may still reject later (e.g. after the backend is closed): ignore it.
    promise.catch(() => undefined);
  }
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Typed, validated views of the standard Karton sections (wire-protocol spec §10.2), with the
 * defaults of Python karton-core 5.9.1. Options marked **karton-ts only** are extensions: Python
 * services and Python karton-system ignore them.
 */
import type { KartonConfig } from "./config.js";
import { toInteger } from "./convert.js";
import { ConfigError, invalidValueError } from "./errors.js";
import { describeLoadReport } from "./sources.js";

/** Built-in defaults of every typed option. */
export const CONFIG_DEFAULTS = {
  redis: { port: 6379, db: 0, ssl: false, socketTimeout: 30 },
  s3: { iamAuth: false },
  karton: { debug: false, concurrencyLimit: 1 },
  logging: { level: "INFO", enablePublish: true },
  signaling: { status: false },
  system: {
    gcInterval: 180,
    taskDispatchedTimeout: 86400,
    taskStartedTimeout: 86400,
    taskCrashedTimeout: 259200,
    enableGc: true,
    enableRouter: true,
    crashStartedTasksOnTimeout: false,
    enableNullVersionDeletion: false,
    enableTaskTracking: true,
    taskTrackingTtl: 2592000,
    taskClaimTimeout: 60,
    taskMaxAttempts: 3,
    maxTaskSize: 16 * 1024 * 1024,
  },
  dashboard: { basePath: "", listen: "127.0.0.1:5000" },
} as const;

/** `[redis]`. */
export interface RedisOptions {
  /**
   * `url`: full `redis://`, `rediss://` or `unix://` URL. When set, `host`, `port`, `db` and `ssl`
   * are neither read nor validated (Python ignores them) and hold their defaults here. An empty
   * value counts as unset.
   */
  url?: string;
  /** `host`: required when `url` is not set; undefined when `url` is set. */
  host?: string;
  /** `port`, default 6379, 1–65535. */
  port: number;
  /** `db`, default 0, ≥ 0. */
  db: number;
  /** `ssl`: TLS, default false. */
  ssl: boolean;
  /** `username`; empty = unset. Also used with `url` (credentials inside the URL win). */
  username?: string;
  /** `password`; empty = unset. Also used with `url` (credentials inside the URL win). */
  password?: string;
  /** `socket_timeout` in seconds, default 30; **0 means no timeout**. */
  socketTimeout: number;
}

/** `[s3]` (or a deprecated `[minio]` section mapped to it by {@link KartonConfig.load}). */
export interface S3Options {
  /** `address`, an `http://` or `https://` endpoint URL; falls back to env `AWS_ENDPOINT_URL`. */
  address: string;
  /**
   * `access_key`, falls back to env `AWS_ACCESS_KEY_ID`. Required (with `secretKey`) unless
   * `iamAuth`; with `iamAuth` used only when no IAM credentials are found.
   */
  accessKey?: string;
  /** `secret_key`, falls back to env `AWS_SECRET_ACCESS_KEY`. */
  secretKey?: string;
  /** `bucket`, the default bucket; required by producers and karton-system (checked there). */
  bucket?: string;
  /** `iam_auth`, default false: try container, then instance credentials first. */
  iamAuth: boolean;
}

/** `[karton]`: per-service options. */
export interface KartonOptions {
  /** `identity`: overrides the service's own identity; no whitespace and no `?`. */
  identity?: string;
  /** `persistent`: overrides the service's default (true); undefined when not configured. */
  persistent?: boolean;
  /** `debug`, default false (spec §11.7). */
  debug: boolean;
  /**
   * `task_timeout` in whole seconds, used only when the service class sets none. Unset and `0` both
   * mean "no timeout" and are returned as undefined.
   */
  taskTimeout?: number;
  /**
   * `concurrency_limit`, default 1, ≥ 1: how many tasks one consumer process handles at once. This
   * is Python's option for asyncio consumers; karton-ts uses the same name (there is no separate
   * `concurrency` option).
   */
  concurrencyLimit: number;
}

/** `[logging]`. */
export interface LoggingOptions {
  /**
   * `level`, default `INFO`: a level name (`CRITICAL`/`FATAL`, `ERROR`, `WARNING`/`WARN`, `INFO`,
   * `DEBUG`, `NOTSET`; any case — note Python itself only accepts upper case) or a number.
   * Returned as the canonical upper-case name, `Level <n>` for non-standard numbers.
   */
  level: string;
  /** Numeric value of {@link level} (Python's `logging` numbers: DEBUG 10 ... CRITICAL 50). */
  levelNumber: number;
  /** `enable_publish`, default true: publish log records to Redis. */
  enablePublish: boolean;
}

/** `[signaling]`. */
export interface SignalingOptions {
  /** `status`, default false: signal task status (spec §11.8). */
  status: boolean;
}

/** `[system]`: karton-system (router and garbage collector); durations in seconds. */
export interface SystemOptions {
  /** `gc_interval`, default 180, ≥ 1. */
  gcInterval: number;
  /** `task_dispatched_timeout`, default 86400. */
  taskDispatchedTimeout: number;
  /** `task_started_timeout`, default 86400. */
  taskStartedTimeout: number;
  /** `task_crashed_timeout`, default 259200. */
  taskCrashedTimeout: number;
  /** `enable_gc`, default true. */
  enableGc: boolean;
  /** `enable_router`, default true. */
  enableRouter: boolean;
  /** `crash_started_tasks_on_timeout`, default false. */
  crashStartedTasksOnTimeout: boolean;
  /** `enable_null_version_deletion`, default false. */
  enableNullVersionDeletion: boolean;
  /** `enable_task_tracking`, default true. */
  enableTaskTracking: boolean;
  /** `task_tracking_ttl`, default 2592000 (30 days), ≥ 1. */
  taskTrackingTtl: number;
  /**
   * `task_claim_timeout`, default 60, ≥ 1. **karton-ts only** (ignored by Python): seconds after
   * which a task claimed by a karton-ts consumer that stopped responding is recovered.
   */
  taskClaimTimeout: number;
  /**
   * `task_max_attempts`, default 3, ≥ 1. **karton-ts only** (ignored by Python): how many times a
   * recovered task is handed out before it is marked crashed.
   */
  taskMaxAttempts: number;
  /**
   * `max_task_size`, default 16777216 (16 MiB), ≥ 0; 0 = no limit. **karton-ts only** (ignored by
   * Python): the largest task document, in bytes of its JSON text, that a karton-ts producer sends
   * (`sendTask` refuses larger ones) and that the karton-ts router routes (larger documents are
   * quarantined, never routed). Read from `[system]` by producers too, so one setting covers both.
   */
  maxTaskSize: number;
}

/** `[dashboard]`. */
export interface DashboardOptions {
  /** `base_path`, default "": URL prefix the dashboard is served under (verbatim). */
  basePath: string;
  /** `xrefs`: JSON object label → URL template containing `{root_uid}`; default `{}`. */
  xrefs: Record<string, string>;
  /**
   * `listen`, default `127.0.0.1:5000`. **karton-ts only**: `host:port`, `[ipv6]:port` or a bare
   * port (host 127.0.0.1); port 0 picks a free port.
   */
  listen: { host: string; port: number };
  /** `token`. **karton-ts only**: bearer token required by the dashboard; empty = none. */
  token?: string;
}

// --- helpers -------------------------------------------------------------------------------------

function describeRange(min: number, max?: number): string {
  return max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
}

function intOption(
  config: KartonConfig,
  section: string,
  option: string,
  fallback: number,
  min: number,
  max?: number,
): number {
  const raw = config.getRaw(section, option);
  if (raw === undefined) return fallback;
  const value = toInteger(raw);
  if (value === undefined || value < min || (max !== undefined && value > max)) {
    throw config.invalid(section, option, describeRange(min, max));
  }
  return value;
}

/** The text value, undefined when unset or empty. */
function textOption(config: KartonConfig, section: string, option: string): string | undefined {
  const value = config.get(section, option);
  return value === undefined || value === "" ? undefined : value;
}

function missing(config: KartonConfig, section: string, option: string, what: string): ConfigError {
  return new ConfigError(`Missing ${what} (sources: ${describeLoadReport(config.loadReport)})`, {
    section,
    option,
  });
}

// --- sections ------------------------------------------------------------------------------------

const REDIS_SCHEMES: ReadonlySet<string> = new Set(["redis:", "rediss:", "unix:"]);

export function readRedisOptions(config: KartonConfig): RedisOptions {
  const d = CONFIG_DEFAULTS.redis;
  const url = textOption(config, "redis", "url");
  if (url !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(url).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol === undefined || !REDIS_SCHEMES.has(protocol)) {
      throw config.invalid("redis", "url", "a URL starting with redis://, rediss:// or unix://");
    }
  }
  const result: RedisOptions = {
    port: d.port,
    db: d.db,
    ssl: d.ssl,
    socketTimeout: intOption(config, "redis", "socket_timeout", d.socketTimeout, 0),
  };
  if (url !== undefined) {
    result.url = url;
  } else {
    const host = textOption(config, "redis", "host");
    if (host === undefined) {
      throw missing(
        config,
        "redis",
        "host",
        "[redis] host (or [redis] url): set it in karton.ini or with KARTON_REDIS_HOST",
      );
    }
    result.host = host;
    result.port = intOption(config, "redis", "port", d.port, 1, 65535);
    result.db = intOption(config, "redis", "db", d.db, 0);
    result.ssl = config.getBoolean("redis", "ssl", d.ssl);
  }
  const username = textOption(config, "redis", "username");
  if (username !== undefined) result.username = username;
  const password = textOption(config, "redis", "password");
  if (password !== undefined) result.password = password;
  return result;
}

/** A non-empty option, else a non-empty environment variable; with the source for messages. */
function withEnvFallback(
  config: KartonConfig,
  option: string,
  envName: string,
): { value: string; source: string } | undefined {
  const value = textOption(config, "s3", option);
  if (value !== undefined) return { value, source: config.describeSource("s3", option) as string };
  const fromEnv = config.env(envName);
  if (fromEnv) return { value: fromEnv, source: `environment variable ${envName}` };
  return undefined;
}

export function readS3Options(config: KartonConfig): S3Options {
  const address = withEnvFallback(config, "address", "AWS_ENDPOINT_URL");
  if (!address) {
    throw missing(config, "s3", "address", "[s3] address (the S3 endpoint URL, or env AWS_ENDPOINT_URL)");
  }
  let protocol: string | undefined;
  try {
    protocol = new URL(address.value).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "http:" && protocol !== "https:") {
    throw invalidValueError(
      "s3",
      "address",
      address.value,
      address.source,
      "a URL starting with http:// or https://",
    );
  }
  const iamAuth = config.getBoolean("s3", "iam_auth", CONFIG_DEFAULTS.s3.iamAuth);
  const accessKey = withEnvFallback(config, "access_key", "AWS_ACCESS_KEY_ID");
  const secretKey = withEnvFallback(config, "secret_key", "AWS_SECRET_ACCESS_KEY");
  if (!iamAuth && (!accessKey || !secretKey)) {
    const absent = [
      accessKey ? undefined : "[s3] access_key (or env AWS_ACCESS_KEY_ID)",
      secretKey ? undefined : "[s3] secret_key (or env AWS_SECRET_ACCESS_KEY)",
    ].filter((x) => x !== undefined);
    throw missing(
      config,
      "s3",
      accessKey ? "secret_key" : "access_key",
      `${absent.join(" and ")}; access_key and secret_key are required unless [s3] iam_auth is true`,
    );
  }
  const result: S3Options = { address: address.value, iamAuth };
  if (accessKey) result.accessKey = accessKey.value;
  if (secretKey) result.secretKey = secretKey.value;
  const bucket = textOption(config, "s3", "bucket");
  if (bucket !== undefined) result.bucket = bucket;
  return result;
}

export function readKartonOptions(config: KartonConfig): KartonOptions {
  const d = CONFIG_DEFAULTS.karton;
  const result: KartonOptions = {
    debug: config.getBoolean("karton", "debug", d.debug),
    concurrencyLimit: intOption(config, "karton", "concurrency_limit", d.concurrencyLimit, 1),
  };
  const identity = textOption(config, "karton", "identity");
  if (identity !== undefined) {
    if (/[\s?]/.test(identity)) {
      throw config.invalid("karton", "identity", "an identity without spaces and without '?'");
    }
    result.identity = identity;
  }
  const persistent = config.getBoolean("karton", "persistent");
  if (persistent !== undefined) result.persistent = persistent;
  const timeout = intOption(config, "karton", "task_timeout", 0, 0);
  if (timeout > 0) result.taskTimeout = timeout;
  return result;
}

const LEVELS: Readonly<Record<string, number>> = {
  CRITICAL: 50,
  FATAL: 50,
  ERROR: 40,
  WARNING: 30,
  WARN: 30,
  INFO: 20,
  DEBUG: 10,
  NOTSET: 0,
};
const LEVEL_NAMES: Readonly<Record<number, string>> = {
  50: "CRITICAL",
  40: "ERROR",
  30: "WARNING",
  20: "INFO",
  10: "DEBUG",
  0: "NOTSET",
};

export function readLoggingOptions(config: KartonConfig): LoggingOptions {
  const d = CONFIG_DEFAULTS.logging;
  const raw = config.getRaw("logging", "level") ?? d.level;
  let levelNumber = toInteger(raw);
  if (levelNumber === undefined && typeof raw === "string") levelNumber = LEVELS[raw.trim().toUpperCase()];
  if (levelNumber === undefined || levelNumber < 0) {
    throw config.invalid(
      "logging",
      "level",
      "a level name (CRITICAL, ERROR, WARNING, INFO, DEBUG, NOTSET) or a non-negative number",
    );
  }
  return {
    level: LEVEL_NAMES[levelNumber] ?? `Level ${levelNumber}`,
    levelNumber,
    enablePublish: config.getBoolean("logging", "enable_publish", d.enablePublish),
  };
}

export function readSignalingOptions(config: KartonConfig): SignalingOptions {
  return { status: config.getBoolean("signaling", "status", CONFIG_DEFAULTS.signaling.status) };
}

export function readSystemOptions(config: KartonConfig): SystemOptions {
  const d = CONFIG_DEFAULTS.system;
  const int = (option: string, fallback: number, min: number) =>
    intOption(config, "system", option, fallback, min);
  const bool = (option: string, fallback: boolean) => config.getBoolean("system", option, fallback);
  return {
    gcInterval: int("gc_interval", d.gcInterval, 1),
    taskDispatchedTimeout: int("task_dispatched_timeout", d.taskDispatchedTimeout, 0),
    taskStartedTimeout: int("task_started_timeout", d.taskStartedTimeout, 0),
    taskCrashedTimeout: int("task_crashed_timeout", d.taskCrashedTimeout, 0),
    enableGc: bool("enable_gc", d.enableGc),
    enableRouter: bool("enable_router", d.enableRouter),
    crashStartedTasksOnTimeout: bool("crash_started_tasks_on_timeout", d.crashStartedTasksOnTimeout),
    enableNullVersionDeletion: bool("enable_null_version_deletion", d.enableNullVersionDeletion),
    enableTaskTracking: bool("enable_task_tracking", d.enableTaskTracking),
    taskTrackingTtl: int("task_tracking_ttl", d.taskTrackingTtl, 1),
    taskClaimTimeout: int("task_claim_timeout", d.taskClaimTimeout, 1),
    taskMaxAttempts: int("task_max_attempts", d.taskMaxAttempts, 1),
    maxTaskSize: readMaxTaskSize(config),
  };
}

/**
 * `[system] max_task_size` alone (producers read it without validating the rest of `[system]`):
 * bytes, default 16 MiB, 0 = no limit.
 */
export function readMaxTaskSize(config: KartonConfig): number {
  return intOption(config, "system", "max_task_size", CONFIG_DEFAULTS.system.maxTaskSize, 0);
}

const LISTEN = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/;

/** Parses `host:port`, `[ipv6]:port` or a bare port. */
function parseListen(value: string): { host: string; port: number } | undefined {
  const text = value.trim();
  let host: string;
  let portText: string;
  if (/^\d+$/.test(text)) {
    host = "127.0.0.1";
    portText = text;
  } else {
    const match = LISTEN.exec(text);
    if (!match) return undefined;
    host = match[1] ?? match[2] ?? "";
    portText = match[3] as string;
  }
  const port = Number(portText);
  if (host === "" || port > 65535) return undefined;
  return { host, port };
}

export function readDashboardOptions(config: KartonConfig): DashboardOptions {
  const d = CONFIG_DEFAULTS.dashboard;
  const listenText = config.get("dashboard", "listen", d.listen);
  const listen = parseListen(listenText);
  if (!listen) {
    throw config.invalid("dashboard", "listen", "host:port, [ipv6-address]:port or a port number (0-65535)");
  }
  const result: DashboardOptions = {
    basePath: config.get("dashboard", "base_path", d.basePath),
    xrefs: {},
    listen,
  };
  const xrefsText = textOption(config, "dashboard", "xrefs");
  if (xrefsText !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(xrefsText);
    } catch (error) {
      throw config.invalid(
        "dashboard",
        "xrefs",
        `a JSON object mapping labels to URL templates (JSON error: ${(error as Error).message})`,
      );
    }
    const valid =
      typeof parsed === "object" &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.values(parsed).every((v) => typeof v === "string");
    if (!valid) {
      throw config.invalid("dashboard", "xrefs", "a JSON object mapping labels to URL template strings");
    }
    result.xrefs = parsed as Record<string, string>;
  }
  const token = textOption(config, "dashboard", "token");
  if (token !== undefined) result.token = token;
  return result;
}

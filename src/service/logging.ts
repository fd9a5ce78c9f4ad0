/**
 * A small logger for services (no dependency): Python's level numbers, a console handler writing
 * `[<ISO time>][<LEVEL>] <message>` to stderr, and a publish handler writing log records to the
 * `karton.log.<level>.<identity>` channels exactly as Python karton-core 5.9.1 does (spec §8).
 *
 * Loggers form a tree by name: `service.log.child("db")` is `<identity>.db`, shares the service's
 * level and handlers, and its records are published on the service's channel (the logger name is in
 * the record body), as in Python.
 */
import { hostname as osHostname } from "node:os";
import { fileURLToPath } from "node:url";
import { stringify } from "../json/index.js";
import { PyFloat } from "../json/values.js";
import { serializeTask } from "../task/document.js";
import type { Task } from "../task/task.js";
import { fquidToUid } from "../task/uid.js";
import {
  errorMessage,
  errorTypeName,
  formatException,
  formatExceptionText,
  parseStackLine,
} from "./traceback.js";

/** Python's `logging` level numbers. */
export enum LogLevel {
  NOTSET = 0,
  DEBUG = 10,
  INFO = 20,
  WARNING = 30,
  ERROR = 40,
  CRITICAL = 50,
}

const LEVEL_NAMES: Readonly<Record<number, string>> = {
  0: "NOTSET",
  10: "DEBUG",
  20: "INFO",
  30: "WARNING",
  40: "ERROR",
  50: "CRITICAL",
};

const LEVEL_NUMBERS: Readonly<Record<string, number>> = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARN: 30,
  WARNING: 30,
  ERROR: 40,
  FATAL: 50,
  CRITICAL: 50,
};

/** `INFO` for 20, `Level 25` for numbers without a name (as Python's `getLevelName`). */
export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? `Level ${level}`;
}

/** A level given as a name (any case) or a number; throws a RangeError naming the value otherwise. */
export function parseLevel(value: string | number): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === "string") {
    const text = value.trim();
    if (/^\d+$/.test(text)) return Number(text);
    const level = LEVEL_NUMBERS[text.toUpperCase()];
    if (level !== undefined) return level;
  }
  throw new RangeError(
    `Unknown log level ${JSON.stringify(value)} (expected DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)`,
  );
}

/** Keys that belong to the record itself; extras with these names are dropped. */
const RESERVED_KEYS: ReadonlySet<string> = new Set([
  "name",
  "levelname",
  "levelno",
  "filename",
  "module",
  "lineno",
  "funcName",
  "created",
  "task_id",
  "message",
  "excText",
  "excValue",
  "excTraceback",
  "excType",
  "type",
  "task",
  "hostname",
]);

/** What `task_id` holds outside of a task (Python ≥ 5.8.0). */
export const NO_TASK_ID = "(no task)";

/** One log event, before a handler formats it. */
export interface LogRecord {
  /** Logger name (`<identity>` or `<identity>.<child>`). */
  name: string;
  levelno: number;
  levelname: string;
  /** The message as given (without the traceback). */
  message: string;
  /** Unix time in float seconds. */
  created: number;
  filename: string;
  module: string;
  lineno: number;
  funcName: string;
  /** Extra fields given by the caller (reserved names removed). */
  extra: Record<string, unknown>;
  /** The logged exception, when there is one. */
  error?: unknown;
  /** The task being processed in the current async context, when there is one. */
  task?: Task;
}

/** Receives the records of a logger (and of its children). */
export interface LogHandler {
  handle(record: LogRecord): void;
  /**
   * Several records at once (the router logs one per routed task); optional, the default is
   * {@link handle} for each. Handlers implement it when they can do the work in one go (one write).
   */
  handleBatch?(records: readonly LogRecord[]): void;
}

/** Options of one logging call. */
export interface LogOptions {
  /** Extra fields: published after `created` in the record body (like Python's `extra=`). */
  extra?: Record<string, unknown>;
  /** An exception: its traceback is appended to the message and published in the `exc*` fields. */
  error?: unknown;
}

const THIS_FILE = fileURLToPath(import.meta.url);

/** Source location of the first stack frame outside this module. */
function callerLocation(): { filename: string; module: string; lineno: number; funcName: string } {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder);
  for (const line of (holder.stack ?? "").split("\n")) {
    const frame = parseStackLine(line);
    if (!frame || frame.file === THIS_FILE || frame.file.startsWith("node:")) continue;
    const base = frame.file.split(/[\\/]/).pop() ?? frame.file;
    const dot = base.lastIndexOf(".");
    const fn = frame.functionName.replace(/^async /, "");
    return {
      filename: base,
      module: dot > 0 ? base.slice(0, dot) : base,
      lineno: frame.line,
      funcName: fn.includes(".") ? (fn.split(".").pop() as string) : fn,
    };
  }
  return {
    filename: "(unknown file)",
    module: "(unknown module)",
    lineno: 0,
    funcName: "(unknown function)",
  };
}

/**
 * A named logger. The service logger (named after the identity) holds the level, the handlers and
 * the current-task provider; child loggers delegate to it.
 */
export class Logger {
  readonly name: string;
  readonly #root: Logger | undefined;
  #level: number = LogLevel.INFO;
  #handlers: LogHandler[] = [];
  #taskProvider: () => Task | undefined = () => undefined;

  constructor(name: string, root?: Logger) {
    this.name = name;
    this.#root = root;
  }

  /** The service logger this one belongs to (itself for a service logger). */
  get root(): Logger {
    return this.#root ?? this;
  }

  /** Effective level (shared with the service logger). */
  get level(): number {
    return this.root.#level;
  }

  set level(value: number | string) {
    this.root.#level = parseLevel(value);
  }

  get handlers(): readonly LogHandler[] {
    return this.root.#handlers;
  }

  addHandler(handler: LogHandler): void {
    const root = this.root;
    if (!root.#handlers.includes(handler)) root.#handlers.push(handler);
  }

  removeHandler(handler: LogHandler): void {
    const root = this.root;
    root.#handlers = root.#handlers.filter((h) => h !== handler);
  }

  /** Tells the logger where to find the task being processed (used for `task_id` and `task`). */
  setTaskProvider(provider: () => Task | undefined): void {
    this.root.#taskProvider = provider;
  }

  /** A descendant logger `<name>.<suffix>` sharing this logger's level and handlers. */
  child(suffix: string): Logger {
    return new Logger(`${this.name}.${suffix}`, this.root);
  }

  isEnabledFor(level: number): boolean {
    return level >= this.level;
  }

  debug(message: string, options?: LogOptions): void {
    this.log(LogLevel.DEBUG, message, options);
  }

  info(message: string, options?: LogOptions): void {
    this.log(LogLevel.INFO, message, options);
  }

  warning(message: string, options?: LogOptions): void {
    this.log(LogLevel.WARNING, message, options);
  }

  /** Alias of {@link warning}. */
  warn(message: string, options?: LogOptions): void {
    this.log(LogLevel.WARNING, message, options);
  }

  error(message: string, options?: LogOptions): void {
    this.log(LogLevel.ERROR, message, options);
  }

  critical(message: string, options?: LogOptions): void {
    this.log(LogLevel.CRITICAL, message, options);
  }

  /** ERROR with an exception (Python's `log.exception`). */
  exception(message: string, error: unknown, options?: LogOptions): void {
    this.log(LogLevel.ERROR, message, { ...options, error });
  }

  log(level: number, message: string, options: LogOptions = {}): void {
    if (!this.isEnabledFor(level)) return;
    const root = this.root;
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.extra ?? {})) {
      if (!RESERVED_KEYS.has(key)) extra[key] = value;
    }
    let task: Task | undefined;
    try {
      task = root.#taskProvider();
    } catch {
      task = undefined;
    }
    const record: LogRecord = {
      name: this.name,
      levelno: level,
      levelname: levelName(level),
      message: String(message),
      created: Date.now() / 1000,
      ...callerLocation(),
      extra,
    };
    if ("error" in options && options.error !== undefined) record.error = options.error;
    if (task) record.task = task;
    const handlers = root.#handlers;
    if (handlers.length === 0) {
      // Python's "last resort": without any handler, WARNING and above still reach stderr.
      if (level >= LogLevel.WARNING) process.stderr.write(`${formatMessage(record)}\n`);
      return;
    }
    for (const handler of handlers) {
      try {
        handler.handle(record);
      } catch (err) {
        process.stderr.write(`--- Logging error in handler of ${this.name}: ${errorMessage(err)}\n`);
      }
    }
  }
}

/** The message followed, for an exception, by a newline and the traceback text (Python's format). */
export function formatMessage(record: LogRecord): string {
  if (record.error === undefined) return record.message;
  return `${record.message}\n${formatExceptionText(record.error)}`;
}

const COLOURS: Readonly<Record<number, string>> = {
  10: "\u001b[36m",
  20: "\u001b[32m",
  30: "\u001b[33m",
  40: "\u001b[31m",
  50: "\u001b[1;31m",
};
const RESET = "\u001b[0m";

/** True when colour may be used on `stream`: a TTY and `NO_COLOR` unset or empty (no-color.org). */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

/** Writes `[<ISO time>][<LEVEL>] <message>` lines (traceback appended) to a stream, stderr by default. */
export class ConsoleHandler implements LogHandler {
  readonly #stream: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #colour: boolean;

  constructor(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, colour?: boolean) {
    this.#stream = stream;
    this.#colour = colour ?? useColour(stream);
  }

  format(record: LogRecord): string {
    const time = new Date(record.created * 1000).toISOString();
    const level =
      this.#colour && COLOURS[record.levelno] !== undefined
        ? `${COLOURS[record.levelno]}${record.levelname}${RESET}`
        : record.levelname;
    return `[${time}][${level}] ${formatMessage(record)}`;
  }

  handle(record: LogRecord): void {
    this.#stream.write(`${this.format(record)}\n`);
  }

  /** The lines of several records in one write. */
  handleBatch(records: readonly LogRecord[]): void {
    let text = "";
    for (const record of records) text += `${this.format(record)}\n`;
    if (text !== "") this.#stream.write(text);
  }
}

/** Makes an extra value serialisable (used only when the record as given cannot be serialised). */
function safeExtra(value: unknown): unknown {
  try {
    stringify(value, { sortKeys: false });
    return value;
  } catch {
    try {
      return String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
}

/**
 * The published body of a record (spec §8.2), keys in Python's order: `name, levelname, levelno,
 * filename, module, lineno, funcName, created`, extras, `task_id`, `message`, then for exceptions
 * `excText, excValue, excTraceback, excType`, then `type`, `task` (JSON text of the current task,
 * only while processing one) and `hostname`.
 */
export function buildLogBody(record: LogRecord, hostname: string, safe = false): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: record.name,
    levelname: record.levelname,
    levelno: record.levelno,
    filename: record.filename,
    module: record.module,
    lineno: record.lineno,
    funcName: record.funcName,
    created: new PyFloat(record.created),
  };
  for (const [key, value] of Object.entries(record.extra)) body[key] = safe ? safeExtra(value) : value;
  body.task_id = record.task ? fquidToUid(record.task.uid) : NO_TASK_ID;
  body.message = formatMessage(record);
  if (record.error !== undefined) {
    body.excText = formatExceptionText(record.error);
    body.excValue = errorMessage(record.error);
    body.excTraceback = formatException(record.error);
    body.excType = errorTypeName(record.error);
  }
  body.type = "log";
  if (record.task) body.task = serializeTask(record.task);
  body.hostname = hostname;
  return body;
}

/** The record body as the exact JSON text Python publishes (unsorted keys, ASCII-only). */
export function serializeLogRecord(record: LogRecord, hostname: string): string {
  try {
    return stringify(buildLogBody(record, hostname), { sortKeys: false });
  } catch {
    return stringify(buildLogBody(record, hostname, true), { sortKeys: false });
  }
}

/** Where published records go: `backend.publishLog` in practice. */
export type PublishFunction = (level: string, identity: string, body: string) => Promise<number>;

/**
 * Publishes records on `karton.log.<lower-case level>.<identity>` (fire-and-forget). Warns once on
 * stderr when nobody listens, and once per failure streak when publishing fails.
 */
export class PublishHandler implements LogHandler {
  readonly #publish: PublishFunction;
  readonly #identity: string;
  readonly #hostname: string;
  #warnedNoListener = false;
  #failing = false;
  #pending = new Set<Promise<unknown>>();

  constructor(publish: PublishFunction, identity: string, hostname: string = osHostname()) {
    this.#publish = publish;
    this.#identity = identity;
    this.#hostname = hostname;
  }

  handle(record: LogRecord): void {
    const body = serializeLogRecord(record, this.#hostname);
    const promise = this.#publish(record.levelname.toLowerCase(), this.#identity, body).then(
      (receivers) => {
        this.#failing = false;
        if (receivers === 0 && !this.#warnedNoListener) {
          this.#warnedNoListener = true;
          process.stderr.write("There is no active log consumer to receive logged messages.\n");
        }
      },
      (err: unknown) => {
        if (!this.#failing) {
          this.#failing = true;
          process.stderr.write(`Cannot publish log records of ${this.#identity}: ${errorMessage(err)}\n`);
        }
      },
    );
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  /** Resolves when every record handed over so far was published (or failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}

/** Python-like `repr` of JSON-ish values, used in messages such as `Binding on: {'type': 'x'}`. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const escaped = value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
    return quote + (quote === "'" ? escaped.replace(/'/g, "\\'") : escaped) + quote;
  }
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value instanceof PyFloat) return String(value.value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(", ")}}`;
  }
  return String(value);
}

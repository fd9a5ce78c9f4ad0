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
import { quote } from "../json/stringify.js";
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
  /**
   * The call site, for a line that logs often (e.g. once per task): its source location (`filename`,
   * `lineno`, `funcName`) is looked up at the first call and reused, instead of walking the stack
   * for every record. Create one per call site: `const SITE = new LogSite()`.
   */
  site?: LogSite;
}

/** Remembers the source location of one logging call site (see {@link LogOptions.site}). */
export class LogSite {
  location: CallerLocation | undefined;
}

function siteLocation(site: LogSite): CallerLocation {
  if (site.location === undefined) site.location = callerLocation();
  return site.location;
}

const THIS_FILE = fileURLToPath(import.meta.url);

const THIS_FILE_URL = import.meta.url;

type CallerLocation = { filename: string; module: string; lineno: number; funcName: string };

/** Base name → [filename, module] (file paths repeat: a handful of source files log). */
const fileNames = new Map<string, [string, string]>();

function fileAndModule(file: string): [string, string] {
  let names = fileNames.get(file);
  if (names === undefined) {
    let path = file;
    if (path.startsWith("file://")) {
      try {
        path = fileURLToPath(path);
      } catch {
        // keep the URL
      }
    }
    const base = path.split(/[\\/]/).pop() ?? path;
    const dot = base.lastIndexOf(".");
    names = [base, dot > 0 ? base.slice(0, dot) : base];
    if (fileNames.size > 1000) fileNames.clear();
    fileNames.set(file, names);
  }
  return names;
}

/**
 * Source location of the first stack frame outside this module. Logging is on hot paths (a
 * consumer logs two records per task), so when nothing rewrites stack traces (no source maps, no
 * custom Error.prepareStackTrace), the frames are read as V8 call sites instead of formatting and
 * parsing the stack text; the result is the same.
 */
function callerLocation(): CallerLocation {
  const sourceMapped = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled === true;
  const prepare = Error.prepareStackTrace as ((...args: unknown[]) => unknown) | undefined;
  // Node's own formatter (exposed as Error.prepareStackTrace by recent versions) or none.
  if (!sourceMapped && (prepare === undefined || prepare.name === "ErrorPrepareStackTrace")) {
    const location = callerFromCallSites(prepare);
    if (location !== undefined) return location;
  }
  return callerFromStackText();
}

function callerFromCallSites(
  previous: ((...args: unknown[]) => unknown) | undefined,
): CallerLocation | undefined {
  const holder: { stack?: unknown } = {};
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = (_error, sites) => sites;
  try {
    // The caller is a few frames up (logger methods, then the caller); fewer frames, less work.
    Error.stackTraceLimit = 6;
    Error.captureStackTrace(holder, callerLocation);
    const sites = holder.stack;
    if (!Array.isArray(sites)) return undefined;
    for (const site of sites as NodeJS.CallSite[]) {
      const file = site.getFileName();
      if (file === undefined || file === null) continue;
      if (file === THIS_FILE_URL || file === THIS_FILE || file.startsWith("node:")) continue;
      if (site.isNative() || site.isEval()) return undefined;
      const [filename, module] = fileAndModule(file);
      // V8 prints "Type.name", "new Name", "async name" or, at the top level, no name at all.
      let fn = site.getFunctionName() ?? site.getMethodName();
      if (fn === null || fn === undefined || fn === "") {
        if (site.isToplevel() && !site.isAsync() && !site.isConstructor()) fn = "<module>";
        else return undefined; // an unusual frame: let the text path name it exactly
      } else if (site.isConstructor()) {
        fn = `new ${fn}`;
      }
      return {
        filename,
        module,
        lineno: site.getLineNumber() ?? 0,
        funcName: fn.includes(".") ? (fn.split(".").pop() as string) : fn,
      };
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = limit;
    (Error as { prepareStackTrace?: unknown }).prepareStackTrace = previous;
  }
}

function callerFromStackText(): CallerLocation {
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
      ...(options.site ? siteLocation(options.site) : callerLocation()),
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
    corkUntilNextTick(this.#stream);
    this.#stream.write(`${this.format(record)}\n`);
  }

  /** The lines of several records in one write (at the end of the tick, like single records). */
  handleBatch(records: readonly LogRecord[]): void {
    let text = "";
    for (const record of records) text += `${this.format(record)}\n`;
    if (text === "") return;
    corkUntilNextTick(this.#stream);
    this.#stream.write(text);
  }
}

/** Streams corked by {@link corkUntilNextTick}, uncorked at the latest when the process exits. */
const corkedStreams = new Set<NodeJS.WritableStream>();
let exitHookInstalled = false;

/**
 * Lines logged during one tick of the event loop (a consumer logs two or three per task) leave in
 * one write to stderr: the stream is corked at the first one and uncorked when the tick's microtasks are done,
 * or when the process exits (so that nothing is lost on `process.exit()` or a crash).
 */
function corkUntilNextTick(stream: NodeJS.WritableStream): void {
  // Only the process's own stderr/stdout: a stream given by the caller is written as it is.
  if (stream !== process.stderr && stream !== process.stdout) return;
  const writable = stream as NodeJS.WritableStream & { cork?: () => void; uncork?: () => void };
  if (corkedStreams.has(stream) || typeof writable.cork !== "function") return;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const s of corkedStreams) (s as { uncork?: () => void }).uncork?.();
      corkedStreams.clear();
    });
  }
  corkedStreams.add(stream);
  writable.cork();
  process.nextTick(() => {
    if (corkedStreams.delete(stream)) writable.uncork?.();
  });
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
  if (record.error === undefined && isEmpty(record.extra)) return serializePlainRecord(record, hostname);
  try {
    return stringify(buildLogBody(record, hostname), { sortKeys: false });
  } catch {
    return stringify(buildLogBody(record, hostname, true), { sortKeys: false });
  }
}

function isEmpty(obj: Record<string, unknown>): boolean {
  for (const _ in obj) return false;
  return true;
}

/**
 * {@link serializeLogRecord} of a record without extras or exception (nearly all of them), written
 * directly: the same text as the general path, without building the body object first.
 */
function serializePlainRecord(record: LogRecord, hostname: string): string {
  const task = record.task;
  let out =
    `{"name": ${quote(record.name)}, "levelname": ${quote(record.levelname)}, ` +
    `"levelno": ${stringify(record.levelno)}, "filename": ${quote(record.filename)}, ` +
    `"module": ${quote(record.module)}, "lineno": ${stringify(record.lineno)}, ` +
    `"funcName": ${quote(record.funcName)}, "created": ${stringify(new PyFloat(record.created))}, ` +
    `"task_id": ${quote(task ? fquidToUid(task.uid) : NO_TASK_ID)}, "message": ${quote(record.message)}, ` +
    `"type": "log"`;
  if (task) out += `, "task": ${quote(serializeTask(task))}`;
  return `${out}, "hostname": ${quote(hostname)}}`;
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

/**
 * The router's decisions, as pure functions (wire-protocol spec §5.3, §5.4).
 *
 * {@link BindsCompiler} turns a {@link BindsSnapshot} into {@link CompiledBinds}: every bind's filters
 * compiled once and cached by the serialized bind, invalid binds set aside with the reason.
 * {@link planRoute} turns one batch of taken uids and their raw documents into a {@link RoutePlan}
 * that the backend applies atomically. Neither does I/O nor logs; what the router should log is
 * returned in {@link RouteOutcome}.
 */
import type { BindsSnapshot } from "../backend/backend.js";
import type { ForkPlan, QuarantineRecord, RoutePlan } from "../backend/types.js";
import { type Bind, serializeBind } from "../bind/bind.js";
import {
  isJsonObject,
  type JsonObject,
  type JsonValue,
  parse,
  stringify,
  undecodableMessage,
} from "../json/index.js";
import { taskFromDocument } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import type { Task } from "../task/task.js";

/** A compiled filter list; `matches` may throw on evaluation errors. */
export interface FilterMatcher {
  matches(headers: JsonObject): boolean;
}

/** Compiles a filter list for routing; a throw means the bind cannot be routed to (it is skipped). */
export type FilterCompiler = (filters: JsonObject[]) => FilterMatcher;

/** Strict validation of a filter list; a throw makes the bind reported as invalid (not skipped). */
export type FilterValidator = (filters: JsonObject[]) => void;

/** A bind ready for routing. */
export interface CompiledBind {
  readonly identity: string;
  readonly bind: Bind;
  readonly matcher: FilterMatcher;
}

/** A bind with a problem: unreadable value or invalid filters. */
export interface InvalidBind {
  readonly identity: string;
  /** The stored value (or, for invalid filters, the bind re-serialized). */
  readonly raw: string;
  readonly reason: string;
  /**
   * True when the bind is left out of routing (unreadable, or its filters cannot be compiled);
   * false when it is still routed to, its filters failing (= no match) only where they are evaluated.
   */
  readonly skipped: boolean;
}

/** Binds of one snapshot, in `karton.binds` order. */
export interface CompiledBinds {
  readonly binds: readonly CompiledBind[];
  readonly invalid: readonly InvalidBind[];
  /** Invalid binds not seen invalid (with the same value) by this compiler before: report them. */
  readonly newlyInvalid: readonly InvalidBind[];
}

interface CacheEntry {
  compiled?: CompiledBind;
  invalid?: InvalidBind;
}

/**
 * Compiles binds once per distinct value. Keep one instance per router; call {@link compile} with
 * every fresh snapshot — unchanged binds reuse their compiled filters, and an unchanged snapshot
 * returns the previous result object itself.
 */
export class BindsCompiler {
  readonly #compile: FilterCompiler;
  readonly #validate: FilterValidator | undefined;
  #cache = new Map<string, CacheEntry>();
  #reported = new Set<string>();
  #lastKey: string | undefined;
  #lastSnapshot: BindsSnapshot | undefined;
  #last: CompiledBinds | undefined;
  #serialized = new WeakMap<Bind, string>();

  /**
   * @param compile the filter engine's compiler for routing (lenient: errors surface where Python
   *   raises them, at evaluation).
   * @param validate optional strict validation; binds failing it are reported but still routed to.
   */
  constructor(compile: FilterCompiler, validate?: FilterValidator) {
    this.#compile = compile;
    this.#validate = validate;
  }

  compile(snapshot: BindsSnapshot): CompiledBinds {
    // A backend may hand out the very same snapshot while the binds do not change.
    if (this.#last !== undefined && snapshot === this.#lastSnapshot) return this.#unchanged(this.#last);
    const keys: string[] = [];
    const serialized: string[] = [];
    for (const bind of snapshot.binds) {
      // A backend may hand out the same (unchanged) bind objects batch after batch.
      let value = this.#serialized.get(bind);
      if (value === undefined) {
        try {
          value = serializeBind(bind);
        } catch (err) {
          value = `<unserializable: ${(err as Error).message}>`;
        }
        this.#serialized.set(bind, value);
      }
      serialized.push(value);
      keys.push(`${bind.identity}\u0000${value}`);
    }
    for (const inv of snapshot.invalid) keys.push(`${inv.identity}\u0001${inv.raw}`);
    const snapshotKey = keys.join("\u0002");
    if (this.#last !== undefined && snapshotKey === this.#lastKey) {
      this.#lastSnapshot = snapshot;
      return this.#unchanged(this.#last);
    }

    const next = new Map<string, CacheEntry>();
    const binds: CompiledBind[] = [];
    const invalid: InvalidBind[] = [];
    snapshot.binds.forEach((bind, i) => {
      const key = keys[i] as string;
      let entry = this.#cache.get(key) ?? next.get(key);
      if (entry === undefined) entry = this.#compileOne(bind, serialized[i] as string);
      next.set(key, entry);
      if (entry.compiled) binds.push(entry.compiled);
      if (entry.invalid) invalid.push(entry.invalid);
    });
    for (const inv of snapshot.invalid) {
      invalid.push({ identity: inv.identity, raw: inv.raw, reason: inv.reason, skipped: true });
    }

    const newlyInvalid: InvalidBind[] = [];
    for (const inv of invalid) {
      const key = `${inv.identity}\u0000${inv.raw}`;
      if (this.#reported.has(key)) continue;
      this.#reported.add(key);
      newlyInvalid.push(inv);
    }
    // Forget reports of values that disappeared, so a broken bind written again is reported again.
    const current = new Set(invalid.map((inv) => `${inv.identity}\u0000${inv.raw}`));
    for (const key of this.#reported) if (!current.has(key)) this.#reported.delete(key);

    this.#cache = next;
    this.#lastKey = snapshotKey;
    this.#lastSnapshot = snapshot;
    this.#last = { binds, invalid, newlyInvalid };
    return this.#last;
  }

  /** The previous result, with nothing newly invalid (it was reported then). */
  #unchanged(last: CompiledBinds): CompiledBinds {
    return last.newlyInvalid.length === 0 ? last : { ...last, newlyInvalid: [] };
  }

  #compileOne(bind: Bind, raw: string): CacheEntry {
    let matcher: FilterMatcher;
    try {
      matcher = this.#compile(bind.filters);
    } catch (err) {
      const reason = `invalid filters: ${errorMessage(err)}`;
      return { invalid: { identity: bind.identity, raw, reason, skipped: true } };
    }
    const entry: CacheEntry = { compiled: { identity: bind.identity, bind, matcher } };
    if (this.#validate) {
      try {
        this.#validate(bind.filters);
      } catch (err) {
        const reason = `invalid filters: ${errorMessage(err)}`;
        entry.invalid = { identity: bind.identity, raw, reason, skipped: false };
      }
    }
    return entry;
  }
}

export interface RouteOptions {
  /** `[system] enable_task_tracking`: add `karton.outputs:<origin>` members. */
  taskTracking: boolean;
  /** `[system] task_tracking_ttl` in seconds. */
  ttl: number;
  /** Identity written as `reporter` of quarantine records (default `karton.system`). */
  reporter?: string;
  /**
   * `[system] max_task_size`: documents longer than this many bytes (UTF-8) are quarantined
   * instead of routed. 0 or undefined = no limit.
   */
  maxTaskSize?: number;
}

/** One routed (readable) task of the batch, for the "Processing task" log line. */
export interface RoutedTask {
  uid: string;
  rootUid: string;
  /** How many forks were made. */
  forks: number;
}

/** A bind whose filters failed to evaluate on a task's headers (treated as no match). */
export interface BindEvaluationError {
  identity: string;
  uid: string;
  error: unknown;
}

/** What {@link planRoute} decided, plus what the router should log. */
export interface RouteOutcome {
  plan: RoutePlan;
  /** Readable tasks in batch order. */
  routed: RoutedTask[];
  /** Uids whose document was gone (skipped; Python drops them silently). */
  missing: string[];
  /** Per-bind evaluation errors, in the order they happened. */
  bindErrors: BindEvaluationError[];
}

/**
 * Plans the routing of one batch (spec §5.3): for each taken uid in order, a missing document is
 * skipped, an unreadable one becomes a quarantine record, and a readable one gets its outputs
 * member (§5.4), one fork per matching bind (status Spawned, `last_update` = `now`, header
 * `receiver`, queued at the task's own priority) and is itself marked Finished.
 *
 * Pure: no I/O, never throws on bad data. `raws[i]` is the document of `taken[i]` (null = missing).
 * Resources are not decoded (markers are copied verbatim into the forks).
 */
export function planRoute(
  taken: readonly string[],
  raws: readonly (string | null)[],
  binds: CompiledBinds,
  options: RouteOptions,
  now: number,
): RouteOutcome {
  const reporter = options.reporter ?? "karton.system";
  const finished: Task[] = [];
  const forks: ForkPlan[] = [];
  const outputs: { origin: string; member: string }[] = [];
  const quarantined: QuarantineRecord[] = [];
  const routed: RoutedTask[] = [];
  const missing: string[] = [];
  const bindErrors: BindEvaluationError[] = [];
  const bindList = binds.binds;
  const nBinds = bindList.length;
  const maxSize = options.maxTaskSize ?? 0;

  for (let i = 0; i < taken.length; i++) {
    const uid = taken[i] as string;
    const raw = raws[i] ?? null;
    if (raw === null) {
      missing.push(uid);
      continue;
    }
    if (maxSize > 0) {
      const size = oversize(raw, maxSize);
      if (size !== undefined) {
        quarantined.push({
          subject: uid,
          kind: "task",
          reason: `task ${uid} cannot be routed: the document is ${size} bytes, over the limit of ${maxSize} bytes ([system] max_task_size)`,
          raw,
          at: now,
          reporter,
        });
        continue;
      }
    }
    let doc: JsonValue;
    let task: Task;
    try {
      const undecodable = undecodableMessage(raw);
      if (undecodable !== undefined) throw new Error(`the document is ${undecodable}`);
      try {
        doc = parse(raw);
      } catch (err) {
        throw new Error(`the document is not valid JSON: ${errorMessage(err)}`);
      }
      task = taskFromDocument(doc, { decodeResources: false });
    } catch (err) {
      quarantined.push({
        subject: uid,
        kind: "task",
        reason: `task ${uid} cannot be routed: ${errorMessage(err)}`,
        raw,
        at: now,
        reporter,
      });
      continue;
    }

    let member: string | undefined;
    if (options.taskTracking) {
      try {
        member = stringify(outputHeaders(doc as JsonObject, task), { sortKeys: false });
      } catch (err) {
        quarantined.push({
          subject: uid,
          kind: "task",
          reason: `task ${uid} cannot be routed: headers cannot be serialized: ${errorMessage(err)}`,
          raw,
          at: now,
          reporter,
        });
        continue;
      }
    }

    const headers = task.headers;
    let made = 0;
    for (let b = 0; b < nBinds; b++) {
      const compiled = bindList[b] as CompiledBind;
      let match: boolean;
      try {
        match = compiled.matcher.matches(headers) === true;
      } catch (error) {
        bindErrors.push({ identity: compiled.identity, uid, error });
        continue;
      }
      if (!match) continue;
      const fork = task.fork();
      fork.status = TaskState.Spawned;
      fork.lastUpdate = now;
      fork.headers.receiver = compiled.identity;
      forks.push({ task: fork, identity: compiled.identity, priority: fork.priority });
      made++;
    }

    if (member !== undefined) {
      const origin = headers.origin;
      // Python: `task.headers.get("origin", "unknown")` formatted into the key.
      outputs.push({ origin: origin === undefined ? "unknown" : keyText(origin), member });
    }
    task.status = TaskState.Finished;
    task.lastUpdate = now;
    finished.push(task);
    routed.push({ uid: task.uid, rootUid: task.rootUid, forks: made });
  }

  return {
    plan: {
      taken: [...taken],
      finished,
      forks,
      outputs,
      outputsTtl: options.taskTracking ? options.ttl : null,
      quarantined,
    },
    routed,
    missing,
    bindErrors,
  };
}

/**
 * The headers object whose `json.dumps` Python stores in `karton.outputs`: the stored `headers` in
 * document order (the parser remembers it), unless the persistent headers override or add a value,
 * in which case the merged headers of the task (Python merges `{**headers, **headers_persistent}`).
 */
function outputHeaders(doc: JsonObject, task: Task): JsonObject {
  const stored = doc.headers as JsonObject;
  for (const key in task.headersPersistent) {
    if (!Object.hasOwn(stored, key) || stored[key] !== task.headersPersistent[key]) return task.headers;
  }
  return stored;
}

/** How Python's f-string formats a header value into a key (strings verbatim). */
function keyText(value: JsonValue): string {
  if (typeof value === "string") return value;
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (isJsonObject(value) || Array.isArray(value)) return stringify(value, { sortKeys: false });
  return String(value);
}

/** The size in UTF-8 bytes of `text` when it is over `max` bytes, else undefined (cheap when far below). */
export function oversize(text: string, max: number): number | undefined {
  // Every UTF-16 unit is 1 to 3 UTF-8 bytes: only texts in between need counting.
  if (text.length * 3 <= max) return undefined;
  const size = Buffer.byteLength(text, "utf8");
  return size > max ? size : undefined;
}

/** The message of an error, or its string form. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

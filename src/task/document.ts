import { parse, stringify, undecodableMessage } from "../json/index.js";
import { quote } from "../json/stringify.js";
import type { JsonObject, JsonValue } from "../json/values.js";
import { isJsonObject, PyFloat } from "../json/values.js";
import type { ObjectStorage } from "../resource/object-storage.js";
import { RemoteResource } from "../resource/remote-resource.js";
import { isResourceMarker, readResourceMarker } from "../resource/resource-base.js";
import { isTaskPriority, isTaskState, TaskPriority } from "./enums.js";
import { InvalidTaskError } from "./errors.js";
import { type Headers, nowSeconds, type Payload, type PayloadValue, Task } from "./task.js";

/** Hidden persistent-payload key that repeats `headers_persistent` for consumers older than 5.2. */
export const HEADERS_PERSISTENT_KEY = "__headers_persistent";

export interface ParseTaskOptions {
  /** Binds decoded resources to this object store. */
  storage?: ObjectStorage;
  /** Leave resource markers as plain objects (fast path for GC and inspection). Default true. */
  decodeResources?: boolean;
}

/** The task as the twelve-key document of spec §2.1 (resources still as objects with toJSON). */
export function taskToDocument(task: Task): Record<string, unknown> {
  return {
    error: task.error,
    headers: task.headers,
    headers_persistent: task.headersPersistent,
    // An integral time must still be written as a float (`1700000000.0`), as Python does.
    last_update: new PyFloat(task.lastUpdate),
    orig_uid: task.origUid,
    parent_uid: task.parentUid,
    payload: task.payload,
    payload_persistent: { ...task.payloadPersistent, [HEADERS_PERSISTENT_KEY]: task.headersPersistent },
    priority: task.priority,
    root_uid: task.rootUid,
    status: task.status,
    uid: task.uid,
  };
}

/** Serialises a task exactly as Python does (sorted keys, Python separators, lossless numbers). */
export function serializeTask(task: Task): string {
  return stringify(taskToDocument(task));
}

/**
 * A task document in three pieces, `head + middle + tail === serializeTask(task)`. The middle is
 * `"payload": ..., "payload_persistent": ...`, usually the bulk of a document; the router's forks
 * share it with the task they were made from, so it is serialised once for all of them.
 */
export interface TaskDocumentParts {
  /** `{"error": ..., "headers": ..., "headers_persistent": ..., "last_update": ..., "orig_uid": ..., "parent_uid": ..., ` */
  head: string;
  /** `"payload": ..., "payload_persistent": ...` */
  middle: string;
  /** `, "priority": ..., "root_uid": ..., "status": ..., "uid": ...}` */
  tail: string;
}

/**
 * {@link serializeTask} in {@link TaskDocumentParts}. When `reuse` holds the parts of a task whose
 * payload, persistent payload and persistent headers hold the very same values (same keys, identical
 * values, e.g. a fork and the task it was made from), its middle is reused instead of serialised again.
 */
export function taskDocumentParts(
  task: Task,
  reuse?: { task: Task; parts: TaskDocumentParts },
): TaskDocumentParts {
  // serializeTask leaves out undefined members (only possible when set so at run time): no pieces then.
  if (task.error === undefined || task.origUid === undefined || task.parentUid === undefined) {
    return { head: serializeTask(task), middle: "", tail: "" };
  }
  const head =
    `{"error": ${json(task.error)}, "headers": ${stringify(task.headers)}, ` +
    `"headers_persistent": ${stringify(task.headersPersistent)}, ` +
    `"last_update": ${stringify(new PyFloat(task.lastUpdate))}, ` +
    `"orig_uid": ${json(task.origUid)}, "parent_uid": ${json(task.parentUid)}, `;
  const middle =
    reuse !== undefined && samePayloads(task, reuse.task)
      ? reuse.parts.middle
      : `"payload": ${stringify(task.payload)}, "payload_persistent": ${stringify({
          ...task.payloadPersistent,
          [HEADERS_PERSISTENT_KEY]: task.headersPersistent,
        })}`;
  const tail =
    `, "priority": ${json(task.priority)}, "root_uid": ${json(task.rootUid)}, ` +
    `"status": ${json(task.status)}, "uid": ${json(task.uid)}}`;
  return { head, middle, tail };
}

/** A member value as serializeTask writes it (strings and null without the general writer). */
function json(value: unknown): string {
  if (typeof value === "string") return quote(value);
  return value === null ? "null" : stringify(value);
}

/** Same keys with identical values in payload, persistent payload and persistent headers. */
function samePayloads(a: Task, b: Task): boolean {
  return (
    shallowSame(a.payload, b.payload) &&
    shallowSame(a.payloadPersistent, b.payloadPersistent) &&
    shallowSame(a.headersPersistent, b.headersPersistent)
  );
}

function shallowSame(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  if (a === b) return true;
  let n = 0;
  for (const key in a) {
    if (!Object.hasOwn(a, key)) continue;
    if (!Object.hasOwn(b, key) || a[key] !== b[key]) return false;
    n++;
  }
  let m = 0;
  for (const key in b) if (Object.hasOwn(b, key)) m++;
  return n === m;
}

/** Parses a task document (any version still accepted by 5.9.1 readers, spec §2.5). */
export function parseTask(text: string, options: ParseTaskOptions = {}): Task {
  const undecodable = undecodableMessage(text);
  if (undecodable !== undefined) throw new InvalidTaskError(`task document is ${undecodable}`);
  let doc: JsonValue;
  try {
    doc = parse(text);
  } catch (err) {
    throw new InvalidTaskError(`task document is not valid JSON: ${(err as Error).message}`);
  }
  return taskFromDocument(doc, options);
}

/** Builds a task from an already parsed document, validating every field it relies on. */
export function taskFromDocument(doc: JsonValue, options: ParseTaskOptions = {}): Task {
  if (!isJsonObject(doc)) throw new InvalidTaskError("task document is not a JSON object");
  const uid = doc.uid;
  if (typeof uid !== "string" || uid === "")
    throw new InvalidTaskError('field "uid" must be a non-empty string');
  const fail = (message: string): never => {
    throw new InvalidTaskError(message, uid);
  };
  const str = (key: string, nullable: boolean): string | null => {
    const value = doc[key];
    if (typeof value === "string" || (nullable && (value === null || value === undefined)))
      return value ?? null;
    return fail(`field "${key}" must be a string${nullable ? " or null" : ""}`);
  };
  const rootUid = str("root_uid", false) as string;
  if (!Object.hasOwn(doc, "parent_uid")) fail('field "parent_uid" is missing');
  const obj = (key: string): JsonObject => {
    const value = doc[key];
    return isJsonObject(value) ? value : fail(`field "${key}" must be an object`);
  };
  const headers = obj("headers");
  const payloadRaw = obj("payload");
  const persistentRaw = obj("payload_persistent");

  const status = doc.status;
  if (!isTaskState(status)) fail(`unknown status ${JSON.stringify(status)}`);
  const priority = doc.priority ?? TaskPriority.Normal;
  if (!isTaskPriority(priority)) fail(`unknown priority ${JSON.stringify(priority)}`);

  const lastUpdate = toSeconds(doc.last_update);
  const error = doc.error ?? null;
  if (error !== null && !(Array.isArray(error) && error.every((line) => typeof line === "string"))) {
    fail('field "error" must be a list of strings or null');
  }

  // Reader rule of spec §2.4: the top-level key, else the hidden persistent-payload key, else {}.
  const { [HEADERS_PERSISTENT_KEY]: hiddenHeaders, ...persistentPayload } = persistentRaw;
  let headersPersistent: JsonValue | undefined = Object.hasOwn(doc, "headers_persistent")
    ? doc.headers_persistent
    : hiddenHeaders;
  if (headersPersistent === undefined || headersPersistent === null) headersPersistent = {};
  if (!isJsonObject(headersPersistent)) fail('field "headers_persistent" must be an object');

  const decode = options.decodeResources !== false;
  const convert = (value: JsonValue, where: string): PayloadValue =>
    decode ? decodeResources(value, where, options.storage) : value;

  const task = new Task(headers as Headers, {
    uid,
    rootUid,
    parentUid: str("parent_uid", true),
    origUid: str("orig_uid", true),
    status: status as Task["status"],
    priority: priority as TaskPriority,
    lastUpdate,
    error: error as string[] | null,
    headersPersistent: headersPersistent as Headers,
    payload: convert(payloadRaw, "payload") as Payload,
    payloadPersistent: convert(persistentPayload, "payload_persistent") as Payload,
  });
  return task;
}

/** Python treats a missing, null or zero `last_update` as "now". */
function toSeconds(value: JsonValue | undefined): number {
  if (value instanceof PyFloat) return value.value || nowSeconds();
  if (typeof value === "number") return value || nowSeconds();
  if (typeof value === "bigint") return Number(value);
  return nowSeconds();
}

/** Replaces every resource marker object (at any depth) by a RemoteResource. */
export function decodeResources(value: JsonValue, where: string, storage?: ObjectStorage): PayloadValue {
  if (Array.isArray(value)) return value.map((item, i) => decodeResources(item, `${where}[${i}]`, storage));
  if (!isJsonObject(value)) return value;
  if (isResourceMarker(value)) return new RemoteResource(readResourceMarker(value, where), storage);
  const out: Record<string, PayloadValue> = {};
  for (const [key, item] of Object.entries(value))
    out[key] = decodeResources(item, `${where}.${key}`, storage);
  return out;
}

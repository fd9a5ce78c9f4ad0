import type { JsonObject, JsonPrimitive } from "../json/values.js";
import { isJsonObject } from "../json/values.js";
import { LocalResource } from "../resource/local-resource.js";
import { ResourceBase } from "../resource/resource-base.js";
import { isTaskPriority, TaskPriority, TaskState } from "./enums.js";
import { PayloadError } from "./errors.js";
import { fquidToUid, makeUid, newUuid } from "./uid.js";

/** Task headers: a flat object of JSON values (strings recommended). */
export type Headers = JsonObject;

/** A payload value: plain JSON, a resource, or arrays/objects of them at any depth. */
export type PayloadValue = JsonPrimitive | ResourceBase | PayloadValue[] | { [key: string]: PayloadValue };
export type Payload = Record<string, PayloadValue>;
/** A path into a payload: the top-level key, then object keys and array indexes. */
export type PayloadPath = (string | number)[];

export interface TaskOptions {
  payload?: Payload;
  headersPersistent?: Headers;
  payloadPersistent?: Payload;
  priority?: TaskPriority | `${TaskPriority}`;
  uid?: string;
  rootUid?: string;
  parentUid?: string | null;
  origUid?: string | null;
  status?: TaskState;
  lastUpdate?: number;
  error?: string[] | null;
}

/** Current Unix time in float seconds, like Python's `time.time()`. */
export function nowSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

/**
 * A unit of work: routing headers plus a JSON payload that may carry resources (seed ch. 4, 6;
 * spec §2). Headers and payload keys each have a persistent part that is inherited by the whole
 * subtree of tasks derived from this one.
 */
export class Task {
  uid: string;
  rootUid: string;
  parentUid: string | null;
  origUid: string | null;
  status: TaskState;
  priority: TaskPriority;
  /** Unix time in float seconds of the last status change. */
  lastUpdate: number;
  /** Traceback lines of a crash, null otherwise. */
  error: string[] | null;
  /** All headers, persistent ones included (a persistent value wins over a plain one). */
  readonly headers: Headers;
  /** The persistent subset of `headers`. */
  readonly headersPersistent: Headers;
  readonly payload: Payload;
  readonly payloadPersistent: Payload;

  constructor(headers: Headers, options: TaskOptions = {}) {
    if (!isJsonObject(headers)) throw new PayloadError("task headers must be a plain object");
    const uuid = newUuid();
    this.rootUid = options.rootUid ?? uuid;
    // A new root reuses its own uuid: `{R}:R` (spec §2.3).
    this.uid = options.uid ?? makeUid(this.rootUid, options.rootUid === undefined ? uuid : undefined);
    this.parentUid = options.parentUid ?? null;
    this.origUid = options.origUid ?? null;
    this.status = options.status ?? TaskState.Declared;
    const priority = options.priority ?? TaskPriority.Normal;
    if (!isTaskPriority(priority)) {
      throw new PayloadError(`unknown task priority "${String(priority)}" (expected high, normal or low)`);
    }
    this.priority = priority;
    this.lastUpdate = options.lastUpdate ?? nowSeconds();
    this.error = options.error ?? null;
    this.headersPersistent = { ...(options.headersPersistent ?? {}) };
    this.headers = { ...headers, ...this.headersPersistent };
    this.payloadPersistent = { ...(options.payloadPersistent ?? {}) };
    // A name in both bags is shadowed by the persistent value on lookup (seed §4.6).
    this.payload = { ...(options.payload ?? {}) };
  }

  /** Short id: the part of the uid after the last `:`. */
  get taskUid(): string {
    return fquidToUid(this.uid);
  }

  /** Short id of a fully-qualified `{root}:uuid` uid. */
  static fquidToUid(fquid: string): string {
    return fquidToUid(fquid);
  }

  /** A payload value, persistent bag first; `defaultValue` (else undefined) when absent. */
  getPayload<T = PayloadValue>(name: string, defaultValue?: T): T | undefined {
    if (Object.hasOwn(this.payloadPersistent, name)) return this.payloadPersistent[name] as T;
    if (Object.hasOwn(this.payload, name)) return this.payload[name] as T;
    return defaultValue;
  }

  /** A payload value that must be a resource; throws a PayloadError naming the key otherwise. */
  getResource<R extends ResourceBase = ResourceBase>(name: string): R {
    const value = this.getPayload(name);
    if (!(value instanceof ResourceBase)) {
      const what = value === undefined ? "is missing" : "is not a resource";
      throw new PayloadError(`payload "${name}" ${what}`, this.uid);
    }
    return value as R;
  }

  hasPayload(name: string): boolean {
    return Object.hasOwn(this.payload, name) || Object.hasOwn(this.payloadPersistent, name);
  }

  isPayloadPersistent(name: string): boolean {
    return Object.hasOwn(this.payloadPersistent, name);
  }

  isHeaderPersistent(name: string): boolean {
    return Object.hasOwn(this.headersPersistent, name);
  }

  /** Adds a payload value; a name may live in only one of the two bags. */
  addPayload(name: string, value: PayloadValue, persistent = false): void {
    if (this.hasPayload(name)) throw new PayloadError(`payload "${name}" already exists`, this.uid);
    (persistent ? this.payloadPersistent : this.payload)[name] = value;
  }

  /** Alias of addPayload, kept from the reference API. */
  addResource(name: string, resource: ResourceBase, persistent = false): void {
    this.addPayload(name, resource, persistent);
  }

  /** Removes a plain payload value; persistent values cannot be removed. */
  removePayload(name: string): void {
    if (this.isPayloadPersistent(name)) {
      throw new PayloadError(`payload "${name}" is persistent and cannot be removed`, this.uid);
    }
    if (!Object.hasOwn(this.payload, name))
      throw new PayloadError(`payload "${name}" does not exist`, this.uid);
    delete this.payload[name];
  }

  /**
   * A copy with other headers (the persistent headers kept), the same payloads and default
   * priority; it becomes a child of the task being processed when sent.
   */
  deriveTask(headers: Headers): Task {
    return new Task(headers, {
      headersPersistent: this.headersPersistent,
      payload: this.payload,
      payloadPersistent: this.payloadPersistent,
    });
  }

  /**
   * The routed copy the router makes for one consumer (spec §2.7 "Fork"): fresh `{root}:uuid`,
   * `orig_uid` = this uid, same tree links, headers, payloads and priority. Nested payload values
   * are shared with this task, not copied.
   */
  fork(): Task {
    return new Task(this.headers, {
      uid: makeUid(this.rootUid),
      rootUid: this.rootUid,
      parentUid: this.parentUid,
      origUid: this.uid,
      status: this.status,
      priority: this.priority,
      headersPersistent: this.headersPersistent,
      payload: this.payload,
      payloadPersistent: this.payloadPersistent,
    });
  }

  /**
   * Makes this task a child of `parent` (the task being processed when it is sent), spec §2.7:
   * tree links, the parent's persistent payload and headers (the parent wins), its priority.
   */
  inheritFrom(parent: Task): void {
    this.parentUid = parent.uid;
    this.rootUid = parent.rootUid;
    this.uid = makeUid(this.rootUid);
    for (const [key, value] of Object.entries(parent.payloadPersistent)) {
      this.payloadPersistent[key] = value;
      delete this.payload[key];
    }
    for (const [key, value] of Object.entries(parent.headersPersistent)) {
      this.headers[key] = value;
      this.headersPersistent[key] = value;
    }
    this.priority = parent.priority;
  }

  /** Sets the status and refreshes `lastUpdate`. */
  setStatus(status: TaskState): void {
    this.status = status;
    this.lastUpdate = nowSeconds();
  }

  /** (bag, key, value) for every top-level entry of the payload, then of the persistent payload. */
  *walkPayloadBags(): Generator<[Payload, string, PayloadValue]> {
    for (const bag of [this.payload, this.payloadPersistent]) {
      for (const [key, value] of Object.entries(bag)) yield [bag, key, value];
    }
  }

  /** (path, value) for every value in both payloads, depth first, containers before their items. */
  *walkPayloadItems(): Generator<[PayloadPath, PayloadValue]> {
    for (const [, key, value] of this.walkPayloadBags()) yield* walkItem([key], value);
  }

  /** Every resource in both payloads, at any depth. */
  *iterateResources(): Generator<ResourceBase> {
    for (const [, value] of this.walkPayloadItems()) if (value instanceof ResourceBase) yield value;
  }

  /** Local resources still to be uploaded (sending the task uploads them). */
  localResources(): LocalResource[] {
    return [...this.iterateResources()].filter((r): r is LocalResource => r instanceof LocalResource);
  }
}

function* walkItem(path: PayloadPath, value: PayloadValue): Generator<[PayloadPath, PayloadValue]> {
  yield [path, value];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* walkItem([...path, i], value[i] as PayloadValue);
  } else if (isJsonObject(value)) {
    for (const [key, item] of Object.entries(value)) yield* walkItem([...path, key], item as PayloadValue);
  }
}

/**
 * Every Redis key and pub/sub channel karton-ts uses, in one place.
 *
 * The first part is the keyspace shared with Python karton-core 5.x (wire-protocol spec §1.1); the
 * names MUST stay byte-identical. The second part holds karton-ts extensions: all of them start with
 * `karton.ts.`, a prefix Python never reads, scans (`karton.task:*` does not match it) nor deletes.
 */
import { parse } from "../../json/index.js";
import { isJsonObject, type JsonObject } from "../../json/values.js";
import type { TaskPriority } from "../../task/enums.js";
import { KartonMetric } from "../types.js";

// ---- shared with Python ------------------------------------------------------------------------

/** Prefix of task documents; `SCAN MATCH karton.task:*` finds them all. */
export const TASK_KEY_PREFIX = "karton.task:";
/** Unrouted task uids, FIFO (producers RPUSH, routers pop from the head). */
export const UNROUTED_TASKS_KEY = "karton.tasks";
/** Legacy status-change requests of Karton ≤ 4.3 clients. */
export const LEGACY_OPERATIONS_KEY = "karton.operations";
/** Hash identity → bind JSON. */
export const BINDS_KEY = "karton.binds";
/** Channel on which karton-system republishes legacy operation bodies (spec §5.6). */
export const LEGACY_OPERATIONS_LOG_CHANNEL = "karton.log.info.karton.operations";

/** `karton.task:<uid>`. */
export function taskKey(uid: string): string {
  return TASK_KEY_PREFIX + uid;
}

/** `karton.task:{<root>}:*`: new-style task keys of one analysis tree (spec §12 get_analysis). */
export function taskTreePattern(rootUid: string): string {
  return `${TASK_KEY_PREFIX}{${escapeGlob(rootUid)}}:*`;
}

/** `karton.task:[^{]*`: legacy (bare uuid) task keys, which carry no root in their name. */
export const LEGACY_TASK_PATTERN = `${TASK_KEY_PREFIX}[^{]*`;
/** Every task key. */
export const ALL_TASKS_PATTERN = `${TASK_KEY_PREFIX}*`;

/** `karton.queue.<priority>:<identity>`. */
export function queueKey(priority: TaskPriority | `${TaskPriority}`, identity: string): string {
  return `karton.queue.${priority}:${identity}`;
}

/**
 * The four lists a consumer pops, in priority order: the bare identity (Karton 2.x queue), then
 * high, normal and low (spec §11.2). GC deletes the same four keys (spec §6.1).
 */
export function consumerQueueKeys(identity: string): [string, string, string, string] {
  return [identity, queueKey("high", identity), queueKey("normal", identity), queueKey("low", identity)];
}

/** `karton.metrics.<metric>`. */
export function metricsKey(metric: KartonMetric | `${KartonMetric}`): string {
  return `karton.metrics.${metric}`;
}

/** The five metrics hashes, in the order of {@link KartonMetric}. */
export const ALL_METRICS: readonly KartonMetric[] = [
  KartonMetric.Produced,
  KartonMetric.Assigned,
  KartonMetric.Consumed,
  KartonMetric.Crashed,
  KartonMetric.GarbageCollected,
];

/** Prefix of the task tracking sets `karton.outputs:<origin>`. */
export const OUTPUTS_KEY_PREFIX = "karton.outputs:";

/** `karton.outputs:<origin>` (task tracking, spec §5.4). */
export function outputsKey(origin: string): string {
  return `${OUTPUTS_KEY_PREFIX}${origin}`;
}

/** Members of a `karton.outputs:*` set (header-set JSON), parsed; members that are not JSON objects are skipped. */
export function parseOutputMembers(members: readonly string[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const member of members) {
    try {
      const value = parse(member);
      if (isJsonObject(value)) out.push(value);
    } catch {
      // not written by a router: ignore
    }
  }
  return out;
}

/** `karton.log.<level>.<identity>`; the level is lower-cased as Python does. */
export function logChannel(level: string, identity: string): string {
  return `karton.log.${level.toLowerCase()}.${identity}`;
}

/** PSUBSCRIBE pattern `karton.log.<level or *>.<identity glob or *>` (spec §8.3). */
export function logPattern(filter: { level?: string; identity?: string } = {}): string {
  const level = filter.level ? filter.level.toLowerCase() : "*";
  const identity = filter.identity ? filter.identity : "*";
  return `karton.log.${level}.${identity}`;
}

// ---- karton-ts extensions (never touched by Python) --------------------------------------------

/** Prefix of every karton-ts extension key. */
export const EXTENSION_PREFIX = "karton.ts.";

/** List of task uids a consumer instance has claimed and not yet completed. */
export function claimsKey(instanceId: string): string {
  return `${EXTENSION_PREFIX}claims:${instanceId}`;
}

/** List of unrouted uids a router instance has taken from `karton.tasks` and not yet applied. */
export function routingKey(instanceId: string): string {
  return `${EXTENSION_PREFIX}routing:${instanceId}`;
}

/** Heartbeat string (JSON registration) with a TTL; its absence means the instance is dead. */
export function aliveKey(instanceId: string): string {
  return `${EXTENSION_PREFIX}alive:${instanceId}`;
}

/**
 * Hash instanceId → registration JSON `{kind, identity, host, pid, started}`. Outlives the
 * heartbeat, so the claims of a dead instance can still be attributed after its heartbeat expired.
 */
export const INSTANCES_KEY = `${EXTENSION_PREFIX}instances`;
/** Hash task uid → how many times it was recovered from a dead consumer. */
export const ATTEMPTS_KEY = `${EXTENSION_PREFIX}attempts`;
/** List of quarantine records (JSON), oldest first, capped at {@link QUARANTINE_MAX_RECORDS}. */
export const QUARANTINE_KEY = `${EXTENSION_PREFIX}quarantine`;
/** How many quarantine records are kept (older ones are trimmed away). */
export const QUARANTINE_MAX_RECORDS = 10_000;

/** Escapes Redis glob metacharacters so a value matches itself literally in SCAN MATCH. */
export function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

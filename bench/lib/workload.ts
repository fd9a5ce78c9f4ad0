/**
 * Benchmark data: task documents shaped like real ones (headers, one resource marker, padding to a
 * chosen size) and persistent binds of which a chosen number match each task.
 */
import type { Redis } from "ioredis";
import { type Bind, serializeBind } from "../../src/bind/bind.js";
import type { JsonObject } from "../../src/json/index.js";
import { serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { type Payload, Task } from "../../src/task/task.js";

export const BENCH_ORIGIN = "bench.producer";

/** How binds and tasks relate: `binds` binds, each task matched by `matches` of them. */
export interface BindLayout {
  binds: number;
  matches: number;
}

/** Number of distinct `group` header values: each group is matched by `matches` binds. */
export function groupCount(layout: BindLayout): number {
  return Math.max(1, Math.floor(layout.binds / Math.max(1, layout.matches)));
}

/** Identity of the j-th bench consumer. */
export function benchIdentity(j: number): string {
  return `bench.consumer-${String(j).padStart(3, "0")}`;
}

/** Persistent binds `bench.consumer-NNN`; bind j takes `{type: sample, group: g<j mod groups>}`. */
export function makeBinds(layout: BindLayout): Bind[] {
  const groups = groupCount(layout);
  const out: Bind[] = [];
  for (let j = 0; j < layout.binds; j++) {
    out.push({
      identity: benchIdentity(j),
      filters: [{ type: "sample", group: `g${j % groups}` }],
      info: null,
      version: "5.9.1",
      persistent: true,
      serviceVersion: null,
      isAsync: false,
    });
  }
  return out;
}

/** The identities of the binds matching the group of task `i`. */
export function matchingIdentities(layout: BindLayout, i: number): string[] {
  const groups = groupCount(layout);
  const g = i % groups;
  const out: string[] = [];
  for (let j = g; j < layout.binds; j += groups) out.push(benchIdentity(j));
  return out;
}

export async function registerBinds(redis: Redis, binds: Bind[]): Promise<void> {
  const args: string[] = [];
  for (const bind of binds) args.push(bind.identity, serializeBind(bind));
  if (args.length > 0) await redis.hset("karton.binds", ...args);
}

/** A resource marker as Python writes it. */
export function resourceMarker(bucket: string, uid: string, size = 1024): JsonObject {
  const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  return {
    __karton_resource__: {
      bucket,
      flags: [],
      metadata: { sha256: sha },
      name: "sample.exe",
      sha256: sha,
      size,
      uid,
    },
  };
}

export interface TaskSpec {
  /** Index of the task (decides its group). */
  i: number;
  layout: BindLayout;
  /** Approximate document size in bytes (padding in the payload). */
  bytes: number;
  bucket: string;
  /** S3 key of the resource the task references. */
  resourceUid: string;
  status?: TaskState;
  /** Extra payload values (e.g. the send time). */
  extra?: Payload;
  /** Receiver header (forks). */
  receiver?: string;
}

/** A task (Declared unless given) with its document text, about `bytes` long. */
export function makeTask(spec: TaskSpec): { task: Task; doc: string } {
  const headers: JsonObject = {
    type: "sample",
    kind: "raw",
    platform: "win32",
    group: `g${spec.i % groupCount(spec.layout)}`,
    origin: BENCH_ORIGIN,
  };
  if (spec.receiver !== undefined) headers.receiver = spec.receiver;
  const payload: Payload = { sample: resourceMarker(spec.bucket, spec.resourceUid), ...(spec.extra ?? {}) };
  const task = new Task(headers, { payload, status: spec.status ?? TaskState.Declared });
  let doc = serializeTask(task);
  const pad = spec.bytes - doc.length - 12;
  if (pad > 0) {
    task.payload.padding = "x".repeat(pad);
    doc = serializeTask(task);
  }
  return { task, doc };
}

/** Stores documents and queues their uids on karton.tasks (pipelined), as producers do. */
export async function queueUnrouted(redis: Redis, tasks: { task: Task; doc: string }[]): Promise<void> {
  for (let i = 0; i < tasks.length; i += 1000) {
    const pipe = redis.pipeline();
    const chunk = tasks.slice(i, i + 1000);
    for (const { task, doc } of chunk) pipe.set(`karton.task:${task.uid}`, doc);
    pipe.rpush("karton.tasks", ...chunk.map(({ task }) => task.uid));
    pipe.hincrby("karton.metrics.produced", BENCH_ORIGIN, chunk.length);
    await pipe.exec();
  }
}

/** Sum of the lengths of the normal queues of the given identities. */
export async function queuedForks(redis: Redis, identities: readonly string[]): Promise<number> {
  const pipe = redis.pipeline();
  for (const id of identities) pipe.llen(`karton.queue.normal:${id}`);
  const res = (await pipe.exec()) ?? [];
  let total = 0;
  for (const [, n] of res) total += Number(n);
  return total;
}

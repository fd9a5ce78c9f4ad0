import type { Readable } from "node:stream";
import type { ObjectStorage } from "../resource/object-storage.js";
import type { TaskPriority } from "../task/enums.js";
import type { Task } from "../task/task.js";

/** The five metrics hashes `karton.metrics.<name>` (spec §9). */
export enum KartonMetric {
  Produced = "produced",
  Assigned = "assigned",
  Consumed = "consumed",
  Crashed = "crashed",
  GarbageCollected = "garbage-collected",
}

/** A client connected to the store, as `CLIENT LIST` shows it (spec §1.3). */
export interface OnlineClient {
  /** Client name cut at the first `?` ("" for unnamed clients). */
  identity: string;
  /** The full client name. */
  name: string;
  /** Query parameters of an extended name (`karton_version`, `service_version`, ...). */
  params: Record<string, string>;
}

/** What the router or a garbage-collection pass found unreadable, for operators to inspect. */
export interface QuarantineRecord {
  /** Task uid or bind identity. */
  subject: string;
  kind: "task" | "bind";
  reason: string;
  /** The offending value as stored (truncated by the backend when huge). */
  raw: string | null;
  /** Unix time in float seconds. */
  at: number;
  /** Identity of the reporter (e.g. `karton.system`). */
  reporter: string;
}

/** A task document as stored, not yet parsed (GC, dashboard and router read many). */
export interface RawTask {
  uid: string;
  raw: string;
}

/** One fork the router writes: its document, the queue it goes to, the bind identity. */
export interface ForkPlan {
  task: Task;
  identity: string;
  priority: TaskPriority;
}

/** The router's decisions for one batch, applied atomically per batch (never half-routed). */
export interface RoutePlan {
  /** Every uid taken from `karton.tasks` for this batch, in order (including unreadable ones). */
  taken: string[];
  /** Originals to mark Finished (whole documents, already with status and last_update set). */
  finished: Task[];
  forks: ForkPlan[];
  /** `karton.outputs:<origin>` members: JSON of headers (unsorted, Python separators). */
  outputs: { origin: string; member: string }[];
  /** TTL of `karton.outputs:*` sets in seconds, or null when task tracking is off. */
  outputsTtl: number | null;
  /** Uids set aside (unreadable documents); recorded in the quarantine. */
  quarantined: QuarantineRecord[];
}

/** Version-aware listing entry of the default bucket (GC resource phase). */
export interface ObjectVersion {
  key: string;
  versionId: string;
}

/** Object store operations beyond what resources need (bucket management and GC). */
export interface ObjectStore extends ObjectStorage {
  bucketExists(bucket: string): Promise<boolean>;
  createBucket(bucket: string): Promise<void>;
  /** Every object version and delete marker of a bucket (all pages), grouped by key. */
  listObjectVersions(bucket: string): Promise<Map<string, string[]>>;
  /**
   * One page of {@link listObjectVersions}: the versions and delete markers as [key, versionId]
   * pairs, and the cursor of the next page (undefined after the last). Optional: the garbage
   * collector lists a page per step with it (routing goes on between pages), else all at once.
   */
  listObjectVersionsPage?(
    bucket: string,
    cursor?: string,
  ): Promise<{ versions: [string, string][]; next: string | undefined }>;
  /** Deletes the given keys/versions in chunks of at most 100 (spec §6.3). */
  deleteObjects(bucket: string, entries: { key: string; versionId?: string }[]): Promise<void>;
  /** Size of an object in bytes, or null when missing. */
  headObject(bucket: string, key: string): Promise<number | null>;
  getObjectRange?(bucket: string, key: string, start: number, end: number): Promise<Readable>;
}

/** A log record as published on `karton.log.<level>.<identity>` (spec §8.2). */
export type LogRecordBody = Record<string, unknown>;

export interface LogSubscription {
  close(): Promise<void>;
}

/** A received log message: its channel and the decoded JSON body (with `task` decoded too). */
export interface LogMessage {
  channel: string;
  body: Record<string, unknown>;
}

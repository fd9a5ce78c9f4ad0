/**
 * `sendTask`, shared by Producer and Karton (spec §11.9, §2.7).
 */
import type { KartonBackend } from "../backend/backend.js";
import type { LocalResource } from "../resource/local-resource.js";
import { serializeTask } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import { nowSeconds, type Task } from "../task/task.js";
import { SendTaskError } from "./errors.js";
import type { Logger } from "./logging.js";
import type { TaskContext } from "./task-context.js";
import { errorMessage } from "./traceback.js";

/** What sending needs from the service. */
export interface TaskSender {
  readonly identity: string;
  readonly backend: KartonBackend;
  readonly log: Logger;
  /** The context of the task being processed, if any. */
  readonly context: TaskContext | undefined;
  /** Connects to the store (memoised). */
  connect(): Promise<void>;
  /** `[system] max_task_size`: largest task document in bytes; 0 or undefined = no limit. */
  readonly maxTaskSize?: number;
}

/**
 * Sends `task`:
 * 1. while a task is processed, make it a child of that task (`task.inheritFrom`, §2.7);
 * 2. `last_update = now`, `headers.origin = identity`;
 * 3. give local resources without a bucket the default bucket, compute their size and sha256;
 * 4. refuse a document over `[system] max_task_size` bytes, then store it, status Declared
 *    (`declareTask`);
 * 5. upload the local resources (streamed);
 * 6. queue it for routing and count it as produced (`enqueueUnrouted`).
 *
 * Throws a {@link SendTaskError} naming the task and the failed step. A failure at step 5 or 6 leaves
 * the document Declared outside `karton.tasks`: no router takes it, and the garbage collector deletes
 * it after `[system] task_dispatched_timeout`.
 */
export async function sendTaskFrom(sender: TaskSender, task: Task): Promise<boolean> {
  const context = sender.context;
  if (context) {
    if (context.signal.aborted) {
      throw new SendTaskError(
        task.uid,
        "prepare",
        `the task being processed (${context.task.uid}) was abandoned (${errorMessage(context.signal.reason)}); ` +
          "its process() may no longer send tasks",
      );
    }
    task.inheritFrom(context.task);
  }
  task.status = TaskState.Declared;
  task.lastUpdate = nowSeconds();
  task.headers.origin = sender.identity;

  await step(task, "prepare", "connecting to the store", () => sender.connect());
  const resources = task.localResources();
  for (const resource of resources) {
    if (!resource.bucket) {
      const bucket = sender.backend.defaultBucket;
      if (!bucket) {
        throw new SendTaskError(
          task.uid,
          "prepare",
          `resource "${resource.name}" has no bucket and no default bucket is configured ([s3] bucket)`,
        );
      }
      resource.bucket = bucket;
    }
  }
  for (const resource of resources) {
    await step(task, "prepare", `preparing resource "${resource.name}"`, () => resource.prepare());
  }
  const limit = sender.maxTaskSize ?? 0;
  if (limit > 0) {
    // The document as stored (resource markers with their final size and sha256); karton-system
    // would quarantine it instead of routing it, so refuse before anything is written or uploaded.
    const size = Buffer.byteLength(serializeTask(task), "utf8");
    if (size > limit) {
      throw new SendTaskError(
        task.uid,
        "prepare",
        `the task document is ${size} bytes, over the limit of ${limit} bytes ([system] max_task_size); ` +
          "put large data in a resource instead of the payload",
      );
    }
  }
  if (resources.length === 0) {
    // Nothing to upload in between: the document and the queueing leave together (one round trip;
    // on one connection Redis still applies the SET before the RPUSH).
    const declared = step(task, "declare", "storing the task document", () =>
      sender.backend.declareTask(task),
    );
    const enqueued = step(task, "enqueue", "queueing the task for routing", () =>
      sender.backend.enqueueUnrouted(task, sender.identity),
    );
    const [declareResult, enqueueResult] = await Promise.allSettled([declared, enqueued]);
    if (declareResult.status === "rejected") throw declareResult.reason;
    if (enqueueResult.status === "rejected") throw enqueueResult.reason;
    sender.log.debug(`Sent task ${task.uid}`);
    return true;
  }
  await step(task, "declare", "storing the task document", () => sender.backend.declareTask(task));
  for (const resource of resources) {
    await step(task, "upload", `uploading resource "${resource.name}" to bucket "${resource.bucket}"`, () =>
      (resource as LocalResource).upload(sender.backend.objects),
    );
  }
  await step(task, "enqueue", "queueing the task for routing", () =>
    sender.backend.enqueueUnrouted(task, sender.identity),
  );
  sender.log.debug(`Sent task ${task.uid}`);
  return true;
}

async function step(
  task: Task,
  name: SendTaskError["step"],
  what: string,
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const left =
      name === "upload" || name === "enqueue"
        ? "; the task is left Declared and not queued (the garbage collector removes it after task_dispatched_timeout)"
        : "";
    throw new SendTaskError(task.uid, name, `${what} failed: ${errorMessage(error)}${left}`, {
      cause: error,
    });
  }
}

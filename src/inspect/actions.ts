/**
 * Operator actions on tasks (CLI `restart`/`cancel`, dashboard buttons), with the semantics of
 * Python's dashboard (spec §2.7 "Restart", §12 "Cancel"):
 *
 * - restart: a fork of the routed task with `orig_uid` reset to the old task's `orig_uid`, status
 *   Spawned, pushed to `karton.queue.<its priority>:<its receiver>`; the old task becomes Finished
 *   (one backend `restartTask` step per task; no metrics);
 * - cancel: status Finished (whole-document write, last writer wins). The uid may still sit in a
 *   queue: the consumer drops it once the garbage collector has deleted the Finished document.
 *
 * Bulk actions read the candidates with one scan of every task document (or re-read the given
 * candidates with one `MGET` per 1000), then act only on documents that still qualify.
 */
import type { KartonBackend } from "../backend/backend.js";
import type { TaskPriority } from "../task/enums.js";
import { TaskState } from "../task/enums.js";
import type { Task } from "../task/task.js";
import { InspectError } from "./errors.js";
import { requireTask } from "./find.js";
import { scanAllTasks } from "./state.js";
import { byLastUpdate, isCrashed, isPending, type ParsedTasks, parseRawTasks, receiverOf } from "./tasks.js";

export interface RestartResult {
  /** The restarted (now Finished) task. */
  oldUid: string;
  /** The new Spawned fork. */
  newUid: string;
  /** Its consumer (`receiver` header). */
  identity: string;
  priority: TaskPriority;
  /** Status of the old task before the restart. */
  previousStatus: TaskState;
}

export interface CancelResult {
  uid: string;
  previousStatus: TaskState;
  /** False when the task was already Finished (nothing written). */
  changed: boolean;
}

/** Outcome of a bulk action on one queue. */
export interface BulkResult<R> {
  identity: string;
  /** Tasks acted on successfully. */
  done: R[];
  /** Tasks the action failed for (storage errors), with the message. */
  failed: { uid: string; reason: string }[];
}

/** Options of the bulk actions. */
export interface BulkOptions {
  /**
   * Candidate uids (e.g. from a loaded {@link KartonState} queue): re-read and re-checked instead of
   * scanning every task document.
   */
  uids?: readonly string[];
}

/**
 * The fork that restarts `task` (pure): fresh `{root}:uuid` uid, `orig_uid` = the old task's
 * `orig_uid`, status Spawned, fresh `last_update`, no error; headers (incl. `receiver`), payloads and
 * priority copied. Throws `TASK_NOT_ROUTED` for a task without `receiver`.
 */
export function planRestart(task: Task): Task {
  if (receiverOf(task) === null) {
    throw new InspectError(
      "TASK_NOT_ROUTED",
      `task ${task.uid} has no "receiver" header: it was never routed to a consumer (status ${task.status}), ` +
        "so it has no queue to be restarted in",
      task.uid,
    );
  }
  const fork = task.fork();
  fork.origUid = task.origUid;
  fork.error = null;
  fork.setStatus(TaskState.Spawned);
  return fork;
}

/** Restarts one routed task (any status); see the module comment. */
export async function restartTask(backend: KartonBackend, uid: string): Promise<RestartResult> {
  return await restartLoaded(backend, await requireTask(backend, uid));
}

async function restartLoaded(backend: KartonBackend, task: Task): Promise<RestartResult> {
  const previousStatus = task.status;
  const fork = planRestart(task);
  await backend.restartTask(fork, task);
  return {
    oldUid: task.uid,
    newUid: fork.uid,
    identity: receiverOf(fork) as string,
    priority: fork.priority,
    previousStatus,
  };
}

/** Sets one task Finished (a no-op for a task already Finished). */
export async function cancelTask(backend: KartonBackend, uid: string): Promise<CancelResult> {
  const task = await requireTask(backend, uid);
  const previousStatus = task.status;
  if (previousStatus === TaskState.Finished) return { uid: task.uid, previousStatus, changed: false };
  await backend.setTaskStatus(task, TaskState.Finished);
  return { uid: task.uid, previousStatus, changed: true };
}

/** Restarts every Crashed task routed to `identity`. */
export async function restartCrashed(
  backend: KartonBackend,
  identity: string,
  options: BulkOptions = {},
): Promise<BulkResult<RestartResult>> {
  const tasks = await queueTasks(backend, identity, isCrashed, options);
  const result: BulkResult<RestartResult> = { identity, done: [], failed: [] };
  for (const task of tasks) {
    try {
      result.done.push(await restartLoaded(backend, task));
    } catch (error) {
      result.failed.push({ uid: task.uid, reason: errorText(error) });
    }
  }
  return result;
}

/** Sets every Crashed task routed to `identity` Finished. */
export async function cancelCrashed(
  backend: KartonBackend,
  identity: string,
  options: BulkOptions = {},
): Promise<BulkResult<CancelResult>> {
  return await cancelAll(backend, identity, await queueTasks(backend, identity, isCrashed, options));
}

/** Sets every pending (not Finished, not Crashed) task routed to `identity` Finished. */
export async function cancelPending(
  backend: KartonBackend,
  identity: string,
  options: BulkOptions = {},
): Promise<BulkResult<CancelResult>> {
  return await cancelAll(backend, identity, await queueTasks(backend, identity, isPending, options));
}

/** Writes the tasks Finished in chunks (`MSET` of up to 1000 documents each). */
async function cancelAll(
  backend: KartonBackend,
  identity: string,
  tasks: Task[],
): Promise<BulkResult<CancelResult>> {
  const result: BulkResult<CancelResult> = { identity, done: [], failed: [] };
  const chunk = 1000;
  for (let i = 0; i < tasks.length; i += chunk) {
    const batch = tasks.slice(i, i + chunk);
    const previous = batch.map((task) => task.status);
    for (const task of batch) task.setStatus(TaskState.Finished);
    try {
      await backend.saveTasks(batch);
      batch.forEach((task, j) => {
        result.done.push({ uid: task.uid, previousStatus: previous[j] as TaskState, changed: true });
      });
    } catch (error) {
      for (const task of batch) result.failed.push({ uid: task.uid, reason: errorText(error) });
    }
  }
  return result;
}

/**
 * The tasks of a queue that satisfy `accept`, oldest first: one scan of every document, or one
 * re-read of the given candidates.
 */
export async function queueTasks(
  backend: KartonBackend,
  identity: string,
  accept: (task: Task) => boolean,
  options: BulkOptions = {},
): Promise<Task[]> {
  let parsed: ParsedTasks;
  if (options.uids !== undefined) {
    const uids = [...options.uids];
    const raws = await backend.getRawTasks(uids);
    const present = uids.flatMap((uid, i) => {
      const raw = raws[i];
      return raw === null || raw === undefined ? [] : [{ uid, raw }];
    });
    parsed = parseRawTasks(present);
  } else {
    parsed = await scanAllTasks(backend);
  }
  return parsed.tasks.filter((task) => receiverOf(task) === identity && accept(task)).sort(byLastUpdate);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

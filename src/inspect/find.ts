import type { KartonBackend } from "../backend/backend.js";
import type { Task } from "../task/task.js";
import { InspectError } from "./errors.js";
import { parseStoredTask } from "./tasks.js";

/** A stored task document: parsed, or kept raw with the reason it cannot be parsed. */
export type FoundTask =
  | { uid: string; raw: string; task: Task; reason: null }
  | { uid: string; raw: string; task: null; reason: string };

/** `karton.task:<uid>` pasted from redis-cli is accepted as `<uid>`. */
export function normalizeTaskUid(uid: string): string {
  const trimmed = uid.trim();
  return trimmed.startsWith("karton.task:") ? trimmed.slice("karton.task:".length) : trimmed;
}

/**
 * Reads one task document by full uid (one `MGET`), never throwing on bad data: null when there is
 * no document, `task: null` with the reason when it cannot be parsed. Resources are not decoded.
 */
export async function findTask(backend: KartonBackend, uid: string): Promise<FoundTask | null> {
  const key = normalizeTaskUid(uid);
  if (key === "") return null;
  const [raw] = await backend.getRawTasks([key]);
  if (raw === null || raw === undefined) return null;
  const parsed = parseStoredTask(key, raw);
  if ("reason" in parsed) return { uid: key, raw, task: null, reason: parsed.reason };
  return { uid: key, raw, task: parsed, reason: null };
}

/** Like {@link findTask} but throws an {@link InspectError} when missing or unreadable. */
export async function requireTask(backend: KartonBackend, uid: string): Promise<Task> {
  const found = await findTask(backend, uid);
  if (found === null) throw new InspectError("TASK_NOT_FOUND", `task ${uid} not found`, uid);
  if (found.task === null) {
    throw new InspectError("TASK_UNREADABLE", `task ${found.uid} cannot be read: ${found.reason}`, found.uid);
  }
  return found.task;
}

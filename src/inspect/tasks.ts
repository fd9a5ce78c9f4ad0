/**
 * Task helpers shared by the read model, the actions, the CLI and the dashboard: parsing raw
 * documents without ever throwing, status classes, ordering, error lines.
 */
import type { RawTask } from "../backend/types.js";
import { parseTask } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import type { Task } from "../task/task.js";

/** A stored document that could not be parsed, kept with the reason instead of failing. */
export interface UnparsableTask {
  uid: string;
  raw: string;
  reason: string;
}

/** Parsed tasks and the documents that could not be parsed. */
export interface ParsedTasks {
  tasks: Task[];
  unparsable: UnparsableTask[];
}

/** Parses one stored document without decoding resources (markers stay plain objects). */
export function parseStoredTask(uid: string, raw: string): Task | UnparsableTask {
  try {
    return parseTask(raw, { decodeResources: false });
  } catch (error) {
    return { uid, raw, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** Parses raw documents (as `scanTasks` yields them) into `into` (new lists when omitted). */
export function parseRawTasks(
  raws: Iterable<RawTask>,
  into: ParsedTasks = { tasks: [], unparsable: [] },
): ParsedTasks {
  for (const { uid, raw } of raws) {
    const parsed = parseStoredTask(uid, raw);
    if ("reason" in parsed) into.unparsable.push(parsed);
    else into.tasks.push(parsed);
  }
  return into;
}

/** Waiting or running: any status but Finished and Crashed (the post-5.9.1 dashboard's "pending"). */
export function isPending(task: Task): boolean {
  return task.status !== TaskState.Finished && task.status !== TaskState.Crashed;
}

export function isCrashed(task: Task): boolean {
  return task.status === TaskState.Crashed;
}

/** The consumer a routed task was forked for (`headers.receiver`), or null for unrouted tasks. */
export function receiverOf(task: Task): string | null {
  const receiver = task.headers.receiver;
  return typeof receiver === "string" && receiver !== "" ? receiver : null;
}

/** Oldest first by `last_update`, then by uid (a stable, total order). */
export function byLastUpdate(a: Task, b: Task): number {
  return a.lastUpdate - b.lastUpdate || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);
}

/**
 * The last non-blank line of a crash traceback (usually `ExceptionType: message`), or null when
 * the task has no error.
 */
export function lastErrorLine(task: Task): string | null {
  if (!task.error || task.error.length === 0) return null;
  const lines = task.error.join("").split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (line !== "") return line;
  }
  return null;
}

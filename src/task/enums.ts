/** Task status strings exactly as they appear on the wire (spec §2.1). */
export enum TaskState {
  Declared = "Declared",
  Spawned = "Spawned",
  Started = "Started",
  Finished = "Finished",
  Crashed = "Crashed",
}

/** Task priority strings; each selects a queue `karton.queue.<priority>:<identity>`. */
export enum TaskPriority {
  High = "high",
  Normal = "normal",
  Low = "low",
}

/** Queue pop order: strict priority (spec §11.2). */
export const PRIORITY_ORDER: readonly TaskPriority[] = [
  TaskPriority.High,
  TaskPriority.Normal,
  TaskPriority.Low,
];

const STATES = new Set<string>(Object.values(TaskState));
const PRIORITIES = new Set<string>(Object.values(TaskPriority));

export function isTaskState(value: unknown): value is TaskState {
  return typeof value === "string" && STATES.has(value);
}

export function isTaskPriority(value: unknown): value is TaskPriority {
  return typeof value === "string" && PRIORITIES.has(value);
}

import type { Task } from "../task/task.js";

/** Called before `process()` of every task (errors are logged and ignored). */
export type PreHook = (task: Task) => void | Promise<void>;
/** Called after `process()` of every task with the error it threw, or null (errors logged and ignored). */
export type PostHook = (task: Task, error: unknown | null) => void | Promise<void>;

export interface NamedHook<F> {
  name: string | undefined;
  callback: F;
}

import type { Task } from "../task/task.js";

/**
 * What a service knows about the task it is processing in the current async context. Each service
 * keeps its own `AsyncLocalStorage` of these, so with `concurrency > 1` every `process()` call (and
 * everything it awaits: `sendTask`, log calls) sees its own task.
 */
export interface TaskContext {
  task: Task;
  /** Aborted when the task times out or the consumer is interrupted. */
  signal: AbortSignal;
}

/** The second argument of `Consumer.process()`. */
export interface ProcessContext {
  /**
   * Aborted when the task timeout expires or a forced shutdown interrupts the task. Pass it to
   * `fetch`, child processes, timers... so abandoned work really stops.
   */
  signal: AbortSignal;
}

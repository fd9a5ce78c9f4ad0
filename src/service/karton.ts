import { Task } from "../task/task.js";
import { Consumer } from "./consumer.js";
import { sendTaskFrom } from "./send-task.js";
import type { ServiceOptions } from "./service-base.js";

/** Header `type` of status-signalling tasks (spec §11.8). */
export const SIGNALING_STATUS_TYPE = "karton.signaling.status";

/**
 * Consumer and Producer in one (seed §3.3): processes tasks and sends new ones. Tasks sent while
 * processing become children of the task being processed (spec §2.7).
 *
 * With `[signaling] status = true`, a pre-hook sends `{type: "karton.signaling.status", status:
 * "task_begin"}` and a post-hook `status: "task_end"`, as child tasks of every processed task.
 */
export abstract class Karton extends Consumer {
  constructor(options: ServiceOptions = {}) {
    super(options);
    if (this.config.signalingOptions().status) {
      this.log.info("Using status signaling");
      this.addPreHook(() => this.#sendStatus("task_begin"), "task_begin");
      this.addPostHook(() => this.#sendStatus("task_end"), "task_end");
    }
  }

  /**
   * Sends a task (spec §11.9); while processing, it becomes a child of the current task.
   * Resolves to true; throws a `SendTaskError` naming the failed step.
   */
  async sendTask(task: Task): Promise<boolean> {
    return sendTaskFrom(this.taskSender(), task);
  }

  async #sendStatus(status: "task_begin" | "task_end"): Promise<void> {
    await this.sendTask(new Task({ type: SIGNALING_STATUS_TYPE, status }));
  }
}

import type { Task } from "../task/task.js";
import { sendTaskFrom } from "./send-task.js";
import { KartonServiceBase } from "./service-base.js";

/**
 * Sends tasks into Karton (seed §3.1). An anonymous producer (identity "") is allowed: it sets no
 * client name and sends tasks with `origin: ""`.
 *
 * A producer does not publish its log records unless the application calls `setupLogger()`.
 *
 * ```ts
 * const producer = new Producer({ identity: "karton.mwdb" });
 * await producer.sendTask(new Task({ type: "sample", kind: "raw" }, { payload: { sample: Resource.fromBytes("a.exe", bytes) } }));
 * await producer.close();
 * ```
 */
export class Producer extends KartonServiceBase {
  protected static override kind = "producer";

  /**
   * Sends a task (spec §11.9): child rules when called while processing a task, `origin` header,
   * default bucket for local resources, document stored, resources uploaded, task queued for
   * routing. Resolves to true; throws a `SendTaskError` naming the failed step.
   */
  async sendTask(task: Task): Promise<boolean> {
    return sendTaskFrom(this.taskSender(), task);
  }
}

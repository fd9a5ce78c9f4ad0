// Chaos run, stage 2 (node --import tsx stage2.ts): checks the derived sample, records START/DONE.
import { Consumer } from "../../../src/service/consumer.js";
import type { ProcessContext } from "../../../src/service/task-context.js";
import type { Task } from "../../../src/task/task.js";
import { record, retrying, sha256, sleep } from "./common.js";

class ChaosStage2 extends Consumer {
  static override identity = "chaos.stage2";
  static override filters = [{ type: "chaos", stage: "2" }];

  async process(task: Task, { signal }: ProcessContext): Promise<void> {
    const n = task.getPayload("n") as number;
    record("stage2", "START", 2, n, task.uid);
    const derived = task.getResource("derived");
    const data = await retrying(
      `downloading the derived sample of task ${task.uid}`,
      () => derived.content(),
      (m) => this.log.warning(m),
      signal,
    );
    if (sha256(data) !== task.getPayload("sha256"))
      throw new Error(`derived sample of task ${task.uid} (n=${n}) is corrupted`);
    await sleep(Math.floor(Math.random() * Number(process.env.CHAOS_WORK_MS ?? 300)));
    record("stage2", "DONE", 2, n, task.uid);
  }
}

void ChaosStage2.main();

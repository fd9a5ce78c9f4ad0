// Chaos run, stage 1 (node --import tsx stage1.ts): checks the sample against its sha256, sends a
// derived sample to stage 2 with a new resource, records START/DONE around process().
import { Resource } from "../../../src/resource/index.js";
import { Karton } from "../../../src/service/karton.js";
import type { ProcessContext } from "../../../src/service/task-context.js";
import { Task } from "../../../src/task/task.js";
import { record, retrying, sha256, sleep } from "./common.js";

class ChaosStage1 extends Karton {
  static override identity = "chaos.stage1";
  static override filters = [{ type: "chaos", stage: "1" }];

  async process(task: Task, { signal }: ProcessContext): Promise<void> {
    const n = task.getPayload("n") as number;
    record("stage1", "START", 1, n, task.uid);
    const sample = task.getResource("sample");
    const data = await retrying(
      `downloading the sample of task ${task.uid}`,
      () => sample.content(),
      (m) => this.log.warning(m),
      signal,
    );
    if (sha256(data) !== task.getPayload("sha256"))
      throw new Error(`sample of task ${task.uid} (n=${n}) is corrupted`);
    await sleep(Math.floor(Math.random() * Number(process.env.CHAOS_WORK_MS ?? 300)));
    const derived = Buffer.concat([data, Buffer.from(`stage1:${n}`)]);
    const child = new Task(
      { type: "chaos", stage: "2" },
      { payload: { n, derived: Resource.fromBytes(`derived-${n}.bin`, derived), sha256: sha256(derived) } },
    );
    await retrying(
      `sending the stage 2 task of n=${n}`,
      () => this.sendTask(child),
      (m) => this.log.warning(m),
      signal,
    );
    record("stage1", "DONE", 1, n, task.uid);
  }
}

void ChaosStage1.main();

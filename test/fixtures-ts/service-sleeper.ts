// A consumer run as a child process by the service fault tests (node --import tsx <this file> ...).
// It prints "STARTED <uid>" when process() begins, then sleeps `sleep_ms` from the payload (forever
// when absent), ignoring its abort signal, and prints "DONE <uid>" at the end.
import { Consumer } from "../../src/service/consumer.js";
import type { Task } from "../../src/task/task.js";

class Sleeper extends Consumer {
  static override identity = "karton.test-sleeper";
  static override filters = [{ type: "sleep" }];

  async process(task: Task): Promise<void> {
    process.stdout.write(`STARTED ${task.uid}\n`);
    const ms = task.getPayload("sleep_ms");
    await new Promise((resolve) => {
      if (typeof ms === "number") setTimeout(resolve, ms);
    });
    process.stdout.write(`DONE ${task.uid}\n`);
  }
}

void Sleeper.main();

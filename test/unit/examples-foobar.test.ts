// The code of docs/first-karton.md: the FooBar karton with runTask/assertTasksEqual and in a
// pipeline with the PipelineHarness.
import { describe, expect, it } from "vitest";
import { FooBar } from "../../examples/foobar/foobar.js";
import { Consumer } from "../../src/service/consumer.js";
import { Task } from "../../src/task/task.js";
import { assertTasksEqual, PipelineHarness, runTask } from "../../src/testing/index.js";

describe("FooBar (docs/first-karton.md)", () => {
  it("says Foo and Bar to 15", async () => {
    const outputs = await runTask(FooBar, new Task({ type: "foobar" }, { payload: { data: 15 } }));
    await assertTasksEqual(outputs, [
      new Task(
        { type: "foobar-result", origin: "karton.foobar" },
        { payload: { data: 15, words: ["Foo", "Bar"] } },
      ),
    ]);
  });

  it("says nothing to 7", async () => {
    expect(await runTask(FooBar, new Task({ type: "foobar" }, { payload: { data: 7 } }))).toEqual([]);
  });

  it("refuses a task without a number", async () => {
    await expect(runTask(FooBar, new Task({ type: "foobar" }))).rejects.toThrow(/must be a number/);
  });

  it("runs in a pipeline", async () => {
    const seen: unknown[] = [];
    class Collector extends Consumer {
      static override identity = "karton.foobar-collector";
      static override filters = [{ type: "foobar-result" }];
      process(task: Task): void {
        seen.push(task.getPayload("words"));
      }
    }
    const harness = new PipelineHarness();
    try {
      harness.add(FooBar, Collector);
      const analysis = await harness.run(new Task({ type: "foobar" }, { payload: { data: 5 } }));
      expect(seen).toEqual([["Bar"]]);
      expect(analysis.crashed).toEqual([]);
      expect(analysis.byReceiver("karton.foobar-collector")).toHaveLength(1);
    } finally {
      await harness.close();
    }
  });
});

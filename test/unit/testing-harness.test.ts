// PipelineHarness (karton-ts/testing): services + the real karton-system router on the embedded
// backend; send, drain, analysis trees (with crashes), logs, late services, drain timeouts.
import { afterEach, describe, expect, it } from "vitest";
import { Resource } from "../../src/resource/local-resource.js";
import { Consumer } from "../../src/service/consumer.js";
import { Karton } from "../../src/service/karton.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { DrainTimeoutError, PipelineHarness } from "../../src/testing/index.js";

class Upper extends Karton {
  static override identity = "test.upper";
  static override filters = [{ type: "text", stage: "raw" }];
  async process(task: Task): Promise<void> {
    const text = (await task.getResource("text").content()).toString();
    await this.sendTask(
      new Task(
        { type: "text", stage: "upper" },
        { payload: { text: Resource.fromBytes("upper.txt", text.toUpperCase()) } },
      ),
    );
  }
}

const received: string[] = [];
class Sink extends Consumer {
  static override identity = "test.sink";
  static override filters = [{ type: "text", stage: "upper" }];
  async process(task: Task): Promise<void> {
    received.push((await task.getResource("text").content()).toString());
    this.log.warning(`got ${task.uid}`);
  }
}

class Crasher extends Consumer {
  static override identity = "test.crasher";
  static override filters = [{ type: "text", stage: "upper" }];
  process(): void {
    throw new TypeError("cannot digest upper case");
  }
}

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  received.length = 0;
});

describe("PipelineHarness", () => {
  it("routes through the real router and returns the analysis tree", async () => {
    harness = new PipelineHarness({ producerIdentity: "test.producer" });
    harness.add(Upper, Sink);
    const root = await harness.send(
      new Task({ type: "text", stage: "raw" }, { payload: { text: Resource.fromBytes("in.txt", "hello") } }),
    );
    await harness.drain();
    expect(received).toEqual(["HELLO"]);

    const analysis = await harness.analysis(root.rootUid);
    expect(analysis.complete).toBe(true);
    expect(analysis.crashed).toEqual([]);
    expect(analysis.tasks).toHaveLength(4);
    const top = analysis.root!;
    expect(top.uid).toBe(root.uid);
    expect(top.status).toBe(TaskState.Finished);
    expect(top.receiver).toBeNull();
    expect(top.origin).toBe("test.producer");
    expect(top.children.map((c) => c.receiver)).toEqual(["test.upper"]);
    const fork = top.children[0]!;
    expect(fork.origUid).toBe(root.uid);
    expect(fork.status).toBe(TaskState.Finished);
    expect(fork.headers).toEqual({
      type: "text",
      stage: "raw",
      origin: "test.producer",
      receiver: "test.upper",
    });
    const sent = fork.children[0]!;
    expect(sent.parentUid).toBe(fork.uid);
    expect(sent.headers).toEqual({ type: "text", stage: "upper", origin: "test.upper" });
    expect(sent.children.map((c) => [c.receiver, c.status])).toEqual([["test.sink", TaskState.Finished]]);
    expect((await analysis.find({ stage: "upper" })?.task.getResource("text").content())?.toString()).toBe(
      "HELLO",
    );
    expect(analysis.byReceiver("test.sink")).toHaveLength(1);
    expect(analysis.format()).toContain("→ test.sink Finished");
    // A uid of any task of the tree names the analysis too.
    expect((await harness.analysis(sent.uid)).tasks).toHaveLength(4);
    // The services' log records are collected.
    expect(
      harness.logs.some((log) => log.body.message === `got ${analysis.byReceiver("test.sink")[0]?.uid}`),
    ).toBe(true);
  });

  it("shows crashed tasks with their error, and tasks nobody wants as finished leaves", async () => {
    harness = new PipelineHarness({ logLevel: "CRITICAL" });
    harness.add(Upper, Crasher);
    const analysis = await harness.run(
      new Task({ type: "text", stage: "raw" }, { payload: { text: Resource.fromBytes("in.txt", "x") } }),
    );
    expect(analysis.crashed).toHaveLength(1);
    const crashed = analysis.crashed[0]!;
    expect(crashed.receiver).toBe("test.crasher");
    expect(crashed.errorMessage).toBe("TypeError: cannot digest upper case");
    expect(crashed.error?.[0]).toBe("Traceback (most recent call last):\n");
    expect(analysis.format()).toContain("! TypeError: cannot digest upper case");

    const lonely = await harness.run(new Task({ type: "nobody-listens" }));
    expect(lonely.tasks).toHaveLength(1);
    expect(lonely.root?.status).toBe(TaskState.Finished);
    expect(lonely.root?.children).toEqual([]);
  });

  it("starts services added later and passes its configuration", async () => {
    class Configured extends Consumer {
      static override identity = "test.configured";
      static override filters = [{ type: "cfg" }];
      process(): void {
        received.push(this.config.get("custom", "value") ?? "unset");
      }
    }
    harness = new PipelineHarness({ config: { custom: { value: "42" } } });
    await harness.start();
    harness.add((config) => new Configured({ config, identity: "test.configured-2" }));
    await harness.run(new Task({ type: "cfg" }));
    expect(received).toEqual(["42"]);
    expect(harness.services.map((s) => s.identity)).toEqual(["test.configured-2"]);
  });

  it("rejects a drain that does not finish in time, naming the pending tasks", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class Slow extends Consumer {
      static override identity = "test.slow";
      static override filters = [{ type: "slow" }];
      async process(): Promise<void> {
        await gate;
      }
    }
    harness = new PipelineHarness();
    harness.add(Slow);
    await harness.send(new Task({ type: "slow" }));
    const error = await harness.drain({ timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DrainTimeoutError);
    expect((error as DrainTimeoutError).pending).toEqual([
      expect.objectContaining({ status: TaskState.Started, receiver: "test.slow" }),
    ]);
    expect((error as Error).message).toMatch(/1 task\(s\) still pending after 300 ms/);
    release();
    await harness.drain();
  });

  it("applies consumer behaviour for real: task timeouts crash the task", async () => {
    class Sleepy extends Consumer {
      static override identity = "test.sleepy";
      static override filters = [{ type: "sleepy" }];
      static override taskTimeout = 1;
      async process(_task: Task, { signal }: { signal: AbortSignal }): Promise<void> {
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
      }
    }
    harness = new PipelineHarness({ logLevel: "CRITICAL" });
    harness.add(Sleepy);
    const analysis = await harness.run(new Task({ type: "sleepy" }));
    expect(analysis.crashed.map((n) => n.errorMessage)).toEqual([
      "TaskTimeoutError: process() did not finish within the task timeout of 1 second",
    ]);
  });
});

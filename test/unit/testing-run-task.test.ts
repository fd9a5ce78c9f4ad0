// runTask (karton-ts/testing): KartonTestCase.run_task semantics of wire-protocol spec §13.
import { describe, expect, it } from "vitest";
import { KartonConfig } from "../../src/config/config.js";
import { LocalResource, Resource } from "../../src/resource/local-resource.js";
import { RemoteResource } from "../../src/resource/remote-resource.js";
import type { ResourceBase } from "../../src/resource/resource-base.js";
import { Consumer } from "../../src/service/consumer.js";
import { Karton } from "../../src/service/karton.js";
import type { ProcessContext } from "../../src/service/task-context.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import {
  assertTasksEqual,
  createTestBackend,
  runTask,
  TEST_BUCKET,
  TestBackend,
  testKarton,
} from "../../src/testing/index.js";

const quiet = { logging: { level: "CRITICAL" } };

/** Sends the reversed content of payload "file" (the seed's ReverserKarton). */
class Reverser extends Karton {
  static override identity = "karton.reverser";
  static override filters = [{ type: "reverse-task" }];

  async process(task: Task): Promise<void> {
    const data = await task.getResource("file").content();
    await this.sendTask(
      new Task(
        { type: "reverse-result" },
        { payload: { file: Resource.fromBytes("reversed", Buffer.from(data).reverse()) } },
      ),
    );
  }
}

/** Records what process() received, sends what the test asks for. */
class Recorder extends Karton {
  static override identity = "karton.recorder";
  static override filters = [{ type: "never-matches-anything" }];
  static override taskTimeout = 1;
  seen: { task: Task; signal: AbortSignal; current: Task | undefined }[] = [];
  send: Task[] = [];
  hooks = 0;

  constructor(options?: ConstructorParameters<typeof Karton>[0]) {
    super(options);
    this.addPreHook(() => {
      this.hooks++;
    });
  }

  async process(task: Task, { signal }: ProcessContext): Promise<void> {
    this.seen.push({ task, signal, current: this.currentTask });
    for (const t of this.send) await this.sendTask(t);
  }
}

class Thrower extends Karton {
  static override identity = "karton.thrower";
  static override filters = [{ type: "x" }];
  process(): void {
    throw new RangeError("boom");
  }
}

describe("runTask", () => {
  it("returns the sent tasks, comparable with assertTasksEqual (seed §7.2)", async () => {
    const input = new Task(
      { type: "reverse-task" },
      { payload: { file: Resource.fromBytes("sample.txt", "foobarbaz") } },
    );
    const outputs = await runTask(Reverser, input, { config: quiet });
    await assertTasksEqual(outputs, [
      new Task(
        { origin: "karton.reverser", type: "reverse-result" },
        { payload: { file: Resource.fromBytes("sample.txt", "zabraboof") } },
      ),
    ]);
  });

  it("forks the input: new uid, orig_uid, status Started, receiver header; the input is untouched", async () => {
    const karton = testKarton(Recorder, { config: quiet });
    const input = new Task(
      { type: "whatever", kind: "raw" },
      { priority: TaskPriority.High, headersPersistent: { quality: "low" } },
    );
    await runTask(karton, input);
    const seen = karton.seen[0]?.task as Task;
    expect(seen).not.toBe(input);
    expect(seen.uid).not.toBe(input.uid);
    expect(seen.uid.startsWith(`{${input.rootUid}}:`)).toBe(true);
    expect(seen.origUid).toBe(input.uid);
    expect(seen.rootUid).toBe(input.rootUid);
    expect(seen.parentUid).toBe(input.parentUid);
    expect(seen.status).toBe(TaskState.Started);
    expect(seen.priority).toBe(TaskPriority.High);
    expect(seen.headers).toEqual({
      type: "whatever",
      kind: "raw",
      quality: "low",
      receiver: "karton.recorder",
    });
    expect(seen.headersPersistent).toEqual({ quality: "low" });
    expect(karton.seen[0]?.current).toBe(seen);
    expect(input.headers.receiver).toBeUndefined();
    expect(input.status).toBe(TaskState.Declared);
  });

  it("uploads local resources at any depth and replaces them by remote ones", async () => {
    const karton = testKarton(Recorder, { config: quiet });
    const top = Resource.fromBytes("top.bin", "top", { metadata: { magic: "x" } });
    const deep = Resource.fromBytes("deep.bin", "deep");
    const kept = Resource.fromBytes("kept.bin", "persistent");
    const input = new Task(
      { type: "t" },
      { payload: { top, nested: { list: [1, deep] } }, payloadPersistent: { kept } },
    );
    await runTask(karton, input);
    const seen = karton.seen[0]?.task as Task;
    const remoteTop = seen.getResource<RemoteResource>("top");
    expect(remoteTop).toBeInstanceOf(RemoteResource);
    expect(remoteTop.uid).toBe(top.uid);
    expect(remoteTop.name).toBe("top.bin");
    expect(remoteTop.bucket).toBe(TEST_BUCKET);
    expect(remoteTop.metadata).toEqual({ magic: "x" });
    expect(remoteTop.size).toBe(3);
    expect(remoteTop.sha256).toBe(top.sha256);
    expect((await remoteTop.content()).toString()).toBe("top");
    const nested = seen.getPayload("nested") as { list: [number, ResourceBase] };
    expect(nested.list[0]).toBe(1);
    expect(nested.list[1]).toBeInstanceOf(RemoteResource);
    expect((await nested.list[1].content()).toString()).toBe("deep");
    expect(seen.isPayloadPersistent("kept")).toBe(true);
    expect((await seen.getResource("kept").content()).toString()).toBe("persistent");
    expect(karton.backend.objects.getObject(TEST_BUCKET, top.uid)?.toString()).toBe("top");
    // The input still carries its local resources.
    expect(input.getResource("top")).toBe(top);
    expect((input.getPayload("nested") as { list: unknown[] }).list[1]).toBe(deep);
  });

  it("refuses remote resources in the input", async () => {
    const remote = new RemoteResource({
      uid: "u",
      name: "r",
      bucket: "b",
      size: 1,
      sha256: null,
      metadata: {},
      flags: [],
    });
    await expect(
      runTask(Recorder, new Task({ type: "t" }, { payload: { a: [remote] } }), { config: quiet }),
    ).rejects.toThrow(/payload\.a\[0\] is a remote resource/);
  });

  it("calls process() directly: no filter check, no hooks, no timeout, no status writes", async () => {
    const karton = testKarton(Recorder, { config: quiet });
    const input = new Task({ type: "not-in-the-filters" });
    await runTask(karton, input);
    expect(karton.seen).toHaveLength(1);
    expect(karton.hooks).toBe(0);
    expect(karton.seen[0]?.signal.aborted).toBe(false);
    expect(await karton.backend.getTask(input.uid)).toBeNull();
    expect(await karton.backend.getTask((karton.seen[0] as { task: Task }).task.uid)).toBeNull();
  });

  it("lets errors of process() reach the test", async () => {
    await expect(runTask(Thrower, new Task({ type: "x" }), { config: quiet })).rejects.toThrow(RangeError);
  });

  it("sends through the real sendTask: child rules, origin, bucket, order", async () => {
    const karton = testKarton(Recorder, { config: quiet });
    karton.send = [
      new Task({ type: "first" }, { payload: { data: Resource.fromBytes("d", "data") } }),
      new Task({ type: "second" }, { priority: TaskPriority.Low, payloadPersistent: { mine: 1 } }),
    ];
    const input = new Task(
      { type: "in" },
      {
        priority: TaskPriority.High,
        headersPersistent: { tlp: "amber" },
        payloadPersistent: { source: "feed" },
      },
    );
    const outputs = await runTask(karton, input);
    const fork = karton.seen[0]?.task as Task;
    expect(outputs.map((t) => t.headers.type)).toEqual(["first", "second"]);
    for (const out of outputs) {
      expect(out.parentUid).toBe(fork.uid);
      expect(out.rootUid).toBe(input.rootUid);
      expect(out.uid.startsWith(`{${input.rootUid}}:`)).toBe(true);
      expect(out.headers.origin).toBe("karton.recorder");
      expect(out.headers.tlp).toBe("amber");
      expect(out.priority).toBe(TaskPriority.High);
      expect(out.getPayload("source")).toBe("feed");
      expect(out.status).toBe(TaskState.Declared);
    }
    expect(outputs[1]?.getPayload("mine")).toBe(1);
    const data = outputs[0]?.getResource("data") as ResourceBase;
    expect(data.bucket).toBe(TEST_BUCKET);
    expect((await data.content()).toString()).toBe("data");
    await assertTasksEqual(outputs, [
      new Task(
        { type: "first", origin: "karton.recorder", tlp: "amber" },
        {
          payload: { data: Resource.fromBytes("other-name", "data") },
          payloadPersistent: { source: "feed" },
        },
      ),
      new Task(
        { type: "second", origin: "karton.recorder", tlp: "amber" },
        { payloadPersistent: { source: "feed", mine: 1 } },
      ),
    ]);
  });

  it("clears the recorded outputs between runs of one instance", async () => {
    const karton = testKarton(Recorder, { config: quiet });
    karton.send = [new Task({ type: "out" })];
    expect(await runTask(karton, new Task({ type: "a" }))).toHaveLength(1);
    karton.send = [];
    expect(await runTask(karton, new Task({ type: "b" }))).toEqual([]);
    expect(karton.seen).toHaveLength(2);
  });

  it("refuses an instance that is not on a test backend", async () => {
    const karton = new Recorder({
      config: KartonConfig.fromDict(quiet, { env: {} }),
      backend: createTestBackend(),
    });
    expect(karton.backend).toBeInstanceOf(TestBackend);
    const other = testKarton(Recorder, { config: quiet });
    (other as unknown as { backend: unknown }).backend = { not: "a test backend" };
    await expect(runTask(other, new Task({ type: "a" }))).rejects.toThrow(/testKarton/);
  });

  it("passes the configuration, identity and signal", async () => {
    class Configured extends Consumer {
      static override identity = "karton.configured";
      static override filters = [{ type: "c" }];
      got: unknown[] = [];
      process(_task: Task, { signal }: ProcessContext): void {
        this.got.push(this.config.get("smol", "how_smol"), this.identity, signal);
      }
    }
    const controller = new AbortController();
    const karton = testKarton(Configured, {
      config: { ...quiet, smol: { how_smol: 3 } },
      identity: "karton.other",
    });
    expect(await runTask(karton, new Task({ type: "c" }), { signal: controller.signal })).toEqual([]);
    expect(karton.got).toEqual(["3", "karton.other", controller.signal]);
  });

  it("keeps resources of the outputs readable after the service is closed", async () => {
    const outputs = await runTask(
      Reverser,
      new Task({ type: "reverse-task" }, { payload: { file: Resource.fromBytes("f", "abc") } }),
      {
        config: quiet,
      },
    );
    const file = outputs[0]?.getResource("file") as ResourceBase;
    expect(file).not.toBeInstanceOf(LocalResource);
    expect((await file.content()).toString()).toBe("cba");
  });
});

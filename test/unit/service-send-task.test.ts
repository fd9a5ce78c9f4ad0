// sendTask: child rules (spec §2.7), origin, default bucket, order of steps and errors (spec §11.9).
import { describe, expect, it } from "vitest";
import type { KartonBackend } from "../../src/backend/backend.js";
import { KartonConfig } from "../../src/config/config.js";
import { Resource } from "../../src/resource/local-resource.js";
import { SendTaskError } from "../../src/service/errors.js";
import { Karton } from "../../src/service/karton.js";
import { Producer } from "../../src/service/producer.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";

interface FakeOptions {
  bucket?: string;
  failUpload?: boolean;
}

/** A backend recording the calls sendTask makes (no I/O). */
function fakeBackend(options: FakeOptions = {}) {
  const calls: string[] = [];
  const declared: string[] = [];
  const backend = {
    instanceId: "fake",
    defaultBucket: "bucket" in options ? options.bucket : "default-bucket",
    objects: {
      async putObject(bucket: string, key: string) {
        if (options.failUpload) throw new Error("S3 says no");
        calls.push(`put ${bucket}/${key}`);
      },
    },
    async ping() {
      calls.push("ping");
    },
    async declareTask(task: Task) {
      calls.push(`declare ${task.status}`);
      declared.push(JSON.stringify(task.headers));
    },
    async enqueueUnrouted(task: Task, identity: string) {
      calls.push(`enqueue ${task.uid} by ${JSON.stringify(identity)}`);
    },
    async publishLog() {
      return 1;
    },
    async close() {},
  };
  return { calls, declared, backend: backend as unknown as KartonBackend };
}

const config = () => KartonConfig.fromDict({ logging: { level: "CRITICAL" } }, { env: {} });

class Relay extends Karton {
  static override identity = "test.relay";
  static override filters = [{ type: "in" }];
  process(): void {}
  /** Runs fn as if `task` were being processed. */
  as<T>(task: Task, fn: () => T, signal = new AbortController().signal): T {
    return this.runWithTask({ task, signal }, fn);
  }
}

describe("Producer.sendTask", () => {
  it("declares, uploads, then enqueues; sets origin and the default bucket", async () => {
    const fake = fakeBackend();
    const producer = new Producer({ config: config(), identity: "test.producer", backend: fake.backend });
    const resource = Resource.fromBytes("r", "content");
    const own = Resource.fromBytes("own", "x", { bucket: "other-bucket" });
    const task = new Task({ type: "t" }, { payload: { r: resource, nested: [{ own }] } });
    await expect(producer.sendTask(task)).resolves.toBe(true);
    expect(task.headers.origin).toBe("test.producer");
    expect(resource.bucket).toBe("default-bucket");
    expect(own.bucket).toBe("other-bucket");
    expect(fake.calls).toEqual([
      "ping",
      "declare Declared",
      `put default-bucket/${resource.uid}`,
      `put other-bucket/${own.uid}`,
      `enqueue ${task.uid} by "test.producer"`,
    ]);
    expect(task.parentUid).toBeNull();
    expect(task.uid).toBe(`{${task.rootUid}}:${task.rootUid}`);
  });

  it("anonymous producers send origin ''", async () => {
    const fake = fakeBackend();
    const producer = new Producer({ config: config(), backend: fake.backend });
    expect(producer.clientName()).toBeNull();
    const task = new Task({ type: "t" });
    await producer.sendTask(task);
    expect(task.headers.origin).toBe("");
    expect(fake.calls.at(-1)).toBe(`enqueue ${task.uid} by ""`);
  });

  it("names the resource when no bucket is configured", async () => {
    const fake = fakeBackend({ bucket: undefined });
    const producer = new Producer({ config: config(), identity: "p", backend: fake.backend });
    const task = new Task({ type: "t" }, { payload: { sample: Resource.fromBytes("sample.exe", "MZ") } });
    const error = await producer.sendTask(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendTaskError);
    expect((error as SendTaskError).step).toBe("prepare");
    expect((error as Error).message).toContain('resource "sample.exe" has no bucket');
    expect((error as Error).message).toContain(task.uid);
    expect(fake.calls).not.toContain("declare Declared");
  });

  it("an upload failure names the task and step and never enqueues", async () => {
    const fake = fakeBackend({ failUpload: true });
    const producer = new Producer({ config: config(), identity: "p", backend: fake.backend });
    const task = new Task({ type: "t" }, { payload: { r: Resource.fromBytes("r", "x") } });
    const error = (await producer.sendTask(task).catch((e: unknown) => e)) as SendTaskError;
    expect(error.code).toBe("SEND_TASK_FAILED");
    expect(error.step).toBe("upload");
    expect(error.taskUid).toBe(task.uid);
    expect(error.message).toMatch(/uploading resource "r" to bucket "default-bucket" failed: S3 says no/);
    expect(error.message).toMatch(/left Declared/);
    expect(fake.calls.some((c) => c.startsWith("enqueue"))).toBe(false);
  });
});

describe("Karton.sendTask while processing (child rules, spec §2.7)", () => {
  function parent(): Task {
    const p = new Task(
      { type: "in", kind: "raw", campaign: "old" },
      {
        headersPersistent: { campaign: "spring" },
        payloadPersistent: { tag: "parent-tag", shared: 1 },
        payload: { plain: "not inherited" },
        priority: TaskPriority.High,
        status: TaskState.Started,
      },
    );
    return p.fork();
  }

  it("links the child, merges persistent payload and headers (parent wins), inherits priority", async () => {
    const fake = fakeBackend();
    const relay = new Relay({ config: config(), backend: fake.backend });
    const current = parent();
    const child = new Task(
      { type: "out", campaign: "child-value" },
      { payload: { tag: "child-tag", own: true }, priority: TaskPriority.Low },
    );
    await relay.as(current, () => relay.sendTask(child));
    expect(child.parentUid).toBe(current.uid);
    expect(child.rootUid).toBe(current.rootUid);
    expect(child.uid.startsWith(`{${current.rootUid}}:`)).toBe(true);
    expect(child.priority).toBe(TaskPriority.High);
    expect(child.headers).toEqual({ type: "out", campaign: "spring", origin: "test.relay" });
    expect(child.headersPersistent).toEqual({ campaign: "spring" });
    expect(child.payloadPersistent).toEqual({ tag: "parent-tag", shared: 1 });
    expect(child.payload).toEqual({ own: true });
    expect(child.origUid).toBeNull();
  });

  it("outside a task the same Karton sends a new root", async () => {
    const relay = new Relay({ config: config(), backend: fakeBackend().backend });
    const task = new Task({ type: "out" });
    await relay.sendTask(task);
    expect(task.parentUid).toBeNull();
  });

  it("refuses to send from an abandoned (aborted) process()", async () => {
    const relay = new Relay({ config: config(), backend: fakeBackend().backend });
    const controller = new AbortController();
    controller.abort(new Error("timed out"));
    const error = await relay
      .as(parent(), () => relay.sendTask(new Task({ type: "late" })), controller.signal)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SendTaskError);
    expect((error as Error).message).toMatch(/was abandoned \(timed out\)/);
  });
});

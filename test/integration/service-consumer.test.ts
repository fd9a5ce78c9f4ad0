// Producer, Consumer and Karton against real Redis + S3, routed by the test mini router.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KartonMetric } from "../../src/backend/types.js";
import type { JsonObject } from "../../src/json/values.js";
import { Resource } from "../../src/resource/local-resource.js";
import { ResourceBase } from "../../src/resource/resource-base.js";
import type { Consumer } from "../../src/service/consumer.js";
import { BindRemovedError, TaskTimeoutError } from "../../src/service/errors.js";
import { Karton } from "../../src/service/karton.js";
import { Producer } from "../../src/service/producer.js";
import type { ServiceOptions } from "../../src/service/service-base.js";
import type { ProcessContext } from "../../src/service/task-context.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";
import { uniqueName } from "../helpers/services.js";

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

type Handler = (task: Task, context: ProcessContext, self: TestKarton) => void | Promise<void>;

/** A Karton whose filters and process() are given per test. */
class TestKarton extends Karton {
  static override filters: JsonObject[] = [{ type: "test" }];
  handler: Handler = () => {};
  readonly seen: Task[] = [];
  override async process(task: Task, context: ProcessContext): Promise<void> {
    this.seen.push(task);
    await this.handler(task, context, this);
  }
}

function kartonClass(
  filters: Record<string, string>[],
  extra: Partial<typeof TestKarton> = {},
): typeof TestKarton {
  const cls = class extends TestKarton {};
  cls.filters = filters;
  Object.assign(cls, extra);
  return cls;
}

let env: ServiceTestEnv;
const running: { service: Consumer; loop: Promise<void> }[] = [];

/** Starts the consumer's loop and waits for its bind, so no task is routed before it is bound. */
async function start<T extends Consumer>(service: T): Promise<T> {
  running.push({ service, loop: service.loop({ handleSignals: false }) });
  await waitFor(
    `bind of ${service.identity}`,
    async () => (await env.backend().getBind(service.identity)) !== null,
  );
  return service;
}

function make<T extends Consumer>(
  cls: new (options: ServiceOptions) => T,
  prefix: string,
  extra: Parameters<ServiceTestEnv["config"]>[0] = {},
): T {
  const identity = uniqueName(prefix);
  return new cls({ config: env.config(extra), identity, backend: env.backend(identity, identity) });
}

function producer(identity = "test.producer"): Producer {
  return new Producer({ config: env.config(), identity, backend: env.backend(identity, identity) });
}

async function waitStatus(uid: string, status: TaskState): Promise<Task> {
  const backend = env.backend();
  return waitFor(`task ${uid} to be ${status}`, async () => {
    const task = await backend.getTask(uid);
    return task?.status === status ? task : undefined;
  });
}

beforeEach(async () => {
  env = await serviceTestEnv({ extra: { logging: { level: "ERROR" }, system: { task_claim_timeout: 3 } } });
});

afterEach(async () => {
  for (const r of running) r.service.stop({ force: true });
  await Promise.allSettled(running.map((r) => r.loop));
  running.length = 0;
  await env.cleanup();
});

describe("sending and consuming", () => {
  it("moves plain, file, directory and nested resources with identical bytes and sha256", async () => {
    const dir = await mkdtemp(join(tmpdir(), "karton-svc-"));
    try {
      await writeFile(join(dir, "file.bin"), Buffer.alloc(300_000, 7));
      await mkdir(join(dir, "tree", "sub"), { recursive: true });
      await writeFile(join(dir, "tree", "a.txt"), "hello");
      await writeFile(join(dir, "tree", "sub", "b.bin"), Buffer.from([0, 1, 2, 255]));
      const plain = Resource.fromBytes("plain.txt", "zażółć ☃");
      const file = Resource.fromFile("file.bin", join(dir, "file.bin"));
      const directory = await Resource.fromDirectory("tree", join(dir, "tree"));
      const nested1 = Resource.fromBytes("n1", Buffer.from("first nested"));
      const nested2 = Resource.fromBytes("n2", Buffer.from("second nested"));
      const persistent = Resource.fromBytes("p1", Buffer.from("persistent one"));

      const received = new Map<
        string,
        { sha: string; size: number; declared: string | null; flags: string[] }
      >();
      const consumer = await start(make(kartonClass([{ type: "res" }]), "res"));
      consumer.handler = async (task) => {
        for (const resource of task.iterateResources()) {
          const content = await (resource as unknown as { content(): Promise<Buffer> }).content();
          received.set(resource.name, {
            sha: sha256(content),
            size: content.length,
            declared: resource.sha256,
            flags: [...resource.flags],
          });
        }
        expect(task.getPayload("plain_value")).toBe("x");
      };

      const task = new Task(
        { type: "res" },
        {
          payload: {
            plain,
            file,
            directory,
            plain_value: "x",
            list: [nested1, { deeper: { again: [nested2] } }],
          },
          payloadPersistent: { keep: [persistent] },
        },
      );
      const p = producer();
      await p.sendTask(task);
      const expected = new Map<string, string>();
      for (const r of [plain, file, directory, nested1, nested2, persistent])
        expected.set(r.name, r.sha256 as string);
      await waitFor("all resources", () => received.size === 6);
      for (const [name, sha] of expected) {
        const got = received.get(name);
        expect(got?.sha, name).toBe(sha);
        expect(got?.declared, name).toBe(sha);
      }
      expect(received.get("file.bin")?.size).toBe(300_000);
      expect(received.get("tree")?.flags).toEqual(["Directory"]);
      const fork = consumer.seen[0] as Task;
      await waitStatus(fork.uid, TaskState.Finished);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("carries persistent payload and headers to grandchildren, with origin and tree links", async () => {
    const grandchildren: Task[] = [];
    const a = await start(make(kartonClass([{ type: "gen-a" }]), "gen-a"));
    a.handler = async (_task, _ctx, self) => {
      await self.sendTask(new Task({ type: "gen-b" }, { payload: { from: "a" } }));
    };
    const b = await start(make(kartonClass([{ type: "gen-b" }]), "gen-b"));
    b.handler = async (_task, _ctx, self) => {
      const child = new Task(
        { type: "gen-c" },
        { payload: { tag: "overridden by the parent" }, priority: "low" },
      );
      await self.sendTask(child);
    };
    const c = await start(make(kartonClass([{ type: "gen-c" }]), "gen-c"));
    c.handler = (task) => {
      grandchildren.push(task);
    };
    const root = new Task(
      { type: "gen-a" },
      {
        headersPersistent: { campaign: "spring" },
        payloadPersistent: { tag: "persistent-tag" },
        priority: TaskPriority.High,
      },
    );
    await producer().sendTask(root);
    await waitFor("grandchild", () => grandchildren.length === 1);
    const g = grandchildren[0] as Task;
    expect(g.rootUid).toBe(root.rootUid);
    expect(g.headers.campaign).toBe("spring");
    expect(g.isHeaderPersistent("campaign")).toBe(true);
    expect(g.getPayload("tag")).toBe("persistent-tag");
    expect(g.isPayloadPersistent("tag")).toBe(true);
    expect(g.payload.tag).toBeUndefined();
    expect(g.priority).toBe(TaskPriority.High);
    expect(g.headers.origin).toBe(b.identity);
    expect(g.headers.receiver).toBe(c.identity);
    // The grandchild's parent is the fork b processed, whose own parent is the fork a processed.
    expect(g.parentUid).toBe((b.seen[0] as Task).uid);
    expect((b.seen[0] as Task).parentUid).toBe((a.seen[0] as Task).uid);
  });

  it("honours priority order (high, normal, low) and FIFO within a priority", async () => {
    const cls = kartonClass([{ type: "prio" }]);
    const identity = uniqueName("prio");
    // Register the bind first (a short run), so the router queues tasks while the consumer is down.
    const first = new cls({ config: env.config(), identity, backend: env.backend(identity, identity) });
    const loop = first.loop({ handleSignals: false });
    await waitFor("bind", async () => (await env.backend().getBind(identity)) !== null);
    first.stop();
    await loop;
    const p = producer();
    const order = [
      ["low", "l1"],
      ["normal", "n1"],
      ["high", "h1"],
      ["low", "l2"],
      ["high", "h2"],
      ["normal", "n2"],
    ] as const;
    for (const [priority, name] of order) {
      await p.sendTask(new Task({ type: "prio" }, { priority, payload: { name } }));
    }
    const admin = env.backend();
    await waitFor("all routed", async () => {
      const tasks: Task[] = [];
      for await (const chunk of admin.scanTasks()) for (const raw of chunk) tasks.push(JSON.parse(raw.raw));
      return tasks.filter((t) => (t as unknown as { status: string }).status === "Spawned").length === 6;
    });
    const consumer = await start(
      new cls({ config: env.config(), identity, backend: env.backend(identity, identity) }),
    );
    await waitFor("six tasks", () => consumer.seen.length === 6);
    expect(consumer.seen.map((t) => t.getPayload("name"))).toEqual(["h1", "h2", "n1", "n2", "l1", "l2"]);
  });
});

describe("processing outcomes", () => {
  it("a crashing process() gives a Crashed task with Python-style error lines and crash metrics", async () => {
    const consumer = await start(make(kartonClass([{ type: "crash" }]), "crash"));
    consumer.handler = () => {
      throw new RangeError("crash requested");
    };
    await producer().sendTask(new Task({ type: "crash" }));
    await waitFor("seen", () => consumer.seen.length === 1);
    const crashed = await waitStatus((consumer.seen[0] as Task).uid, TaskState.Crashed);
    const error = crashed.error as string[];
    expect(error[0]).toBe("Traceback (most recent call last):\n");
    expect(error.at(-1)).toBe("RangeError: crash requested\n");
    for (const line of error) expect(line.endsWith("\n")).toBe(true);
    expect(error.some((line) => line.includes("service-consumer.test.ts"))).toBe(true);
    const metrics = await env.backend().getMetrics();
    expect(metrics[KartonMetric.Consumed][consumer.identity]).toBe(1);
    expect(metrics[KartonMetric.Crashed][consumer.identity]).toBe(1);
    expect(metrics[KartonMetric.Produced]["test.producer"]).toBe(1);
  });

  it("a timeout crashes the task, aborts its signal, and the next task is still processed", async () => {
    const cls = kartonClass([{ type: "slow" }], { taskTimeout: 1 } as Partial<typeof TestKarton>);
    const consumer = await start(make(cls, "slow"));
    let aborted: unknown;
    consumer.handler = async (task, { signal }) => {
      if (task.getPayload("hang")) {
        signal.addEventListener("abort", () => {
          aborted = signal.reason;
        });
        await new Promise(() => {}); // never settles, ignores the signal
      }
    };
    const p = producer();
    await p.sendTask(new Task({ type: "slow" }, { payload: { hang: true } }));
    await p.sendTask(new Task({ type: "slow" }, { payload: { hang: false } }));
    await waitFor("two tasks", () => consumer.seen.length === 2, 20_000);
    const [hung, next] = consumer.seen as [Task, Task];
    const crashed = await waitStatus(hung.uid, TaskState.Crashed);
    expect(crashed.error?.at(-1)).toBe(
      "TaskTimeoutError: process() did not finish within the task timeout of 1 second\n",
    );
    expect(aborted).toBeInstanceOf(TaskTimeoutError);
    await waitStatus(next.uid, TaskState.Finished);
    expect(consumer.abandonedCount).toBe(1);
  });

  it("runs pre- and post-hooks with the right arguments; failing hooks are ignored", async () => {
    const consumer = await start(make(kartonClass([{ type: "hooks" }]), "hooks"));
    const calls: string[] = [];
    consumer.addPreHook((task) => {
      calls.push(`pre:${task.getPayload("n")}:${task.status}`);
    }, "first");
    consumer.addPreHook(() => {
      throw new Error("broken pre-hook");
    }, "broken");
    consumer.addPostHook((task, error) => {
      calls.push(`post:${task.getPayload("n")}:${error === null ? "null" : (error as Error).message}`);
    });
    consumer.addPostHook(async () => {
      throw new Error("broken post-hook");
    });
    consumer.handler = (task) => {
      calls.push(`process:${task.getPayload("n")}`);
      if (task.getPayload("n") === 2) throw new Error("second fails");
    };
    const p = producer();
    await p.sendTask(new Task({ type: "hooks" }, { payload: { n: 1 } }));
    await waitFor("first", () => calls.length === 3);
    await p.sendTask(new Task({ type: "hooks" }, { payload: { n: 2 } }));
    await waitFor("second", () => calls.length === 6);
    expect(calls).toEqual([
      "pre:1:Started",
      "process:1",
      "post:1:null",
      "pre:2:Started",
      "process:2",
      "post:2:second fails",
    ]);
    await waitStatus((consumer.seen[0] as Task).uid, TaskState.Finished);
    await waitStatus((consumer.seen[1] as Task).uid, TaskState.Crashed);
  });

  it("processes N tasks at once with concurrency N, each seeing its own current task", async () => {
    const consumer = await start(
      make(kartonClass([{ type: "conc" }]), "conc", { karton: { concurrency_limit: 3 } }),
    );
    expect(consumer.concurrency).toBe(3);
    let active = 0;
    let maxActive = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const children: Task[] = [];
    consumer.handler = async (task, _ctx, self) => {
      active++;
      maxActive = Math.max(maxActive, active);
      if (active === 3) release();
      await gate;
      await new Promise((r) => setTimeout(r, 20 * Number(task.getPayload("n"))));
      expect(self.currentTask).toBe(task);
      const child = new Task({ type: "conc-child" }, { payload: { n: task.getPayload("n") as number } });
      await self.sendTask(child);
      children.push(child);
      active--;
    };
    const p = producer();
    for (const n of [1, 2, 3]) await p.sendTask(new Task({ type: "conc" }, { payload: { n } }));
    await waitFor("three children", () => children.length === 3);
    expect(maxActive).toBe(3);
    for (const child of children) {
      const parent = consumer.seen.find((t) => t.getPayload("n") === child.getPayload("n")) as Task;
      expect(child.parentUid).toBe(parent.uid);
    }
  });

  it("finishes (without processing or metrics) a queued task its filters no longer match", async () => {
    const consumer = await start(make(kartonClass([{ type: "match" }]), "recheck"));
    // A fork routed under other filters: put straight into the consumer's queue.
    const original = new Task({ type: "other" });
    const fork = original.fork();
    fork.setStatus(TaskState.Spawned);
    fork.headers.receiver = consumer.identity;
    await env.backend().applyRoutePlan({
      taken: [],
      finished: [],
      forks: [{ task: fork, identity: consumer.identity, priority: fork.priority }],
      outputs: [],
      outputsTtl: null,
      quarantined: [],
    });
    await waitStatus(fork.uid, TaskState.Finished);
    expect(consumer.seen).toHaveLength(0);
    const metrics = await env.backend().getMetrics();
    expect(metrics[KartonMetric.Consumed][consumer.identity]).toBeUndefined();
  });
});

describe("loop lifecycle", () => {
  it("stops with exit-0 semantics when the bind changes, and with BindRemovedError when it disappears", async () => {
    const cls = kartonClass([{ type: "life" }]);
    const identity = uniqueName("life");
    const old = new cls({ config: env.config(), identity, backend: env.backend(identity, identity) });
    const oldLoop = old.loop({ handleSignals: false });
    await waitFor("bind", async () => (await env.backend().getBind(identity)) !== null);
    const newer = kartonClass([{ type: "life", kind: "v2" }]);
    const replacement = new newer({
      config: env.config(),
      identity,
      backend: env.backend(identity, identity),
    });
    const newLoop = replacement.loop({ handleSignals: false });
    await expect(oldLoop).resolves.toBeUndefined();
    await env.backend().dropConsumer(identity);
    await expect(newLoop).rejects.toBeInstanceOf(BindRemovedError);
  });

  it("graceful stop lets the running task finish; a forced stop crashes it as interrupted", async () => {
    const consumer = make(kartonClass([{ type: "stop" }]), "stop");
    const loop = consumer.loop({ handleSignals: false });
    let finishFirst!: () => void;
    consumer.handler = async (task) => {
      if (task.getPayload("n") === 1) {
        await new Promise<void>((r) => {
          finishFirst = r;
        });
      } else {
        await new Promise(() => {});
      }
    };
    const p = producer();
    await p.sendTask(new Task({ type: "stop" }, { payload: { n: 1 } }));
    await waitFor("first running", () => consumer.seen.length === 1);
    consumer.stop();
    await new Promise((r) => setTimeout(r, 300));
    finishFirst();
    await loop;
    await waitStatus((consumer.seen[0] as Task).uid, TaskState.Finished);

    const again = make(kartonClass([{ type: "stop" }]), "stop2");
    again.handler = consumer.handler;
    const loop2 = again.loop({ handleSignals: false });
    await waitFor("bind", async () => (await env.backend().getBind(again.identity)) !== null);
    await p.sendTask(new Task({ type: "stop" }, { payload: { n: 2 } }));
    await waitFor("second running", () => again.seen.length === 1);
    again.stop();
    again.stop({ force: true });
    await loop2;
    const crashed = await waitStatus((again.seen[0] as Task).uid, TaskState.Crashed);
    expect(crashed.error?.at(-1)).toMatch(/^TaskInterruptedError: process\(\) was interrupted/);
  });

  it("debug mode: suffixed identity, non-persistent bind, no log publishing", async () => {
    const consumer = make(kartonClass([{ type: "dbg" }]), "dbg", { karton: { debug: true } });
    expect(consumer.identity).toMatch(/-[0-9a-f]{8}-dev$/);
    expect(consumer.persistent).toBe(false);
    expect(consumer.bind.persistent).toBe(false);
    expect(consumer.logHandler).toBeUndefined();
  });

  it("status signalling sends task_begin and task_end children", async () => {
    const signals: Task[] = [];
    const listener = await start(make(kartonClass([{ type: "karton.signaling.status" }]), "signals"));
    listener.handler = (task) => {
      signals.push(task);
    };
    const worker = await start(make(kartonClass([{ type: "sig" }]), "sig", { signaling: { status: true } }));
    await producer().sendTask(new Task({ type: "sig" }));
    await waitFor("two signals", () => signals.length === 2);
    const statuses = signals.map((t) => t.headers.status).sort();
    expect(statuses).toEqual(["task_begin", "task_end"]);
    for (const s of signals) {
      expect(s.headers.origin).toBe(worker.identity);
      expect(s.parentUid).toBe((worker.seen[0] as Task).uid);
    }
  });
});

describe("Producer", () => {
  it("throws a SendTaskError naming the task and step when the upload fails", async () => {
    const p = producer();
    const task = new Task(
      { type: "x" },
      { payload: { r: Resource.fromBytes("r", "x", { bucket: uniqueName("missing") }) } },
    );
    await expect(p.sendTask(task)).rejects.toThrow(
      new RegExp(`Cannot send task ${task.uid.replace(/[{}]/g, "\\$&")}: uploading resource "r"`),
    );
    const stored = await env.backend().getTask(task.uid);
    expect(stored?.status).toBe(TaskState.Declared);
    expect(await env.backend().unroutedSnapshot()).not.toContain(task.uid);
  });

  it("anonymous producers send with origin ''", async () => {
    const p = new Producer({ config: env.config(), backend: env.backend() });
    expect(p.identity).toBe("");
    const task = new Task({ type: "nobody-listens" });
    await p.sendTask(task);
    expect(task.headers.origin).toBe("");
    expect(ResourceBase).toBeDefined();
  });
});

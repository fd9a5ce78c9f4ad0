/**
 * Operator actions on the embedded backend: restart (spec §2.7), cancel, bulk restart/cancel of a
 * queue, and the refusals (missing, unreadable, unrouted tasks).
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import {
  cancelCrashed,
  cancelPending,
  cancelTask,
  findTask,
  InspectError,
  KartonState,
  planRestart,
  restartCrashed,
  restartTask,
} from "../../src/inspect/index.js";
import { type JsonObject, parse } from "../../src/json/index.js";
import { serializeTask } from "../../src/task/document.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { readFixtureJson } from "../helpers/fixtures.js";

const ROOT = "7c3d496c-c021-4c70-af1e-cac867844440";
const ORIGINAL = `{${ROOT}}:${ROOT}`;
const CRASHED = `{${ROOT}}:4b966dde-58da-4650-9eb6-6d66743e12b0`;

const objects = LocalObjectStore.temporary("karton-inspect-");
afterAll(async () => {
  await objects.dispose();
});
const opened: MemoryBackend[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});

function setup(): { store: MemoryStore; backend: MemoryBackend } {
  const store = new MemoryStore(`inspect-${randomUUID()}`);
  const backend = new MemoryBackend({ store, objects });
  opened.push(backend);
  return { store, backend };
}

function crashedFixtureRaw(): string {
  const fixture = readFixtureJson("tasks/05-crashed.json") as JsonObject;
  return (fixture.tasks as JsonObject[])[0]?.raw as string;
}

/** A routed task for `receiver`. */
function routed(
  receiver: string,
  status: TaskState,
  extra: Partial<{ priority: TaskPriority; lastUpdate: number }> = {},
) {
  const original = new Task({ type: "sample" });
  const fork = original.fork();
  fork.headers.receiver = receiver;
  fork.status = status;
  if (extra.priority) fork.priority = extra.priority;
  fork.lastUpdate = extra.lastUpdate ?? 100;
  if (status === TaskState.Crashed) fork.error = ["Traceback\n", "ValueError: boom\n"];
  return fork;
}

describe("restartTask", () => {
  it("forks the Python crashed task into its queue and finishes the old one (spec §2.7)", async () => {
    const { store, backend } = setup();
    store.set(`karton.task:${CRASHED}`, crashedFixtureRaw());
    const old = await findTask(backend, CRASHED);
    const result = await restartTask(backend, CRASHED);
    expect(result).toMatchObject({
      oldUid: CRASHED,
      identity: "fixture.crasher",
      priority: "normal",
      previousStatus: "Crashed",
    });
    expect(result.newUid).toMatch(new RegExp(`^\\{${ROOT}\\}:[0-9a-f-]{36}$`));
    expect(await backend.queueLengths("fixture.crasher")).toEqual({ bare: 0, high: 0, normal: 1, low: 0 });
    expect(store.lrange("karton.queue.normal:fixture.crasher")).toEqual([result.newUid]);

    const fork = (await findTask(backend, result.newUid))?.task as Task;
    expect(fork.status).toBe(TaskState.Spawned);
    expect(fork.origUid).toBe(ORIGINAL);
    expect(fork.parentUid).toBeNull();
    expect(fork.rootUid).toBe(ROOT);
    expect(fork.error).toBeNull();
    expect(fork.headers).toEqual(old?.task?.headers);
    expect(fork.headersPersistent).toEqual({ campaign: "golden-fixtures" });
    expect(fork.payload).toEqual(old?.task?.payload);
    // resource markers written back unchanged (not decoded, not altered)
    const forkDoc = parse(serializeTask(fork)) as JsonObject;
    const oldDoc = parse(crashedFixtureRaw()) as JsonObject;
    expect(forkDoc.payload).toEqual(oldDoc.payload);
    expect(forkDoc.payload_persistent).toEqual(oldDoc.payload_persistent);

    const after = (await findTask(backend, CRASHED))?.task as Task;
    expect(after.status).toBe(TaskState.Finished);
    expect(after.error).toEqual(old?.task?.error);
  });

  it("uses the task's priority queue", async () => {
    const { store, backend } = setup();
    const task = routed("q.prio", TaskState.Finished, { priority: TaskPriority.High });
    await backend.saveTasks([task]);
    const result = await restartTask(backend, task.uid);
    expect(result.priority).toBe("high");
    expect(store.lrange("karton.queue.high:q.prio")).toEqual([result.newUid]);
  });

  it("refuses unrouted, missing and unreadable tasks with clear errors", async () => {
    const { store, backend } = setup();
    const unrouted = new Task({ type: "sample" });
    await backend.saveTasks([unrouted]);
    store.set("karton.task:broken", "{");
    const fail = async (uid: string) => {
      try {
        await restartTask(backend, uid);
      } catch (error) {
        return error as InspectError;
      }
      throw new Error("no error");
    };
    const notRouted = await fail(unrouted.uid);
    expect(notRouted).toBeInstanceOf(InspectError);
    expect(notRouted.code).toBe("TASK_NOT_ROUTED");
    expect(notRouted.message).toMatch(/no "receiver" header/);
    expect((await fail("{x}:missing")).code).toBe("TASK_NOT_FOUND");
    const unreadable = await fail("broken");
    expect(unreadable.code).toBe("TASK_UNREADABLE");
    expect(unreadable.message).toMatch(/cannot be read/);
    expect(store.get(`karton.task:${unrouted.uid}`)).toBe(serializeTask(unrouted));
  });

  it("planRestart is pure: fresh uid and last_update, same links otherwise", () => {
    const task = routed("q.one", TaskState.Crashed, { lastUpdate: 5 });
    const fork = planRestart(task);
    expect(fork.uid).not.toBe(task.uid);
    expect(fork.origUid).toBe(task.origUid);
    expect(fork.lastUpdate).toBeGreaterThan(5);
    expect(task.status).toBe(TaskState.Crashed);
  });
});

describe("cancel", () => {
  it("sets one task Finished and is a no-op on a finished one", async () => {
    const { backend } = setup();
    const task = routed("q.one", TaskState.Started);
    await backend.saveTasks([task]);
    expect(await cancelTask(backend, task.uid)).toEqual({
      uid: task.uid,
      previousStatus: "Started",
      changed: true,
    });
    expect((await findTask(backend, task.uid))?.task?.status).toBe(TaskState.Finished);
    expect((await cancelTask(backend, task.uid)).changed).toBe(false);
    await expect(cancelTask(backend, "nope")).rejects.toMatchObject({ code: "TASK_NOT_FOUND" });
  });
});

describe("bulk actions on a queue", () => {
  async function seed(backend: MemoryBackend) {
    const tasks = {
      crashedOld: routed("q.one", TaskState.Crashed, { lastUpdate: 10 }),
      crashedNew: routed("q.one", TaskState.Crashed, { lastUpdate: 20 }),
      spawned: routed("q.one", TaskState.Spawned),
      started: routed("q.one", TaskState.Started),
      finished: routed("q.one", TaskState.Finished),
      otherCrashed: routed("q.two", TaskState.Crashed),
      otherPending: routed("q.two", TaskState.Spawned),
    };
    await backend.saveTasks(Object.values(tasks));
    return tasks;
  }
  const statusOf = async (backend: MemoryBackend, task: Task) =>
    (await findTask(backend, task.uid))?.task?.status;

  it("restartCrashed restarts only the crashed tasks of that consumer, oldest first", async () => {
    const { backend } = setup();
    const t = await seed(backend);
    const result = await restartCrashed(backend, "q.one");
    expect(result.failed).toEqual([]);
    expect(result.done.map((r) => r.oldUid)).toEqual([t.crashedOld.uid, t.crashedNew.uid]);
    expect(await statusOf(backend, t.crashedOld)).toBe(TaskState.Finished);
    expect(await statusOf(backend, t.otherCrashed)).toBe(TaskState.Crashed);
    expect((await backend.queueLengths("q.one")).normal).toBe(2);
    const state = await KartonState.load(backend);
    expect(state.getQueue("q.one")?.crashedTasks).toEqual([]);
    expect(state.getQueue("q.one")?.pendingTasks).toHaveLength(4);
  });

  it("cancelCrashed and cancelPending set exactly their tasks Finished", async () => {
    const { backend } = setup();
    const t = await seed(backend);
    const crashed = await cancelCrashed(backend, "q.one");
    expect(crashed.done.map((r) => [r.uid, r.previousStatus])).toEqual([
      [t.crashedOld.uid, "Crashed"],
      [t.crashedNew.uid, "Crashed"],
    ]);
    const pending = await cancelPending(backend, "q.one");
    expect(pending.done.map((r) => r.uid).sort()).toEqual([t.spawned.uid, t.started.uid].sort());
    for (const task of [t.crashedOld, t.crashedNew, t.spawned, t.started, t.finished]) {
      expect(await statusOf(backend, task)).toBe(TaskState.Finished);
    }
    expect(await statusOf(backend, t.otherCrashed)).toBe(TaskState.Crashed);
    expect(await statusOf(backend, t.otherPending)).toBe(TaskState.Spawned);
    expect((await cancelPending(backend, "nobody")).done).toEqual([]);
  });

  it("with candidate uids re-reads them and acts only on those still qualifying", async () => {
    const { backend } = setup();
    const t = await seed(backend);
    const state = await KartonState.load(backend);
    const uids = state.getQueue("q.one")?.crashedTasks.map((task) => task.uid) ?? [];
    await cancelTask(backend, t.crashedOld.uid); // changed since the state was read
    const result = await restartCrashed(backend, "q.one", { uids: [...uids, "gone"] });
    expect(result.done.map((r) => r.oldUid)).toEqual([t.crashedNew.uid]);
  });
});

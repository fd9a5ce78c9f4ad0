/**
 * KartonState on the embedded backend: binds (valid and not), replicas, services, tasks (parsed and
 * unparsable), queues, analyses; with the Python fixtures and with tasks written by our own code.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import type { OnlineClient } from "../../src/backend/types.js";
import { aggregateServices, countReplicas, KartonState } from "../../src/inspect/index.js";
import { isJsonObject, type JsonObject } from "../../src/json/index.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { readFixtureJson } from "../helpers/fixtures.js";

const ROOT = "7c3d496c-c021-4c70-af1e-cac867844440";
const CRASHED = `{${ROOT}}:4b966dde-58da-4650-9eb6-6d66743e12b0`;
const REPORTER_FORK = `{${ROOT}}:d60d0bbd-2aef-44fc-b5b8-65861617a884`;

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

/** HSETs the raw Python bind values in the captured HGETALL order. */
function loadFixtureBinds(store: MemoryStore): string[] {
  const fixture = readFixtureJson("binds/binds.json") as JsonObject;
  const raws = new Map<string, string>();
  for (const bind of fixture.binds as JsonObject[]) raws.set(bind.hash_field as string, bind.raw as string);
  const order = fixture.hgetall_field_order as string[];
  for (const identity of order) store.hset("karton.binds", identity, raws.get(identity) as string);
  return order;
}

/** SETs the raw task documents of fixture files (later files win for the same key). */
function loadFixtureTasks(store: MemoryStore, files: string[]): void {
  for (const file of files) {
    const fixture = readFixtureJson(`tasks/${file}.json`) as JsonObject;
    const lists = ["tasks", "declared", "forks"].flatMap(
      (k) => (fixture[k] as JsonObject[] | undefined) ?? [],
    );
    for (const entry of lists) {
      if (isJsonObject(entry)) store.set(entry.redis_key as string, entry.raw as string);
    }
  }
}

const LIFECYCLE = ["02-routed-forks", "04-finished", "05-crashed", "06-child-task"];

describe("KartonState.load", () => {
  it("reads the Python binds in HGETALL order, with queue lengths and replicas", async () => {
    const { store, backend } = setup();
    const order = loadFixtureBinds(store);
    store.connect("fixture.bind.persistent");
    store.connect("fixture.bind.persistent?karton_version=5.9.1");
    store.connect("");
    store.rpush("karton.queue.high:fixture.bind.documented", "a", "b");
    store.rpush("fixture.bind.documented", "legacy");
    const state = await KartonState.load(backend);
    expect(state.binds.map((b) => b.identity)).toEqual(order);
    expect(state.invalidBinds).toEqual([]);
    expect([...state.queues.keys()]).toEqual(order);
    expect(state.queues.get("fixture.bind.persistent")?.replicas).toBe(2);
    expect(state.queues.get("fixture.bind.documented")?.lengths).toEqual({
      bare: 1,
      high: 2,
      normal: 0,
      low: 0,
    });
    expect(state.queues.get("fixture.bind.documented")?.bind?.serviceVersion).toBe("1.2.3-fixture");
    // our own handle is unnamed: it counts under ""
    expect(state.replicas.get("")).toBeGreaterThanOrEqual(2);
    expect(state.tasksLoaded).toBe(true);
  });

  it("keeps unreadable binds apart, with a queue of their own", async () => {
    const { store, backend } = setup();
    store.hset("karton.binds", "broken", "{not json");
    store.hset("karton.binds", "legacy.consumer", JSON.stringify([{ type: "sample" }]));
    const state = await KartonState.load(backend);
    expect(state.binds.map((b) => [b.identity, b.version])).toEqual([["legacy.consumer", "2.x.x"]]);
    expect(state.invalidBinds).toHaveLength(1);
    expect(state.invalidBinds[0]?.identity).toBe("broken");
    expect(state.invalidBinds[0]?.raw).toBe("{not json");
    const queue = state.queues.get("broken");
    expect(queue?.bind).toBeNull();
    expect(queue?.invalidBind?.reason).toMatch(/not JSON/);
    expect(queue?.lengths).toEqual({ bare: 0, high: 0, normal: 0, low: 0 });
  });

  it("builds queues and analyses from the fixture life cycle (pending, crashed, unbound receivers)", async () => {
    const { store, backend } = setup();
    loadFixtureTasks(store, LIFECYCLE);
    store.hset("karton.binds", "fixture.crasher", '{"filters": [], "persistent": true, "version": "5.9.1"}');
    store.set("karton.task:garbage", "{oops");
    store.set("karton.task:{x}:bad-status", '{"uid": "{x}:bad-status", "status": "Weird"}');
    const state = await KartonState.load(backend);
    expect(state.tasks).toHaveLength(5);
    expect(state.unparsableTasks.map((u) => u.uid).sort()).toEqual(["garbage", "{x}:bad-status"]);
    expect(state.unparsableTasks.find((u) => u.uid === "garbage")?.raw).toBe("{oops");
    expect(state.crashedTasks.map((t) => t.uid)).toEqual([CRASHED]);
    expect(state.pendingTasks.map((t) => t.uid)).toEqual([REPORTER_FORK]);

    const crasher = state.getQueue("fixture.crasher");
    expect(crasher?.bind?.identity).toBe("fixture.crasher");
    expect(crasher?.crashedTasks.map((t) => t.uid)).toEqual([CRASHED]);
    expect(crasher?.pendingTasks).toEqual([]);
    expect(crasher?.lastUpdate).toBe(state.getTask(CRASHED)?.lastUpdate);
    // a receiver without bind is kept apart (Python's dashboard drops it)
    expect(state.queues.has("fixture.reporter")).toBe(false);
    expect(state.unboundQueues.get("fixture.reporter")?.pendingTasks.map((t) => t.uid)).toEqual([
      REPORTER_FORK,
    ]);
    expect(state.unboundQueues.get("fixture.reporter")?.lengths).toBeNull();
    // finished tasks are in no queue and no analysis
    expect(state.unboundQueues.has("fixture.analyzer")).toBe(false);

    const analysis = state.getAnalysis(ROOT);
    expect(analysis?.tasks.map((t) => t.uid).sort()).toEqual([CRASHED, REPORTER_FORK].sort());
    expect(analysis?.pendingTasks.map((t) => t.uid)).toEqual([REPORTER_FORK]);
    expect(analysis?.crashedTasks.map((t) => t.uid)).toEqual([CRASHED]);
    expect([...state.analyses.keys()]).toEqual([ROOT]);
    // resources are not decoded: markers stay plain objects
    const payload = state.getTask(CRASHED)?.payload.sample;
    expect(isJsonObject(payload) && "__karton_resource__" in payload).toBe(true);
  });

  it("sorts queue tasks by last_update and skips the scan when asked", async () => {
    const { backend } = setup();
    const make = (status: TaskState, lastUpdate: number, receiver = "q.one") =>
      new Task({ type: "x", receiver }, { status, lastUpdate, origUid: "o" });
    const tasks = [
      make(TaskState.Spawned, 30),
      make(TaskState.Started, 10),
      make(TaskState.Crashed, 20),
      make(TaskState.Crashed, 5),
      make(TaskState.Finished, 1),
      make(TaskState.Declared, 2, ""),
    ];
    await backend.saveTasks(tasks);
    const state = await KartonState.load(backend, { chunkSize: 2 });
    const queue = state.getQueue("q.one");
    expect(queue?.pendingTasks.map((t) => t.lastUpdate)).toEqual([10, 30]);
    expect(queue?.crashedTasks.map((t) => t.lastUpdate)).toEqual([5, 20]);
    expect(queue?.lastUpdate).toBe(30);
    expect(state.pendingTasks.map((t) => t.lastUpdate)).toEqual([2, 10, 30]);

    const light = await KartonState.load(backend, { tasks: false, queueLengths: false });
    expect(light.tasksLoaded).toBe(false);
    expect(light.tasks).toEqual([]);
    expect(light.unboundQueues.size).toBe(0);
  });
});

describe("replicas and services from client names", () => {
  const client = (name: string): OnlineClient => {
    const q = name.indexOf("?");
    const params = Object.fromEntries(q < 0 ? [] : new URLSearchParams(name.slice(q + 1)));
    return { identity: q < 0 ? name : name.slice(0, q), name, params };
  };
  const clients = [
    "karton.system?karton_version=5.9.1&service_version=5.9.1",
    "fixture.log-consumer?karton_version=5.9.1",
    "fixture.logger",
    "fixture.logger",
    "fixture.log-consumer?karton_version=5.9.1",
    "ts.consumer?karton_version=0.1.0&service_version=2.0",
    "bad.service?service_version=1",
    "",
  ].map(client);

  it("groups connections by the name before ?", () => {
    const replicas = countReplicas(clients);
    expect(replicas.get("fixture.logger")).toBe(2);
    expect(replicas.get("fixture.log-consumer")).toBe(2);
    expect(replicas.get("karton.system")).toBe(1);
    expect(replicas.get("")).toBe(1);
  });

  it("aggregates extended names and skips those without karton_version", () => {
    const { services, skipped } = aggregateServices(clients);
    expect(services).toEqual([
      { identity: "karton.system", kartonVersion: "5.9.1", serviceVersion: "5.9.1", count: 1 },
      { identity: "fixture.log-consumer", kartonVersion: "5.9.1", serviceVersion: null, count: 2 },
      { identity: "ts.consumer", kartonVersion: "0.1.0", serviceVersion: "2.0", count: 1 },
    ]);
    expect(skipped).toEqual([
      { name: "bad.service?service_version=1", reason: "no karton_version parameter" },
    ]);
  });

  it("are part of the state, fed from the backend's client list", async () => {
    const { store, backend } = setup();
    const fixture = readFixtureJson("redis/client-list.json") as JsonObject;
    for (const c of fixture.clients as JsonObject[]) store.connect(c.name as string);
    const state = await KartonState.load(backend);
    expect(state.services.map((s) => [s.identity, s.kartonVersion, s.serviceVersion, s.count])).toEqual([
      ["fixture.log-consumer", "5.9.1", null, 1],
      ["karton.system", "5.9.1", "5.9.1", 1],
    ]);
    expect(state.replicas.get("fixture.logger")).toBe(1);
    expect(state.replicas.get("fixture.producer")).toBe(1);
  });
});

/**
 * GarbageCollector, Recovery and Router against a small in-test fake of the backend operations they
 * use (the real backends are exercised by the integration tests).
 */
import { describe, expect, it } from "vitest";
import type { AbandonedClaims, BindsSnapshot } from "../../src/backend/backend.js";
import {
  KartonMetric,
  type QuarantineRecord,
  type RawTask,
  type RoutePlan,
} from "../../src/backend/types.js";
import type { Bind } from "../../src/bind/bind.js";
import type { JsonObject } from "../../src/json/index.js";
import { Logger, type LogRecord } from "../../src/service/logging.js";
import { GarbageCollector, STARTED_TIMEOUT_ERROR } from "../../src/system/gc.js";
import { QuarantineReporter } from "../../src/system/quarantine.js";
import { Recovery } from "../../src/system/recovery.js";
import type { FilterCompiler } from "../../src/system/route.js";
import { Router } from "../../src/system/router.js";
import { parseTask, serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";

const NOW = 1_800_000_000;
const BUCKET = "karton";

class FakeBackend {
  tasks = new Map<string, string>();
  binds: Bind[] = [];
  invalidBinds: BindsSnapshot["invalid"] = [];
  unrouted: string[] = [];
  routing: string[] = [];
  online: string[] = [];
  metrics = new Map<string, Map<string, number>>();
  objects_ = new Map<string, string[]>();
  deletedEntries: { key: string; versionId?: string }[] = [];
  quarantined: QuarantineRecord[] = [];
  calls: string[] = [];
  dropped: string[] = [];
  attempts = new Map<string, number>();
  claims = new Map<string, AbandonedClaims>();
  queues = new Map<string, string[]>();
  applied: RoutePlan[] = [];
  failApply = 0;
  readonly defaultBucket: string | undefined = BUCKET;

  readonly objects = {
    listObjectVersions: async (bucket: string) => {
      this.calls.push(`listObjectVersions ${bucket}`);
      return new Map([...this.objects_].map(([k, v]) => [k, [...v]]));
    },
    deleteObjects: async (bucket: string, entries: { key: string; versionId?: string }[]) => {
      this.calls.push(`deleteObjects ${bucket} ${entries.length}`);
      this.deletedEntries.push(...entries);
      for (const e of entries) this.objects_.delete(e.key);
    },
  } as unknown as import("../../src/backend/types.js").ObjectStore;

  put(task: Task): string {
    this.tasks.set(task.uid, serializeTask(task));
    return task.uid;
  }

  status(uid: string): TaskState | undefined {
    const raw = this.tasks.get(uid);
    return raw === undefined ? undefined : parseTask(raw).status;
  }

  metric(name: KartonMetric): Record<string, number> {
    return Object.fromEntries(this.metrics.get(name) ?? []);
  }

  #inc(name: KartonMetric, field: string): void {
    let m = this.metrics.get(name);
    if (!m) {
      m = new Map();
      this.metrics.set(name, m);
    }
    m.set(field, (m.get(field) ?? 0) + 1);
  }

  async getBinds(): Promise<BindsSnapshot> {
    this.calls.push("getBinds");
    return { binds: this.binds.map((b) => ({ ...b })), invalid: [...this.invalidBinds] };
  }
  async onlineClients() {
    return this.online.map((identity) => ({ identity, name: identity, params: {} }));
  }
  async dropConsumer(identity: string) {
    this.calls.push(`dropConsumer ${identity}`);
    this.dropped.push(identity);
    this.binds = this.binds.filter((b) => b.identity !== identity);
  }
  async *scanTasks(options: { chunkSize?: number } = {}): AsyncIterable<RawTask[]> {
    this.calls.push("scanTasks");
    const size = options.chunkSize ?? 1000;
    const uids = [...this.tasks.keys()];
    for (let i = 0; i < uids.length; i += size) {
      const chunk: RawTask[] = [];
      for (const uid of uids.slice(i, i + size)) {
        const raw = this.tasks.get(uid);
        if (raw !== undefined) chunk.push({ uid, raw });
      }
      this.calls.push(`chunk ${chunk.length}`);
      yield chunk;
    }
  }
  async unroutedSnapshot() {
    this.calls.push("unroutedSnapshot");
    return new Set([...this.unrouted, ...this.routing]);
  }
  async collectTasks(tasks: { uid: string; receiver: string | null }[]) {
    this.calls.push(`collectTasks ${tasks.length}`);
    for (const t of tasks) {
      this.tasks.delete(t.uid);
      this.#inc(KartonMetric.GarbageCollected, t.receiver ?? "unknown");
    }
  }
  async saveTasks(tasks: Task[]) {
    for (const t of tasks) this.put(t);
  }
  async incrementMetrics(metric: KartonMetric, identities: string[]) {
    for (const id of identities) this.#inc(metric, id);
  }
  async quarantine(records: QuarantineRecord[]) {
    this.quarantined.push(...records);
  }
  async getRawTasks(uids: string[]) {
    return uids.map((u) => this.tasks.get(u) ?? null);
  }
  async abandonedClaims() {
    return [...this.claims.values()].map((c) => ({ ...c, uids: [...c.uids] }));
  }
  async getAttempts(uid: string) {
    return this.attempts.get(uid) ?? 0;
  }
  #release(instanceId: string, uid: string): boolean {
    const c = this.claims.get(instanceId);
    if (!c?.uids.includes(uid)) return false;
    c.uids = c.uids.filter((u) => u !== uid);
    return true;
  }
  async requeueAbandoned(instanceId: string, task: Task, identity: string) {
    if (!this.#release(instanceId, task.uid)) return false;
    this.put(task);
    const q = `karton.queue.${task.priority}:${identity}`;
    this.queues.set(q, [...(this.queues.get(q) ?? []), task.uid]);
    this.attempts.set(task.uid, (this.attempts.get(task.uid) ?? 0) + 1);
    return true;
  }
  async crashAbandoned(instanceId: string, task: Task, identity: string) {
    if (!this.#release(instanceId, task.uid)) return false;
    this.put(task);
    this.#inc(KartonMetric.Crashed, identity);
    this.attempts.delete(task.uid);
    return true;
  }
  async forgetAbandoned(instanceId: string, uid: string) {
    this.#release(instanceId, uid);
  }
  async returnAbandonedUnrouted(instanceId: string) {
    const c = this.claims.get(instanceId);
    const uids = c?.uids ?? [];
    this.unrouted.unshift(...uids);
    if (c) c.uids = [];
    return uids.length;
  }
  async forgetInstance(instanceId: string) {
    this.claims.delete(instanceId);
  }
  async takeUnrouted(max: number) {
    const taken = this.unrouted.splice(0, max);
    this.routing.push(...taken);
    return taken;
  }
  async applyRoutePlan(plan: RoutePlan) {
    if (this.failApply > 0) {
      this.failApply--;
      throw new Error("connection lost");
    }
    this.applied.push(plan);
    for (const fork of plan.forks) {
      this.put(fork.task);
      const q = `karton.queue.${fork.priority}:${fork.identity}`;
      this.queues.set(q, [...(this.queues.get(q) ?? []), fork.task.uid]);
      this.#inc(KartonMetric.Assigned, fork.identity);
    }
    for (const t of plan.finished) this.put(t);
    this.quarantined.push(...plan.quarantined);
    this.routing = this.routing.filter((u) => !plan.taken.includes(u));
  }
  async takeLegacyOperations() {
    return [];
  }
  async publishLegacyOperations() {}
}

function capture(): { log: Logger; records: LogRecord[] } {
  const log = new Logger("karton.system");
  log.level = "DEBUG";
  const records: LogRecord[] = [];
  log.addHandler({ handle: (r) => records.push(r) });
  return { log, records };
}

function mkTask(status: TaskState, age: number, headers: JsonObject = { type: "x" }, payload = {}): Task {
  return new Task(headers, { status, lastUpdate: NOW - age, payload });
}

function marker(uid: string, bucket: string | null = BUCKET): JsonObject {
  return {
    __karton_resource__: {
      bucket,
      flags: [],
      metadata: { sha256: null },
      name: "f",
      sha256: null,
      size: 1,
      uid,
    },
  };
}

function collector(
  backend: FakeBackend,
  extra: Partial<ConstructorParameters<typeof GarbageCollector>[3]> = {},
) {
  const { log, records } = capture();
  const gc = new GarbageCollector(backend as never, log, new QuarantineReporter(backend), {
    dispatchedTimeout: 86400,
    startedTimeout: 86400,
    crashedTimeout: 259200,
    crashStartedOnTimeout: false,
    enableNullVersionDeletion: false,
    reporter: "karton.system",
    now: () => NOW,
    ...extra,
  });
  return { gc, records };
}

const DAY = 86400;

describe("GarbageCollector", () => {
  it("applies the rule table, counts garbage-collected per receiver or 'unknown'", async () => {
    const b = new FakeBackend();
    const finishedRoot = b.put(mkTask(TaskState.Finished, 0));
    const finishedFork = b.put(mkTask(TaskState.Finished, 0, { type: "x", receiver: "c1" }));
    const spawnedOld = b.put(mkTask(TaskState.Spawned, 400 * DAY, { type: "x", receiver: "c1" }));
    const orphan = b.put(mkTask(TaskState.Declared, DAY + 5));
    const queued = b.put(mkTask(TaskState.Declared, DAY + 5));
    const taken = b.put(mkTask(TaskState.Declared, DAY + 5));
    const freshDeclared = b.put(mkTask(TaskState.Declared, 5));
    const oldCrash = b.put(mkTask(TaskState.Crashed, 4 * DAY, { type: "x", receiver: "c2" }));
    const newCrash = b.put(mkTask(TaskState.Crashed, DAY, { type: "x", receiver: "c2" }));
    const oldStarted = b.put(mkTask(TaskState.Started, 2 * DAY, { type: "x", receiver: "c3" }));
    b.unrouted = [queued];
    b.routing = [taken];

    const { gc } = collector(b);
    const stats = await gc.runPass();
    expect(stats.failed).toBe(false);
    expect([...b.tasks.keys()].sort()).toEqual([spawnedOld, queued, taken, freshDeclared, newCrash].sort());
    expect(b.tasks.has(finishedRoot) || b.tasks.has(finishedFork) || b.tasks.has(orphan)).toBe(false);
    expect(b.tasks.has(oldCrash) || b.tasks.has(oldStarted)).toBe(false);
    expect(b.metric(KartonMetric.GarbageCollected)).toEqual({ unknown: 2, c1: 1, c2: 1, c3: 1 });
    expect(stats.tasksDeleted).toBe(5);
  });

  it("crashes Started tasks on timeout with crash_started_tasks_on_timeout", async () => {
    const b = new FakeBackend();
    const started = b.put(mkTask(TaskState.Started, 2 * DAY, { type: "x", receiver: "c3" }));
    const { gc, records } = collector(b, { crashStartedOnTimeout: true });
    await gc.runPass();
    const task = parseTask(b.tasks.get(started) as string);
    expect(task.status).toBe(TaskState.Crashed);
    expect(task.error).toEqual([STARTED_TIMEOUT_ERROR]);
    expect(task.lastUpdate).toBe(NOW);
    expect(b.metric(KartonMetric.Crashed)).toEqual({ c3: 1 });
    expect(b.metric(KartonMetric.GarbageCollected)).toEqual({});
    expect(records.some((r) => r.message.includes("Crashed. (receiver: c3)"))).toBe(true);
  });

  it("removes offline non-persistent consumers with all their tasks, keeps online and persistent ones", async () => {
    const b = new FakeBackend();
    const bind = (identity: string, persistent: boolean): Bind => ({
      identity,
      filters: [],
      info: null,
      version: "5.9.1",
      persistent,
      serviceVersion: null,
      isAsync: false,
    });
    b.binds = [bind("temp.offline", false), bind("temp.online", false), bind("persistent.offline", true)];
    b.online = ["temp.online", ""];
    const gone = b.put(mkTask(TaskState.Spawned, 0, { type: "x", receiver: "temp.offline" }));
    const goneStarted = b.put(mkTask(TaskState.Started, 0, { type: "x", receiver: "temp.offline" }));
    const kept = b.put(mkTask(TaskState.Spawned, 0, { type: "x", receiver: "temp.online" }));
    const kept2 = b.put(mkTask(TaskState.Spawned, 0, { type: "x", receiver: "persistent.offline" }));
    const { gc } = collector(b);
    const stats = await gc.runPass();
    expect(b.dropped).toEqual(["temp.offline"]);
    expect(stats.clearedConsumers).toEqual(["temp.offline"]);
    expect(b.tasks.has(gone) || b.tasks.has(goneStarted)).toBe(false);
    expect(b.tasks.has(kept) && b.tasks.has(kept2)).toBe(true);
    expect(b.metric(KartonMetric.GarbageCollected)).toEqual({ "temp.offline": 2 });
  });

  it("works in steps of one SCAN chunk, and fetches the unrouted snapshot only when needed", async () => {
    const b = new FakeBackend();
    for (let i = 0; i < 25; i++) b.put(mkTask(i % 2 ? TaskState.Finished : TaskState.Spawned, 0));
    const { gc } = collector(b, { chunkSize: 10 });
    gc.start();
    expect(gc.phase).toBe("binds");
    let steps = 0;
    while (await gc.step()) steps++;
    // binds, 3 chunks, end of scan, list-objects (empty bucket → done).
    expect(steps).toBe(5);
    expect(b.calls.filter((c) => c.startsWith("chunk"))).toEqual(["chunk 10", "chunk 10", "chunk 5"]);
    expect(b.calls).not.toContain("unroutedSnapshot");
    expect(b.tasks.size).toBe(13);
  });

  it("lists the bucket BEFORE scanning tasks for references, and deletes only unreferenced objects", async () => {
    const b = new FakeBackend();
    b.put(
      mkTask(
        TaskState.Spawned,
        0,
        { type: "x" },
        { a: marker("ref-1"), nested: [{ deep: [marker("ref-2")] }] },
      ),
    );
    const t = mkTask(TaskState.Crashed, 0, { type: "x" });
    t.payloadPersistent.kept = { list: [marker("ref-3")] } as never;
    b.put(t);
    b.put(mkTask(TaskState.Spawned, 0, { type: "x" }, { other: marker("elsewhere", "other-bucket") }));
    b.put(mkTask(TaskState.Spawned, 0, { type: "x" }, { nobucket: marker("null-bucket", null) }));
    b.objects_.set("ref-1", ["v1"]);
    b.objects_.set("ref-2", ["v1", "v2"]);
    b.objects_.set("ref-3", ["null"]);
    b.objects_.set("null-bucket", ["v1"]);
    b.objects_.set("elsewhere", ["v1"]);
    b.objects_.set("orphan", ["v1", "v2"]);
    b.objects_.set("orphan-unversioned", ["null"]);
    const { gc } = collector(b);
    const stats = await gc.runPass();
    const list = b.calls.indexOf(`listObjectVersions ${BUCKET}`);
    const scans = b.calls.map((c, i) => (c === "scanTasks" ? i : -1)).filter((i) => i >= 0);
    expect(scans).toHaveLength(2);
    expect(list).toBeGreaterThan(scans[0] as number);
    expect(list).toBeLessThan(scans[1] as number);
    expect(b.deletedEntries).toEqual([
      { key: "elsewhere", versionId: "v1" },
      { key: "orphan", versionId: "v1" },
      { key: "orphan", versionId: "v2" },
      { key: "orphan-unversioned" },
    ]);
    expect(stats.objectsDeleted).toBe(3);
    expect(stats.versionsDeleted).toBe(4);
  });

  it("sends 'null' version ids with enable_null_version_deletion", async () => {
    const b = new FakeBackend();
    b.objects_.set("orphan", ["null"]);
    b.put(mkTask(TaskState.Spawned, 0));
    const { gc } = collector(b, { enableNullVersionDeletion: true });
    await gc.runPass();
    expect(b.deletedEntries).toEqual([{ key: "orphan", versionId: "null" }]);
  });

  it("keeps unreadable documents, quarantines them once, and keeps every object they mention", async () => {
    const b = new FakeBackend();
    b.tasks.set("{r}:broken", '{"payload": {"x": {"__karton_resource__": {"uid": "mentions-obj-1"');
    b.tasks.set("{r}:bad-status", serializeTask(mkTask(TaskState.Finished, 0)).replace("Finished", "Odd"));
    b.objects_.set("mentions-obj-1", ["v1"]);
    b.objects_.set("orphan", ["v1"]);
    const { gc, records } = collector(b);
    await gc.runPass();
    await gc.runPass();
    expect(b.tasks.has("{r}:broken") && b.tasks.has("{r}:bad-status")).toBe(true);
    expect(b.deletedEntries).toEqual([{ key: "orphan", versionId: "v1" }]);
    expect(b.quarantined.map((q) => q.subject).sort()).toEqual(["{r}:bad-status", "{r}:broken"]);
    expect(records.filter((r) => r.levelname === "ERROR")).toHaveLength(2);
  });

  it("an error ends the pass without deleting objects", async () => {
    const b = new FakeBackend();
    b.objects_.set("orphan", ["v1"]);
    b.put(mkTask(TaskState.Spawned, 0));
    b.objects.listObjectVersions = async () => {
      throw new Error("S3 down");
    };
    const { gc, records } = collector(b);
    const stats = await gc.runPass();
    expect(stats.failed).toBe(true);
    expect(gc.active).toBe(false);
    expect(b.deletedEntries).toEqual([]);
    expect(records.some((r) => r.levelname === "ERROR" && r.message.includes("GC failed"))).toBe(true);
  });

  it("keeps the tasks of a cleared consumer that registered again during the pass", async () => {
    const b = new FakeBackend();
    b.binds = [
      {
        identity: "t",
        filters: [],
        info: null,
        version: "1",
        persistent: false,
        serviceVersion: null,
        isAsync: false,
      },
    ];
    for (let i = 0; i < 4; i++) b.put(mkTask(TaskState.Spawned, 0, { type: "x", receiver: "t" }));
    const { gc } = collector(b, { chunkSize: 2 });
    gc.start();
    await gc.step(); // binds: t dropped
    await gc.step(); // first chunk deleted
    expect(b.tasks.size).toBe(2);
    b.binds = [
      {
        identity: "t",
        filters: [],
        info: null,
        version: "1",
        persistent: false,
        serviceVersion: null,
        isAsync: false,
      },
    ];
    while (await gc.step()) {}
    expect(b.tasks.size).toBe(2);
  });
});

describe("Recovery", () => {
  function recovery(b: FakeBackend, maxAttempts = 3) {
    const { log, records } = capture();
    return {
      rec: new Recovery(b as never, log, new QuarantineReporter(b), {
        maxAttempts,
        reporter: "karton.system",
        now: () => NOW,
      }),
      records,
    };
  }

  it("requeues Started/Spawned claims, drops finished or missing ones, then forgets the instance", async () => {
    const b = new FakeBackend();
    const started = b.put(mkTask(TaskState.Started, 10, { type: "x", receiver: "c" }));
    const spawned = b.put(mkTask(TaskState.Spawned, 10, { type: "x", receiver: "c" }));
    const done = b.put(mkTask(TaskState.Finished, 10, { type: "x", receiver: "c" }));
    b.claims.set("i1", {
      instanceId: "i1",
      kind: "consumer",
      identity: "c",
      uids: [started, spawned, done, "{r}:gone"],
    });
    const { rec, records } = recovery(b);
    const stats = await rec.run();
    expect(stats).toMatchObject({ instances: 1, requeued: 2, crashed: 0, forgotten: 2 });
    expect(b.status(started)).toBe(TaskState.Spawned);
    expect(b.queues.get("karton.queue.normal:c")).toEqual([started, spawned]);
    expect(b.claims.size).toBe(0);
    expect(records.some((r) => r.message.includes(started) && r.message.includes("c"))).toBe(true);
  });

  it("crashes a task after task_max_attempts hand-outs, naming the consumer", async () => {
    const b = new FakeBackend();
    const uid = b.put(mkTask(TaskState.Started, 10, { type: "x", receiver: "c" }));
    b.attempts.set(uid, 2);
    b.claims.set("dead-1", { instanceId: "dead-1", kind: "consumer", identity: "c", uids: [uid] });
    const { rec } = recovery(b, 3);
    const stats = await rec.run();
    expect(stats.crashed).toBe(1);
    const task = parseTask(b.tasks.get(uid) as string);
    expect(task.status).toBe(TaskState.Crashed);
    expect(task.error?.join("")).toContain(
      "consumer c instance dead-1 died while processing this task 3 times",
    );
    expect(b.metric(KartonMetric.Crashed)).toEqual({ c: 1 });
  });

  it("returns a dead router's taken uids to karton.tasks", async () => {
    const b = new FakeBackend();
    b.unrouted = ["later"];
    b.claims.set("r1", { instanceId: "r1", kind: "router", identity: "karton.system", uids: ["a", "b"] });
    const { rec } = recovery(b);
    expect((await rec.run()).returnedUnrouted).toBe(2);
    expect(b.unrouted).toEqual(["a", "b", "later"]);
  });

  it("with task_max_attempts = 1 the first death crashes the task", async () => {
    const b = new FakeBackend();
    const uid = b.put(mkTask(TaskState.Spawned, 10, { type: "x", receiver: "c" }));
    b.claims.set("d", { instanceId: "d", kind: "consumer", identity: "c", uids: [uid] });
    const { rec } = recovery(b, 1);
    await rec.run();
    expect(b.status(uid)).toBe(TaskState.Crashed);
  });
});

describe("Router", () => {
  const compiler: FilterCompiler = (filters) => ({
    matches: (headers) =>
      filters.some((rule) =>
        Object.entries(rule).every(([k, v]) => {
          if (k === "explode") throw new Error("boom");
          return headers[k] === v;
        }),
      ),
  });

  function router(b: FakeBackend) {
    const { log, records } = capture();
    return {
      r: new Router(b as never, log, new QuarantineReporter(b), {
        identity: "karton.system",
        taskTracking: true,
        taskTrackingTtl: 100,
        batchSize: 3,
        compileFilters: compiler,
        now: () => NOW,
      }),
      records,
    };
  }

  const bind = (identity: string, filters: JsonObject[]): Bind => ({
    identity,
    filters,
    info: null,
    version: "5.9.1",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
  });

  it("routes batches, logs 'Processing task' per task, and reports broken binds once", async () => {
    const b = new FakeBackend();
    b.binds = [bind("a", [{ type: "x" }]), bind("broken", [{ explode: 1 }])];
    b.invalidBinds = [{ identity: "junk", raw: "{", reason: "not JSON" }];
    const uids = [0, 1, 2, 3].map(() => b.put(mkTask(TaskState.Declared, 0)));
    b.unrouted = [...uids];
    const { r, records } = router(b);
    expect((await r.routeBatch(1)).taken).toBe(3);
    expect((await r.routeBatch(1)).taken).toBe(1);
    expect((await r.routeBatch(1)).taken).toBe(0);
    expect(b.queues.get("karton.queue.normal:a")).toHaveLength(4);
    for (const uid of uids) expect(b.status(uid)).toBe(TaskState.Finished);
    const processing = records.filter((x) => x.message.includes("Processing task"));
    expect(processing).toHaveLength(4);
    const first = parseTask(b.tasks.get(uids[0] as string) as string);
    expect(processing[0]?.message).toBe(`[${first.rootUid}] Processing task ${first.rootUid}`);
    expect(b.quarantined.map((q) => `${q.kind}:${q.subject}`)).toEqual(["bind:junk"]);
    // The evaluation error of "broken" is logged once (rate limited), not once per task.
    expect(records.filter((x) => x.message.includes("Filters of bind broken"))).toHaveLength(1);
  });

  it("retries a batch whose application failed with the same forks (no double routing)", async () => {
    const b = new FakeBackend();
    b.binds = [bind("a", [{ type: "x" }])];
    const uid = b.put(mkTask(TaskState.Declared, 0));
    b.unrouted = [uid];
    b.failApply = 1;
    const { r } = router(b);
    await expect(r.routeBatch(1)).rejects.toThrow("connection lost");
    expect(r.hasPending).toBe(true);
    await r.routeBatch(1);
    expect(r.hasPending).toBe(false);
    expect(b.applied).toHaveLength(1);
    expect(b.queues.get("karton.queue.normal:a")).toHaveLength(1);
  });
});

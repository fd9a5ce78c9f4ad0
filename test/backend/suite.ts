/**
 * Behavioural test suite shared by every KartonBackend implementation (Redis + S3, embedded).
 *
 * It only uses the interface: what one operation does is checked through the others. A backend
 * passes when every operation behaves as documented in src/backend/backend.ts, including the
 * karton-ts recovery extension (claims, heartbeats, abandoned work) and the object store.
 *
 * Usage (in a *.test.ts file):
 *   backendSuite("redis", async () => ({ backend, peer, writeRawBind, bucket, clientName, cleanup }));
 * `make` runs before every test and must return a backend on an EMPTY store.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KartonBackend } from "../../src/backend/backend.js";
import { KartonMetric, type LogMessage, type RoutePlan } from "../../src/backend/types.js";
import type { Bind } from "../../src/bind/bind.js";
import { ResourceError } from "../../src/resource/errors.js";
import { serializeTask } from "../../src/task/document.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";

export interface BackendUnderTest {
  backend: KartonBackend;
  /** Another instance (own instanceId) on the same store, e.g. to play a consumer that dies. */
  peer(): Promise<KartonBackend>;
  /** Stores a bind value verbatim (to test unreadable binds); the interface cannot write one. */
  writeRawBind(identity: string, raw: string): Promise<void>;
  /** An existing, empty bucket of `backend.objects` for the object-store tests. */
  bucket: string;
  /** Client name the backend was created with, when it has one (expected in onlineClients). */
  clientName?: string;
  /** Releases everything (peers included). */
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A new unrouted task as a producer declares it. */
export function newTask(
  headers: Record<string, string> = { type: "sample" },
  priority = TaskPriority.Normal,
): Task {
  return new Task({ ...headers, origin: "suite.producer" }, { priority, payload: { n: 1 } });
}

/** A fork of `task` for `identity`, as the router writes it. */
export function forkFor(task: Task, identity: string): Task {
  const fork = task.fork();
  fork.setStatus(TaskState.Spawned);
  fork.headers.receiver = identity;
  return fork;
}

/** The router's plan for `taken` originals, each forked to every identity in `to`. */
export function planFor(originals: Task[], to: string[], extra: Partial<RoutePlan> = {}): RoutePlan {
  const forks = originals.flatMap((task) =>
    to.map((identity) => ({ task: forkFor(task, identity), identity, priority: task.priority })),
  );
  const finished = originals.map((task) => {
    const copy = new Task(task.headers, {
      uid: task.uid,
      rootUid: task.rootUid,
      priority: task.priority,
      payload: task.payload,
    });
    copy.setStatus(TaskState.Finished);
    return copy;
  });
  return {
    taken: originals.map((t) => t.uid),
    finished,
    forks,
    outputs: originals.map((t) => ({ origin: String(t.headers.origin), member: JSON.stringify(t.headers) })),
    outputsTtl: 3600,
    quarantined: [],
    ...extra,
  };
}

function bind(identity: string, filters = [{ type: "sample" }], persistent = true): Bind {
  return {
    identity,
    filters,
    info: null,
    version: "0.1.0",
    persistent,
    serviceVersion: null,
    isAsync: false,
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function collect<T>(it: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const chunk of it) out.push(chunk);
  return out;
}

export function backendSuite(name: string, make: () => Promise<BackendUnderTest>): void {
  describe(`backend ${name}`, () => {
    let t: BackendUnderTest;
    let b: KartonBackend;

    beforeEach(async () => {
      t = await make();
      b = t.backend;
      await b.ping();
    });
    afterEach(async () => {
      await t?.cleanup();
    });

    /** Declares and enqueues tasks, then routes them (all taken) to `identity`. Returns the forks. */
    async function routeTo(identity: string, tasks: Task[]): Promise<Task[]> {
      for (const task of tasks) {
        await b.declareTask(task);
        await b.enqueueUnrouted(task, "suite.producer");
      }
      const taken = await b.takeUnrouted(tasks.length, 1);
      expect(taken).toEqual(tasks.map((x) => x.uid));
      const plan = planFor(tasks, [identity]);
      await b.applyRoutePlan(plan);
      return plan.forks.map((f) => f.task);
    }

    describe("task documents", () => {
      it("stores a declared task and reads it back unchanged", async () => {
        const task = newTask();
        task.payload.big = 2n ** 70n;
        await b.declareTask(task);
        const read = await b.getTask(task.uid);
        expect(read).not.toBeNull();
        expect(serializeTask(read!)).toBe(serializeTask(task));
        expect(read!.status).toBe(TaskState.Declared);
        expect(await b.getTask("{nope}:nope")).toBeNull();
      });

      it("reads raw documents in order with nulls for missing ones", async () => {
        const a = newTask();
        const c = newTask();
        await b.saveTasks([a, c]);
        const raws = await b.getRawTasks([a.uid, "missing", c.uid]);
        expect(raws).toEqual([serializeTask(a), null, serializeTask(c)]);
      });

      it("setTaskStatus writes status and last_update, and skips a no-op", async () => {
        const task = newTask();
        task.lastUpdate = 1000;
        await b.declareTask(task);
        await b.setTaskStatus(task, TaskState.Declared);
        expect((await b.getTask(task.uid))!.lastUpdate).toBe(1000);
        await b.setTaskStatus(task, TaskState.Started);
        const read = (await b.getTask(task.uid))!;
        expect(read.status).toBe(TaskState.Started);
        expect(read.lastUpdate).toBeGreaterThan(1000);
      });

      it("deletes documents", async () => {
        const tasks = [newTask(), newTask()];
        await b.saveTasks(tasks);
        await b.deleteTasks(tasks.map((x) => x.uid));
        expect(await b.getRawTasks(tasks.map((x) => x.uid))).toEqual([null, null]);
      });

      it("scans every document in chunks, and one tree by root uid (legacy uids included)", async () => {
        const rootA = newTask();
        const rootB = newTask();
        const treeA = [rootA, ...Array.from({ length: 12 }, () => forkFor(rootA, "x"))];
        const treeB = [rootB, ...Array.from({ length: 9 }, () => forkFor(rootB, "x"))];
        const legacyA = new Task({ type: "legacy" }, { uid: crypto.randomUUID(), rootUid: rootA.rootUid });
        const legacyOther = new Task({ type: "legacy" }, { uid: crypto.randomUUID(), rootUid: "other-root" });
        await b.saveTasks([...treeA, ...treeB, legacyA, legacyOther]);

        const chunks = await collect(b.scanTasks({ chunkSize: 5 }));
        expect(chunks.every((c) => c.length >= 1 && c.length <= 5)).toBe(true);
        const all = chunks.flat();
        expect(all).toHaveLength(treeA.length + treeB.length + 2);
        expect(new Set(all.map((r) => r.uid)).size).toBe(all.length);
        const byUid = new Map(all.map((r) => [r.uid, r.raw]));
        expect(byUid.get(rootA.uid)).toBe(serializeTask(rootA));

        const onlyA = (await collect(b.scanTasks({ rootUid: rootA.rootUid }))).flat().map((r) => r.uid);
        expect(new Set(onlyA)).toEqual(new Set([...treeA.map((x) => x.uid), legacyA.uid]));
        expect(await collect(b.scanTasks({ rootUid: "no-such-root" }))).toEqual([]);
      });
    });

    describe("producer and router", () => {
      it("queues declared tasks FIFO and counts them as produced", async () => {
        const tasks = [newTask(), newTask(), newTask()];
        for (const task of tasks) {
          await b.declareTask(task);
          await b.enqueueUnrouted(task, "suite.producer");
        }
        expect(await b.unroutedSnapshot()).toEqual(new Set(tasks.map((x) => x.uid)));
        expect(await b.takeUnrouted(2, 1)).toEqual([tasks[0]!.uid, tasks[1]!.uid]);
        // Taken but not applied: still unrouted for the GC.
        expect(await b.unroutedSnapshot()).toEqual(new Set(tasks.map((x) => x.uid)));
        expect((await b.getMetrics())[KartonMetric.Produced]).toEqual({ "suite.producer": 3 });
      });

      it("takeUnrouted waits for the first task and returns [] after the block time", async () => {
        const started = Date.now();
        expect(await b.takeUnrouted(10, 0.5)).toEqual([]);
        expect(Date.now() - started).toBeGreaterThanOrEqual(400);
        const task = newTask();
        setTimeout(() => {
          void b.declareTask(task).then(() => b.enqueueUnrouted(task, "p"));
        }, 200);
        const t0 = Date.now();
        expect(await b.takeUnrouted(10, 5)).toEqual([task.uid]);
        expect(Date.now() - t0).toBeLessThan(2000);
        expect(await b.takeUnrouted(10, 0)).toEqual([task.uid]); // not applied yet: handed out again
      });

      it("applies a routing plan: forks queued and Spawned, originals Finished, metrics, claim released", async () => {
        const originals = [newTask(), newTask()];
        for (const task of originals) {
          await b.declareTask(task);
          await b.enqueueUnrouted(task, "suite.producer");
        }
        const taken = await b.takeUnrouted(10, 1);
        expect(taken).toEqual(originals.map((x) => x.uid));
        const plan = planFor(originals, ["suite.a", "suite.b"]);
        await b.applyRoutePlan(plan);

        for (const task of originals) expect((await b.getTask(task.uid))!.status).toBe(TaskState.Finished);
        for (const fork of plan.forks) {
          const read = (await b.getTask(fork.task.uid))!;
          expect(read.status).toBe(TaskState.Spawned);
          expect(read.origUid).toBe(fork.task.origUid);
          expect(read.headers.receiver).toBe(fork.identity);
        }
        expect((await b.getMetrics())[KartonMetric.Assigned]).toEqual({ "suite.a": 2, "suite.b": 2 });
        expect(await b.unroutedSnapshot()).toEqual(new Set());
        expect(await b.takeUnrouted(10, 0)).toEqual([]);

        await b.heartbeat("consumer", "suite.a", 30);
        const forksA = plan.forks.filter((f) => f.identity === "suite.a").map((f) => f.task.uid);
        expect(await b.claimTask("suite.a", 0)).toBe(forksA[0]);
        expect(await b.claimTask("suite.a", 0)).toBe(forksA[1]);
        expect(await b.claimTask("suite.a", 0)).toBeNull();
      });

      it("applies a plan only once (a retried batch creates no duplicate forks)", async () => {
        const task = newTask();
        await b.declareTask(task);
        await b.enqueueUnrouted(task, "p");
        await b.takeUnrouted(1, 1);
        const plan = planFor([task], ["suite.once"]);
        await b.applyRoutePlan(plan);
        await b.applyRoutePlan(plan);
        await b.heartbeat("consumer", "suite.once", 30);
        expect(await b.claimTask("suite.once", 0)).toBe(plan.forks[0]!.task.uid);
        expect(await b.claimTask("suite.once", 0)).toBeNull();
        expect((await b.getMetrics())[KartonMetric.Assigned]).toEqual({ "suite.once": 1 });
      });

      it("records quarantined tasks of a plan and lists them newest first", async () => {
        const task = newTask();
        await b.declareTask(task);
        await b.enqueueUnrouted(task, "p");
        const [uid] = await b.takeUnrouted(1, 1);
        await b.applyRoutePlan({
          taken: [uid!, "bad-uid"],
          finished: [],
          forks: [],
          outputs: [],
          outputsTtl: null,
          quarantined: [
            { subject: "bad-uid", kind: "task", reason: "not JSON", raw: "{", at: 1, reporter: "suite" },
          ],
        });
        await b.quarantine([
          { subject: "b", kind: "bind", reason: "bad bind", raw: null, at: 2, reporter: "suite" },
        ]);
        const listed = await b.listQuarantine();
        expect(listed.map((r) => r.subject)).toEqual(["b", "bad-uid"]);
        expect(listed[1]).toEqual({
          subject: "bad-uid",
          kind: "task",
          reason: "not JSON",
          raw: "{",
          at: 1,
          reporter: "suite",
        });
        expect(await b.listQuarantine(1)).toHaveLength(1);
      });

      it("has no legacy operations on an empty store, and publishes legacy bodies as logs", async () => {
        expect(await b.takeLegacyOperations(1000)).toEqual([]);
        const got: LogMessage[] = [];
        const sub = await b.subscribeLogs({ identity: "karton.operations" }, (m) => got.push(m));
        try {
          const body = JSON.stringify({
            status: "Finished",
            identity: null,
            task: '{"uid": "x"}',
            type: "operation",
          });
          await b.publishLegacyOperations([body]);
          await waitFor(() => got.length === 1);
          expect(got[0]!.channel).toBe("karton.log.info.karton.operations");
          expect(got[0]!.body.type).toBe("operation");
        } finally {
          await sub.close();
        }
      });
    });

    describe("consumer claims", () => {
      it("claims in priority order high > normal > low, FIFO within a priority", async () => {
        const low1 = newTask({ type: "l1" }, TaskPriority.Low);
        const normal1 = newTask({ type: "n1" }, TaskPriority.Normal);
        const high1 = newTask({ type: "h1" }, TaskPriority.High);
        const normal2 = newTask({ type: "n2" }, TaskPriority.Normal);
        const high2 = newTask({ type: "h2" }, TaskPriority.High);
        const forks = await routeTo("suite.prio", [low1, normal1, high1, normal2, high2]);
        const byType = new Map(forks.map((f) => [String(f.headers.type), f.uid]));
        await b.heartbeat("consumer", "suite.prio", 30);
        const order: (string | null)[] = [];
        for (let i = 0; i < 6; i++) order.push(await b.claimTask("suite.prio", 0));
        expect(order).toEqual([...["h1", "h2", "n1", "n2", "l1"].map((k) => byType.get(k)), null]);
      });

      it("blocks up to blockSeconds, and claims a task queued meanwhile quickly", async () => {
        await b.heartbeat("consumer", "suite.wait", 30);
        const t0 = Date.now();
        expect(await b.claimTask("suite.wait", 0.6)).toBeNull();
        expect(Date.now() - t0).toBeGreaterThanOrEqual(500);

        for (const priority of [TaskPriority.Normal, TaskPriority.High]) {
          const task = newTask({ type: "late" }, priority);
          let routedAt = 0;
          let routing: Promise<Task[]> = Promise.resolve([]);
          setTimeout(() => {
            routedAt = Date.now();
            routing = routeTo("suite.wait", [task]);
          }, 300);
          const uid = await b.claimTask("suite.wait", 5);
          const claimedAt = Date.now();
          await routing;
          expect(uid).not.toBeNull();
          expect((await b.getTask(uid!))!.origUid).toBe(task.uid);
          // normal: BLMOVE wakes up at once; high: found by the next poll (≤ 0.5 s)
          expect(claimedAt - routedAt).toBeLessThan(1500);
        }
      });

      it("completeClaimed writes the document, counts metrics and releases the claim", async () => {
        const [fork] = await routeTo("suite.done", [newTask()]);
        await b.heartbeat("consumer", "suite.done", 30);
        const uid = await b.claimTask("suite.done", 1);
        expect(uid).toBe(fork!.uid);
        const task = (await b.getTask(uid!))!;
        task.setStatus(TaskState.Crashed);
        task.error = ["Traceback (most recent call last):\n", "Error: boom\n"];
        await b.completeClaimed(task, "suite.done", [KartonMetric.Consumed, KartonMetric.Crashed]);
        const read = (await b.getTask(uid!))!;
        expect(read.status).toBe(TaskState.Crashed);
        expect(read.error).toEqual(task.error);
        const metrics = await b.getMetrics();
        expect(metrics[KartonMetric.Consumed]).toEqual({ "suite.done": 1 });
        expect(metrics[KartonMetric.Crashed]).toEqual({ "suite.done": 1 });
        // Released: when this instance disappears, nothing is left to recover.
        await b.retireInstance();
        const other = await t.peer();
        expect(await other.abandonedClaims()).toEqual([]);
      });

      it("a repeated completion writes the document again but counts the metrics once", async () => {
        await routeTo("suite.twice", [newTask()]);
        await b.heartbeat("consumer", "suite.twice", 30);
        const uid = (await b.claimTask("suite.twice", 1))!;
        const task = (await b.getTask(uid))!;
        task.setStatus(TaskState.Finished);
        await b.completeClaimed(task, "suite.twice", [KartonMetric.Consumed]);
        task.setStatus(TaskState.Crashed);
        await b.completeClaimed(task, "suite.twice", [KartonMetric.Consumed]);
        expect((await b.getTask(uid))!.status).toBe(TaskState.Crashed);
        expect((await b.getMetrics())[KartonMetric.Consumed]).toEqual({ "suite.twice": 1 });
      });

      it("handBackClaimed puts the task back at the head of its queue", async () => {
        const forks = await routeTo("suite.back", [newTask(), newTask()]);
        await b.heartbeat("consumer", "suite.back", 30);
        const uid = await b.claimTask("suite.back", 1);
        expect(uid).toBe(forks[0]!.uid);
        const task = (await b.getTask(uid!))!;
        await b.handBackClaimed(task, "suite.back");
        expect(await b.claimTask("suite.back", 0)).toBe(forks[0]!.uid);
        expect(await b.claimTask("suite.back", 0)).toBe(forks[1]!.uid);
      });

      it("dropClaim releases a claim without writing", async () => {
        const [fork] = await routeTo("suite.drop", [newTask()]);
        const peer = await t.peer();
        await peer.heartbeat("consumer", "suite.drop", 1);
        const uid = await peer.claimTask("suite.drop", 1);
        expect(uid).toBe(fork!.uid);
        await peer.dropClaim(uid!);
        await sleep(1300);
        expect(await b.abandonedClaims()).toEqual([]);
      });
    });

    describe("recovery of abandoned work", () => {
      async function deadConsumerWith(
        identity: string,
        count = 1,
      ): Promise<{ peer: KartonBackend; uids: string[] }> {
        const forks = await routeTo(
          identity,
          Array.from({ length: count }, () => newTask()),
        );
        const peer = await t.peer();
        await peer.heartbeat("consumer", identity, 1);
        const uids: string[] = [];
        for (let i = 0; i < count; i++) uids.push((await peer.claimTask(identity, 1))!);
        expect(uids).toEqual(forks.map((f) => f.uid));
        return { peer, uids };
      }

      it("a live instance's claims are not abandoned; after its heartbeat expires they are", async () => {
        const { peer, uids } = await deadConsumerWith("suite.dead", 2);
        expect(await b.abandonedClaims()).toEqual([]);
        await sleep(1300);
        expect(await b.abandonedClaims()).toEqual([
          { instanceId: peer.instanceId, kind: "consumer", identity: "suite.dead", uids },
        ]);
      });

      it("requeueAbandoned puts a claim back once and counts the attempt", async () => {
        const { peer, uids } = await deadConsumerWith("suite.requeue");
        await sleep(1300);
        const task = (await b.getTask(uids[0]!))!;
        task.setStatus(TaskState.Spawned);
        expect(await b.requeueAbandoned(peer.instanceId, task, "suite.requeue")).toBe(true);
        expect(await b.requeueAbandoned(peer.instanceId, task, "suite.requeue")).toBe(false);
        expect(await b.getAttempts(uids[0]!)).toBe(1);
        await b.heartbeat("consumer", "suite.requeue", 30);
        expect(await b.claimTask("suite.requeue", 0)).toBe(uids[0]);
        expect(await b.claimTask("suite.requeue", 0)).toBeNull();
        await b.forgetInstance(peer.instanceId);
        expect(await b.abandonedClaims()).toEqual([]);
      });

      it("crashAbandoned finishes a claim as Crashed once and counts it", async () => {
        const { peer, uids } = await deadConsumerWith("suite.crash");
        await sleep(1300);
        const task = (await b.getTask(uids[0]!))!;
        task.setStatus(TaskState.Crashed);
        task.error = ["recovered: consumer died\n"];
        expect(await b.crashAbandoned(peer.instanceId, task, "suite.crash")).toBe(true);
        expect(await b.crashAbandoned(peer.instanceId, task, "suite.crash")).toBe(false);
        expect((await b.getTask(uids[0]!))!.status).toBe(TaskState.Crashed);
        expect((await b.getMetrics())[KartonMetric.Crashed]).toEqual({ "suite.crash": 1 });
        expect(await b.getAttempts(uids[0]!)).toBe(0);
        expect(await b.abandonedClaims()).toEqual([]);
      });

      it("forgetAbandoned drops a claim whose document is gone", async () => {
        const { peer, uids } = await deadConsumerWith("suite.forget");
        await sleep(1300);
        await b.deleteTasks(uids);
        await b.forgetAbandoned(peer.instanceId, uids[0]!);
        expect(await b.abandonedClaims()).toEqual([]);
      });

      it("returnAbandonedUnrouted gives a dead router's batch back to the head, in order", async () => {
        const tasks = [newTask(), newTask(), newTask(), newTask()];
        for (const task of tasks) {
          await b.declareTask(task);
          await b.enqueueUnrouted(task, "p");
        }
        const router = await t.peer();
        await router.heartbeat("router", "karton.system", 1);
        expect(await router.takeUnrouted(3, 1)).toEqual(tasks.slice(0, 3).map((x) => x.uid));
        expect(await b.unroutedSnapshot()).toEqual(new Set(tasks.map((x) => x.uid)));
        await sleep(1300);
        const abandoned = await b.abandonedClaims();
        expect(abandoned).toEqual([
          {
            instanceId: router.instanceId,
            kind: "router",
            identity: "karton.system",
            uids: tasks.slice(0, 3).map((x) => x.uid),
          },
        ]);
        expect(await b.returnAbandonedUnrouted(router.instanceId)).toBe(3);
        expect(await b.returnAbandonedUnrouted(router.instanceId)).toBe(0);
        await b.forgetInstance(router.instanceId);
        expect(await b.takeUnrouted(10, 1)).toEqual(tasks.map((x) => x.uid));
        expect(await b.abandonedClaims()).toEqual([]);
      });

      it("retireInstance with nothing claimed leaves nothing behind", async () => {
        const peer = await t.peer();
        await peer.heartbeat("consumer", "suite.retire", 30);
        await peer.retireInstance();
        expect(await b.abandonedClaims()).toEqual([]);
      });
    });

    describe("binds", () => {
      it("registers, replaces and reads binds", async () => {
        expect(await b.registerBind(bind("suite.x"))).toBeNull();
        expect(await b.getBind("suite.x")).toEqual(bind("suite.x"));
        const replaced = bind("suite.x", [{ type: "other" }], false);
        expect(await b.registerBind(replaced)).toEqual(bind("suite.x"));
        expect(await b.getBind("suite.x")).toEqual(replaced);
        expect(await b.getBind("suite.none")).toBeNull();
      });

      it("getBinds sets unreadable binds aside instead of failing", async () => {
        await b.registerBind(bind("suite.a"));
        await b.registerBind(bind("suite.b"));
        await t.writeRawBind("suite.broken", "{not json");
        const snapshot = await b.getBinds();
        expect(snapshot.binds.map((x) => x.identity).sort()).toEqual(["suite.a", "suite.b"]);
        expect(snapshot.invalid).toHaveLength(1);
        expect(snapshot.invalid[0]!.identity).toBe("suite.broken");
        expect(snapshot.invalid[0]!.raw).toBe("{not json");
        expect(snapshot.invalid[0]!.reason).toMatch(/suite\.broken/);
        await expect(b.getBind("suite.broken")).rejects.toThrow(/suite\.broken/);
      });

      it("dropConsumer removes the bind and the queues of one consumer only", async () => {
        await b.registerBind(bind("suite.gone", [{ type: "sample" }], false));
        await b.registerBind(bind("suite.stays"));
        await routeTo("suite.gone", [newTask(), newTask({ type: "h" }, TaskPriority.High)]);
        await routeTo("suite.stays", [newTask()]);
        await b.dropConsumer("suite.gone");
        expect(await b.getBind("suite.gone")).toBeNull();
        expect(await b.getBind("suite.stays")).not.toBeNull();
        await b.heartbeat("consumer", "suite.any", 30);
        expect(await b.claimTask("suite.gone", 0)).toBeNull();
        expect(await b.claimTask("suite.stays", 0)).not.toBeNull();
      });
    });

    describe("garbage collector", () => {
      it("collectTasks deletes documents and counts them per receiver or unknown", async () => {
        const root = newTask();
        const forks = [forkFor(root, "suite.r"), forkFor(root, "suite.r")];
        await b.saveTasks([root, ...forks]);
        await b.collectTasks([
          { uid: root.uid, receiver: null },
          ...forks.map((f) => ({ uid: f.uid, receiver: "suite.r" })),
        ]);
        expect(await b.getRawTasks([root.uid, forks[0]!.uid])).toEqual([null, null]);
        expect((await b.getMetrics())[KartonMetric.GarbageCollected]).toEqual({ unknown: 1, "suite.r": 2 });
      });

      it("lists online clients with identity, name and parameters", async () => {
        const clients = await b.onlineClients();
        for (const c of clients) {
          expect(typeof c.identity).toBe("string");
          expect(c.name.startsWith(c.identity)).toBe(true);
          expect(typeof c.params).toBe("object");
        }
        if (t.clientName) {
          const mine = clients.find((c) => c.name === t.clientName);
          expect(mine).toBeDefined();
          expect(mine!.identity).toBe(t.clientName.split("?")[0]);
        }
      });
    });

    describe("operator actions", () => {
      it("restartTask queues a new fork and finishes the old task", async () => {
        const [fork] = await routeTo("suite.restart", [newTask(), newTask({ type: "x" }, TaskPriority.High)]);
        const old = (await b.getTask(fork!.uid))!;
        old.setStatus(TaskState.Crashed);
        await b.saveTasks([old]);
        expect(await b.queueLengths("suite.restart")).toEqual({ bare: 0, high: 1, normal: 1, low: 0 });
        const again = forkFor(old, "suite.restart");
        again.origUid = old.origUid;
        await b.restartTask(again, old);
        expect((await b.getTask(old.uid))!.status).toBe(TaskState.Finished);
        expect((await b.getTask(again.uid))!.status).toBe(TaskState.Spawned);
        expect(await b.queueLengths("suite.restart")).toEqual({ bare: 0, high: 1, normal: 2, low: 0 });
        expect(await b.queueLengths("suite.nobody")).toEqual({ bare: 0, high: 0, normal: 0, low: 0 });
      });

      it("getOutputs returns the routed header sets per origin, skipping unreadable members", async () => {
        expect(await b.getOutputs()).toEqual(new Map());
        const a = new Task({ type: "sample", origin: "suite.p1" });
        const c = new Task({ type: "config", origin: "suite.p1" });
        const d = new Task({ type: "blob", origin: "suite.p:2" });
        for (const task of [a, c, d]) {
          await b.declareTask(task);
          await b.enqueueUnrouted(task, String(task.headers.origin));
        }
        expect(await b.takeUnrouted(3, 1)).toHaveLength(3);
        const plan = planFor([a, c, d], []);
        // the same header set twice is one member; junk members are skipped
        plan.outputs.push(
          plan.outputs[0]!,
          { origin: "suite.p1", member: "not json" },
          { origin: "suite.p1", member: "[1]" },
        );
        await b.applyRoutePlan(plan);
        const outputs = await b.getOutputs();
        expect([...outputs.keys()].sort()).toEqual(["suite.p1", "suite.p:2"]);
        const sortByType = (sets: unknown[]) =>
          [...(sets as Record<string, string>[])].sort((x, y) =>
            String(x.type).localeCompare(String(y.type)),
          );
        expect(sortByType(outputs.get("suite.p1")!)).toEqual([
          { type: "config", origin: "suite.p1" },
          { type: "sample", origin: "suite.p1" },
        ]);
        expect(outputs.get("suite.p:2")).toEqual([{ type: "blob", origin: "suite.p:2" }]);
      });
    });

    describe("metrics", () => {
      it("increments and reads the five hashes", async () => {
        await b.incrementMetrics(KartonMetric.Consumed, ["suite.m", "suite.m", "suite.n"]);
        await b.incrementMetrics(KartonMetric.Produced, [""]);
        const metrics = await b.getMetrics();
        expect(Object.keys(metrics).sort()).toEqual(Object.values(KartonMetric).sort());
        expect(metrics[KartonMetric.Consumed]).toEqual({ "suite.m": 2, "suite.n": 1 });
        expect(metrics[KartonMetric.Produced]).toEqual({ "": 1 });
        expect(metrics[KartonMetric.GarbageCollected]).toEqual({});
      });
    });

    describe("logs", () => {
      it("delivers published records to matching subscriptions, decoding the task field", async () => {
        const all: LogMessage[] = [];
        const errors: LogMessage[] = [];
        const subAll = await b.subscribeLogs({}, (m) => all.push(m));
        const subErr = await b.subscribeLogs({ level: "error", identity: "suite.log*" }, (m) =>
          errors.push(m),
        );
        try {
          const task = newTask();
          const body = JSON.stringify({
            type: "log",
            name: "suite.logger",
            levelname: "INFO",
            message: "hello",
            task: serializeTask(task),
          });
          expect(await b.publishLog("INFO", "suite.logger", body)).toBeGreaterThanOrEqual(1);
          await b.publishLog(
            "ERROR",
            "suite.logger",
            JSON.stringify({ type: "log", levelname: "ERROR", message: "bad" }),
          );
          await b.publishLog(
            "ERROR",
            "other",
            JSON.stringify({ type: "log", levelname: "ERROR", message: "x" }),
          );
          await waitFor(() => all.length === 3 && errors.length === 1);
          expect(all[0]!.channel).toBe("karton.log.info.suite.logger");
          expect(all[0]!.body.message).toBe("hello");
          expect((all[0]!.body.task as Record<string, unknown>).uid).toBe(task.uid);
          expect(errors[0]!.channel).toBe("karton.log.error.suite.logger");
        } finally {
          await subAll.close();
          await subErr.close();
        }
        expect(await b.publishLog("INFO", "suite.logger", "{}")).toBe(0);
      });
    });

    describe("object store", () => {
      it("puts and gets buffers, files and streams", async () => {
        const o = b.objects;
        const dir = await mkdtemp(join(tmpdir(), "karton-suite-"));
        try {
          await o.putObject(t.bucket, "buf", Buffer.from("hello buffer"));
          const file = join(dir, "f.bin");
          const fileData = Buffer.alloc(300_000, 7);
          await writeFile(file, fileData);
          await o.putObject(t.bucket, "file", { path: file }, fileData.length);
          const streamData = Buffer.from("x".repeat(70_000));
          await o.putObject(
            t.bucket,
            "stream",
            Readable.from([streamData.subarray(0, 1000), streamData.subarray(1000)]),
          );
          expect((await readAll(await o.getObjectStream(t.bucket, "buf"))).toString()).toBe("hello buffer");
          expect((await readAll(await o.getObjectStream(t.bucket, "file"))).equals(fileData)).toBe(true);
          expect((await readAll(await o.getObjectStream(t.bucket, "stream"))).equals(streamData)).toBe(true);
          expect(await o.headObject(t.bucket, "file")).toBe(fileData.length);
          expect(await o.headObject(t.bucket, "missing")).toBeNull();
          if (o.getObjectRange) {
            expect((await readAll(await o.getObjectRange(t.bucket, "buf", 6, 12))).toString()).toBe("buffer");
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });

      it("reports a missing object as RESOURCE_NOT_FOUND naming bucket and key", async () => {
        const err = await b.objects.getObjectStream(t.bucket, "no-such-key").then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ResourceError);
        expect((err as ResourceError).code).toBe("RESOURCE_NOT_FOUND");
        expect((err as Error).message).toContain(t.bucket);
        expect((err as Error).message).toContain("no-such-key");
      });

      it("lists versions of every object and deletes them", async () => {
        const o = b.objects;
        const keys = Array.from({ length: 5 }, (_, i) => `k${i}`);
        for (const key of keys) await o.putObject(t.bucket, key, Buffer.from(key));
        const versions = await o.listObjectVersions(t.bucket);
        expect([...versions.keys()].sort()).toEqual(keys);
        for (const ids of versions.values()) expect(ids.length).toBeGreaterThanOrEqual(1);
        const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
        await o.deleteObjects(t.bucket, entries.slice(0, 3));
        expect([...(await o.listObjectVersions(t.bucket)).keys()].sort()).toEqual(keys.slice(3));
        await o.deleteObjects(t.bucket, [{ key: "k3" }, { key: "k4" }]);
        expect((await o.listObjectVersions(t.bucket)).size).toBe(0);
      });

      it("checks and creates buckets", async () => {
        expect(await b.objects.bucketExists(t.bucket)).toBe(true);
        const other = `${t.bucket.slice(0, 50)}-new`;
        expect(await b.objects.bucketExists(other)).toBe(false);
        await b.objects.createBucket(other);
        try {
          expect(await b.objects.bucketExists(other)).toBe(true);
        } finally {
          await (b.objects as { deleteBucket?: (x: string) => Promise<void> }).deleteBucket?.(other);
        }
      });
    });
  });
}

/** Polls `cond` every 20 ms for up to `ms`. */
export async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}

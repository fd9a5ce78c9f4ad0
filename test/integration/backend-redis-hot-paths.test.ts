/**
 * Redis backend operations added for throughput, on a real Redis: garbage collection that counts a
 * document once even when it is given twice (SCAN may return a key twice), scans without key
 * memory, one-step consumer claims (bind check + several claims + documents) and routing batches.
 */
import { Redis } from "ioredis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { newestClaims } from "../../src/backend/redis/scripts/newest-claims.js";
import { takeRoutingBatch } from "../../src/backend/redis/scripts/take-routing-batch.js";
import { KartonMetric } from "../../src/backend/types.js";
import { type Bind, serializeBind } from "../../src/bind/bind.js";
import { serializeTask } from "../../src/task/document.js";
import { Task } from "../../src/task/task.js";
import { noObjects } from "../backend/no-objects.js";
import { nextRedisDb, testServices } from "../helpers/services.js";

const services = testServices();
const db = nextRedisDb();
const redisOptions = {
  host: services.redis.host,
  port: services.redis.port,
  db,
  ssl: false,
  socketTimeout: 30,
};
const admin = new Redis({ host: services.redis.host, port: services.redis.port, db, lazyConnect: true });
const backends: RedisBackend[] = [];

function backend(): RedisBackend {
  const b = new RedisBackend({ redis: redisOptions, objects: noObjects });
  backends.push(b);
  return b;
}

function bind(identity: string): Bind {
  return {
    identity,
    filters: [{ type: "hot" }],
    info: null,
    version: "0.1.0",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
  };
}

beforeEach(async () => {
  await admin.flushdb();
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await admin.flushdb();
  admin.disconnect();
});

describe("garbage collection", () => {
  it("collectTasks deletes and counts each document once, even when given twice", async () => {
    const b = backend();
    const tasks = [new Task({ type: "hot" }), new Task({ type: "hot" })];
    await b.saveTasks(tasks);
    await b.collectTasks([
      { uid: tasks[0]!.uid, receiver: "r" },
      { uid: tasks[0]!.uid, receiver: "r" },
      { uid: tasks[1]!.uid, receiver: null },
      { uid: "gone", receiver: "r" },
    ]);
    expect(await b.getRawTasks(tasks.map((t) => t.uid))).toEqual([null, null]);
    expect((await b.getMetrics())[KartonMetric.GarbageCollected]).toEqual({ r: 1, unknown: 1 });
    // Again (a second collector): nothing left to count.
    await b.collectTasks([{ uid: tasks[0]!.uid, receiver: "r" }]);
    expect((await b.getMetrics())[KartonMetric.GarbageCollected]).toEqual({ r: 1, unknown: 1 });
  });

  it("scanTasks without `unique` yields every document", async () => {
    const b = backend();
    const tasks = Array.from({ length: 25 }, () => new Task({ type: "hot" }));
    await b.saveTasks(tasks);
    const seen: string[] = [];
    for await (const chunk of b.scanTasks({ chunkSize: 7, unique: false }))
      for (const t of chunk) seen.push(t.uid);
    expect(new Set(seen)).toEqual(new Set(tasks.map((t) => t.uid)));
  });
});

describe("consumer claims", () => {
  it("claimWithBind claims up to `max` tasks in priority order with their documents, only for the expected bind", async () => {
    const b = backend();
    await b.heartbeat("consumer", "hot.consumer", 30);
    await b.registerBind(bind("hot.consumer"));
    const expected = serializeBind(bind("hot.consumer"));
    const low = new Task({ type: "hot" }, { priority: "low" });
    const normal = [new Task({ type: "hot" }), new Task({ type: "hot" })];
    const high = new Task({ type: "hot" }, { priority: "high" });
    await b.saveTasks([low, ...normal, high]);
    await admin.rpush("karton.queue.low:hot.consumer", low.uid);
    await admin.rpush("karton.queue.normal:hot.consumer", ...normal.map((t) => t.uid));
    await admin.rpush("karton.queue.high:hot.consumer", high.uid);

    const wrong = await b.claimWithBind("hot.consumer", `${expected} `, 0, 10);
    expect(wrong).toEqual({ bind: expected, claimed: [] });

    const first = await b.claimWithBind("hot.consumer", expected, 0, 3);
    expect(first.bind).toBe(expected);
    expect(first.claimed.map((c) => c.uid)).toEqual([high.uid, normal[0]!.uid, normal[1]!.uid]);
    expect(first.claimed[0]!.raw).toBe(serializeTask(high));
    const rest = await b.claimWithBind("hot.consumer", expected, 0, 3);
    expect(rest.claimed.map((c) => c.uid)).toEqual([low.uid]);
    expect(await admin.lrange(`karton.ts.claims:${b.instanceId}`, 0, -1)).toHaveLength(4);

    const none = await b.claimWithBind("hot.consumer", expected, 0.2, 3);
    expect(none.claimed).toEqual([]);
    await admin.hdel("karton.binds", "hot.consumer");
    expect(await b.claimWithBind("hot.consumer", expected, 0, 1)).toEqual({ bind: null, claimed: [] });
  });

  it("claimWithBind waits for a task pushed while it blocks", async () => {
    const b = backend();
    await b.heartbeat("consumer", "hot.consumer", 30);
    await b.registerBind(bind("hot.consumer"));
    const task = new Task({ type: "hot" });
    await b.saveTasks([task]);
    setTimeout(() => void admin.rpush("karton.queue.normal:hot.consumer", task.uid), 150);
    const result = await b.claimWithBind("hot.consumer", serializeBind(bind("hot.consumer")), 3, 4);
    expect(result.claimed).toEqual([{ uid: task.uid, raw: serializeTask(task) }]);
  });
});

describe("blocking claims", () => {
  it("the read behind a blocking claim returns the newest claims with their documents", async () => {
    const claims = "karton.ts.claims:test-instance";
    await admin.rpush(claims, "old-1", "old-2", "new-1", "new-2");
    await admin.set("karton.task:new-2", '{"uid": "new-2"}');
    const reply = (await admin.eval(newestClaims.lua, 1, claims, 2)) as [string[], (string | null)[]];
    expect(reply).toEqual([
      ["new-1", "new-2"],
      [null, '{"uid": "new-2"}'],
    ]);
  });
});

describe("routing batches", () => {
  it("takeRoutingBatch returns the taken uids, their documents and the binds, and hands an unapplied batch out again", async () => {
    const b = backend();
    await b.registerBind(bind("hot.consumer"));
    const tasks = [new Task({ type: "hot" }), new Task({ type: "hot" })];
    await b.saveTasks(tasks);
    await admin.rpush("karton.tasks", tasks[0]!.uid, "no-document", tasks[1]!.uid);
    const batch = await b.takeRoutingBatch(10, 1);
    expect(batch.taken).toEqual([tasks[0]!.uid, "no-document", tasks[1]!.uid]);
    expect(batch.raws).toEqual([serializeTask(tasks[0]!), null, serializeTask(tasks[1]!)]);
    expect(batch.binds.binds.map((x) => x.identity)).toEqual(["hot.consumer"]);
    // Not applied: handed out again, documents read again.
    const again = await b.takeRoutingBatch(10, 0);
    expect(again.taken).toEqual(batch.taken);
    expect(again.raws).toEqual(batch.raws);
  });

  it("a take waiting on an empty karton.tasks returns what arrives, with the documents, in one batch", async () => {
    const b = backend();
    await b.registerBind(bind("hot.consumer"));
    const tasks = [new Task({ type: "hot" }), new Task({ type: "hot" }), new Task({ type: "hot" })];
    await b.saveTasks(tasks);
    expect((await b.takeRoutingBatch(10, 0.2)).taken).toEqual([]);
    setTimeout(() => void admin.rpush("karton.tasks", ...tasks.map((t) => t.uid)), 150);
    const batch = await b.takeRoutingBatch(2, 2);
    expect(batch.taken).toEqual([tasks[0]!.uid, tasks[1]!.uid]);
    expect(batch.raws).toEqual([serializeTask(tasks[0]!), serializeTask(tasks[1]!)]);
    expect(batch.binds.binds.map((x) => x.identity)).toEqual(["hot.consumer"]);
    expect(await admin.lrange("karton.tasks", 0, -1)).toEqual([tasks[2]!.uid]);
  });

  it('the take sent behind a BLMOVE ("*") leaves out the uids of a batch being applied', async () => {
    const routing = "karton.ts.routing:test-instance";
    await admin.rpush(routing, "applying-1", "waited-for", "applying-2");
    await admin.rpush("karton.tasks", "next-1", "next-2");
    const keys = ["karton.tasks", routing, "karton.binds"];
    const reply = (await admin.eval(
      takeRoutingBatch.lua,
      3,
      ...keys,
      1,
      "",
      "*",
      "applying-1",
      "applying-2",
    )) as [string[], unknown[], string, string[]];
    expect(reply[0]).toEqual(["waited-for", "next-1"]);
    expect(await admin.lrange(routing, 0, -1)).toEqual(["applying-1", "waited-for", "applying-2", "next-1"]);
    expect(await admin.lrange("karton.tasks", 0, -1)).toEqual(["next-2"]);
  });

  it("after a take that emptied karton.tasks the next one waits at once, and still gets what came meanwhile", async () => {
    const b = backend();
    const tasks = Array.from({ length: 5 }, () => new Task({ type: "hot" }));
    await b.saveTasks(tasks);
    const uids = tasks.map((t) => t.uid);
    const apply = (taken: string[]) =>
      b.applyRoutePlan({ taken, finished: [], forks: [], outputs: [], outputsTtl: null, quarantined: [] });
    /** The take's scripts and BLMOVEs, in the order Redis saw them. */
    const commandsOf = async (
      take: () => Promise<string[]>,
    ): Promise<{ taken: string[]; commands: string[] }> => {
      const monitor = await admin.duplicate().monitor();
      const commands: string[] = [];
      monitor.on("monitor", (_time: string, args: string[], _source: string, database: string) => {
        const name = (args[0] ?? "").toUpperCase();
        if (database === String(db)) commands.push(name.startsWith("EVAL") ? "script" : name);
      });
      const taken = await take();
      await admin.ping(); // MONITOR shows commands in order: once this shows, the take's have
      for (let i = 0; i < 50 && !commands.includes("PING"); i++) await new Promise((r) => setTimeout(r, 20));
      monitor.disconnect();
      return { taken, commands: commands.filter((c) => c === "script" || c === "BLMOVE") };
    };
    // A full batch (2 of 3): the next take looks first without waiting.
    await admin.rpush("karton.tasks", uids[0]!, uids[1]!, uids[2]!);
    const full = await b.takeRoutingBatch(2, 1);
    expect(full.taken).toEqual([uids[0], uids[1]]);
    await apply(full.taken);
    const rest = await commandsOf(async () => (await b.takeRoutingBatch(2, 1)).taken);
    expect(rest.taken).toEqual([uids[2]]);
    expect(rest.commands).toEqual(["script"]);
    await apply(rest.taken);
    // That take emptied karton.tasks: the next one starts with the BLMOVE, the take behind it.
    await admin.rpush("karton.tasks", uids[3]!, uids[4]!);
    const waited = await commandsOf(async () => (await b.takeRoutingBatch(10, 1)).taken);
    expect(waited.taken).toEqual([uids[3], uids[4]]);
    expect(waited.commands).toEqual(["BLMOVE", "script"]);
  });

  it("the binds come with a take only when they changed since the router's last take", async () => {
    const b = backend();
    await b.registerBind(bind("hot.one"));
    const first = await b.takeRoutingBatch(10, 0);
    expect(first.binds.binds.map((x) => x.identity)).toEqual(["hot.one"]);
    // Unchanged: the script leaves them out and the router keeps the snapshot it holds.
    const keys = ["karton.tasks", "karton.ts.routing:digest-test", "karton.binds"];
    const full = (await admin.eval(takeRoutingBatch.lua, 3, ...keys, 1, "")) as unknown[];
    expect(full).toHaveLength(4);
    const digest = full[2] as string;
    expect(digest).toMatch(/^[0-9a-f]{40}$/);
    expect((await admin.eval(takeRoutingBatch.lua, 3, ...keys, 1, digest)) as unknown[]).toHaveLength(3);
    const second = await b.takeRoutingBatch(10, 0);
    expect(second.binds).toBe(first.binds);
    // Changed by a writer that only does HSET (as Python's register_bind): sent again, at once.
    await admin.hset("karton.binds", "hot.two", serializeBind(bind("hot.two")));
    const third = await b.takeRoutingBatch(10, 0);
    expect(third.binds.binds.map((x) => x.identity).sort()).toEqual(["hot.one", "hot.two"]);
    await admin.hset(
      "karton.binds",
      "hot.two",
      serializeBind({ ...bind("hot.two"), filters: [{ type: "other" }] }),
    );
    const fourth = await b.takeRoutingBatch(10, 0);
    const two = fourth.binds.binds.find((x) => x.identity === "hot.two");
    expect(two?.filters).toEqual([{ type: "other" }]);
    await admin.hdel("karton.binds", "hot.one", "hot.two");
    expect((await b.takeRoutingBatch(10, 0)).binds.binds).toEqual([]);
  });
});

/**
 * What the Redis backend writes, compared with what Python karton-core 5.9.1 wrote (golden
 * fixtures): bind values byte for byte, task documents byte for byte, key types, metrics as decimal
 * strings, outputs sets with their TTL, and client names in CLIENT LIST.
 */
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clientName } from "../../src/backend/redis/connection.js";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { KartonMetric } from "../../src/backend/types.js";
import { parseBind } from "../../src/bind/bind.js";
import { isJsonObject } from "../../src/json/values.js";
import { parseTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { noObjects } from "../backend/no-objects.js";
import { newTask, planFor } from "../backend/suite.js";
import { findCapturedValues, listFixtures, readFixtureJson } from "../helpers/fixtures.js";
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

let admin: Redis;
const open: RedisBackend[] = [];
function backend(name?: string): RedisBackend {
  const b = new RedisBackend({
    redis: redisOptions,
    objects: noObjects,
    ...(name ? { clientName: name } : {}),
  });
  open.push(b);
  return b;
}

beforeEach(async () => {
  admin = new Redis({ ...redisOptions, lazyConnect: true });
  await admin.flushdb();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
  await admin.quit();
});

describe("binds", () => {
  const binds = findCapturedValues(readFixtureJson("binds/binds.json")).filter(
    (v) => v.entry.redis_key === "karton.binds",
  );

  it("are written byte-identical to Python's values", async () => {
    expect(binds.length).toBeGreaterThanOrEqual(5);
    const b = backend();
    for (const captured of binds) {
      const identity = String(captured.entry.hash_field);
      await b.registerBind(parseBind(identity, captured.raw));
      expect(await admin.hget("karton.binds", identity)).toBe(captured.raw);
    }
  });

  it("written by Python are all readable, in HGETALL order", async () => {
    for (const captured of binds)
      await admin.hset("karton.binds", String(captured.entry.hash_field), captured.raw);
    const snapshot = await backend().getBinds();
    expect(snapshot.invalid).toEqual([]);
    const order = ((await admin.call("HGETALL", "karton.binds")) as string[]).filter((_, i) => i % 2 === 0);
    expect(order.sort()).toEqual(binds.map((c) => String(c.entry.hash_field)).sort());
    expect(snapshot.binds.map((x) => x.identity)).toEqual(
      ((await admin.call("HGETALL", "karton.binds")) as string[]).filter((_, i) => i % 2 === 0),
    );
  });
});

describe("task documents", () => {
  const captured = listFixtures("tasks", "json").flatMap((file) =>
    findCapturedValues(readFixtureJson(file)).map((v) => ({ ...v, file })),
  );

  it("re-written from Python's documents are byte-identical (except the int-key quirk of 11)", async () => {
    const b = backend();
    let compared = 0;
    for (const value of captured) {
      if (!String(value.entry.redis_key ?? "").startsWith("karton.task:")) continue;
      const task = parseTask(value.raw, { storage: noObjects });
      await b.saveTasks([task]);
      const written = await admin.get(String(value.entry.redis_key));
      // The declared special-values task has a dict with integer keys, which Python sorts as numbers
      // before turning them into strings; every re-serialisation (Python's router too) changes it.
      if (value.file.includes("11-special-values") && value.label?.includes("Declared")) {
        expect(written).not.toBe(value.raw);
      } else {
        expect(written, `${value.file} ${value.label}`).toBe(value.raw);
      }
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(15);
  });
});

describe("keys and values after one producer → router → consumer flow", () => {
  it("have Python's names, types and value shapes, plus only karton.ts.* extensions", async () => {
    const producer = backend("fixture.producer");
    const router = backend(clientName("karton.system", { extended: true, serviceVersion: "0.1.0" }));
    const consumer = backend("fixture.consumer");
    await Promise.all([producer.ping(), router.ping(), consumer.ping()]);

    const task = newTask({ type: "sample", kind: "raw" });
    await producer.declareTask(task);
    await producer.enqueueUnrouted(task, "fixture.producer");
    await router.heartbeat("router", "karton.system", 30);
    expect(await router.takeUnrouted(100, 1)).toEqual([task.uid]);
    const plan = planFor([task], ["fixture.consumer"], { outputsTtl: 2592000 });
    plan.outputs = [
      { origin: "suite.producer", member: '{"kind": "raw", "origin": "suite.producer", "type": "sample"}' },
    ];
    await router.applyRoutePlan(plan);

    const fork = plan.forks[0]!.task;
    expect(await admin.type("karton.tasks")).toBe("none"); // emptied list disappears, as in Python
    expect(await admin.lrange("karton.queue.normal:fixture.consumer", 0, -1)).toEqual([fork.uid]);
    expect(await admin.smembers("karton.outputs:suite.producer")).toEqual([plan.outputs[0]!.member]);
    const ttl = await admin.ttl("karton.outputs:suite.producer");
    expect(ttl).toBeGreaterThan(2591990);
    expect(ttl).toBeLessThanOrEqual(2592000);

    await consumer.heartbeat("consumer", "fixture.consumer", 30);
    expect(await consumer.claimTask("fixture.consumer", 1)).toBe(fork.uid);
    const running = (await consumer.getTask(fork.uid))!;
    await consumer.setTaskStatus(running, TaskState.Started);
    running.setStatus(TaskState.Finished);
    await consumer.completeClaimed(running, "fixture.consumer", [KartonMetric.Consumed]);

    const all = (await admin.keys("*")).sort();
    const shared = all.filter((k) => !k.startsWith("karton.ts."));
    expect(shared).toEqual(
      [
        "karton.metrics.assigned",
        "karton.metrics.consumed",
        "karton.metrics.produced",
        "karton.outputs:suite.producer",
        `karton.task:${fork.uid}`,
        `karton.task:${task.uid}`,
      ].sort(),
    );
    for (const key of shared) {
      const type = await admin.type(key);
      if (key.startsWith("karton.metrics.")) expect(type).toBe("hash");
      else if (key.startsWith("karton.outputs:")) expect(type).toBe("set");
      else expect(type).toBe("string");
    }
    expect(await admin.hgetall("karton.metrics.produced")).toEqual({ "fixture.producer": "1" });
    expect(await admin.hgetall("karton.metrics.assigned")).toEqual({ "fixture.consumer": "1" });
    expect(await admin.hgetall("karton.metrics.consumed")).toEqual({ "fixture.consumer": "1" });

    // Documents: Python's twelve keys, sorted, Python separators.
    const fixtureFork = findCapturedValues(readFixtureJson("tasks/02-routed-forks.json"))[1]!;
    const keyOrder = (raw: string) =>
      [...raw.matchAll(/"([a-z_]+)": /g)].map((m) => m[1]).filter((k) => k !== undefined);
    const forkRaw = (await admin.get(`karton.task:${fork.uid}`))!;
    const topLevel = (raw: string) => {
      const doc = JSON.parse(raw) as Record<string, unknown>;
      return Object.keys(doc);
    };
    expect(topLevel(forkRaw)).toEqual(topLevel(fixtureFork.raw));
    expect(forkRaw.startsWith('{"error": null, "headers": {')).toBe(true);
    expect(keyOrder(forkRaw).slice(0, 2)).toEqual(["error", "headers"]);
    const finished = parseTask((await admin.get(`karton.task:${task.uid}`))!);
    expect(finished.status).toBe(TaskState.Finished);
    const done = parseTask(forkRaw);
    expect(done.status).toBe(TaskState.Finished);
    expect(done.headers.receiver).toBe("fixture.consumer");
    expect(isJsonObject(JSON.parse(forkRaw).payload_persistent.__headers_persistent)).toBe(true);

    // Extension keys: only karton.ts.* and nothing of this flow left claimed.
    expect(await admin.llen(`karton.ts.claims:${consumer.instanceId}`)).toBe(0);
    expect(await admin.llen(`karton.ts.routing:${router.instanceId}`)).toBe(0);
  });
});

describe("CLIENT LIST", () => {
  it("shows one named connection per backend; blocking connections unnamed; log subscriber named on request", async () => {
    const consumer = backend("fixture.consumer");
    await consumer.ping();
    await consumer.heartbeat("consumer", "fixture.consumer", 30);
    expect(await consumer.claimTask("fixture.consumer", 0.2)).toBeNull(); // opens the blocking connection
    const logName = clientName("fixture.log-consumer", { extended: true })!;
    const logs = backend();
    const sub = await logs.subscribeLogs({}, () => {}, { clientName: logName });
    try {
      const clients = await consumer.onlineClients();
      const names = clients.map((c) => c.name);
      expect(names.filter((n) => n === "fixture.consumer")).toHaveLength(1);
      expect(names.filter((n) => n === logName)).toHaveLength(1);
      const log = clients.find((c) => c.name === logName)!;
      expect(log.identity).toBe("fixture.log-consumer");
      expect(log.params.karton_version).toBeDefined();
      const raw = (await admin.call("CLIENT", "LIST")) as string;
      const line = raw.split("\n").find((l) => l.includes(`name=${logName} `))!;
      expect(line).toMatch(/ flags=P /);
      expect(line).toMatch(/ psub=1 /);
      expect(line).toMatch(/ cmd=psubscribe /);
    } finally {
      await sub.close();
    }
  });
});

/**
 * The command sequence of a TS producer and a TS routing batch, captured with Redis MONITOR, against
 * the MONITOR trace of Python karton-core 5.9.1 (trace/monitor-full-flow.json):
 * SET of a task before its RPUSH on karton.tasks, SET of every fork before its queue RPUSH, one
 * HINCRBY assigned per fork, the original marked Finished, same key names and value shapes.
 * Commands on karton.ts.* keys and the pop mechanism (BLMOVE/LMOVE instead of BLPOP/LRANGE+LTRIM,
 * docs/adr/002-atomic-claims.md) are the documented differences and are left out of the comparison.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { stringify } from "../../src/json/index.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { noObjects } from "../backend/no-objects.js";
import { forkFor } from "../backend/suite.js";
import { readFixtureText } from "../helpers/fixtures.js";
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

interface TraceCommand {
  actor: string;
  db: number;
  args: string[];
}

const WRITES = new Set(["SET", "MSET", "RPUSH", "LPUSH", "HINCRBY", "SADD", "EXPIRE", "DEL", "HSET", "HDEL"]);
const UID = /\{[0-9a-f-]{36}\}:[0-9a-f-]{36}/g;

/** A task document reduced to what must match: its key list and status. */
function docShape(text: string): string | null {
  if (!text.startsWith("{")) return null;
  try {
    const doc = JSON.parse(text.replace(/\bNaN\b|-?Infinity\b/g, "0")) as Record<string, unknown>;
    if (!("uid" in doc) || !("status" in doc)) return null;
    return `<doc ${String(doc.status)} ${Object.keys(doc).join(",")}>`;
  } catch {
    return null;
  }
}

/** Command with uids and documents replaced by placeholders. */
function shape(args: string[]): string {
  return args.map((a) => docShape(a) ?? a.replace(UID, "<uid>")).join(" ");
}

/** Writes on shared (non-extension) keys, in order. */
function sharedWrites(commands: string[][]): string[][] {
  return commands.filter((args) => {
    const name = args[0]!.toUpperCase();
    if (!WRITES.has(name)) return false;
    return !(args[1] ?? "").startsWith("karton.ts.");
  });
}

let admin: Redis;
let monitor: Redis;
const seen: string[][] = [];
const backends: RedisBackend[] = [];

beforeAll(async () => {
  admin = new Redis({ ...redisOptions, lazyConnect: true });
  await admin.flushdb();
  monitor = await admin.duplicate().monitor();
  monitor.on("monitor", (_time: string, args: string[], _source: string, database: string) => {
    // Clients send command names in any case; Redis runs them case-insensitively.
    if (Number(database) === db) seen.push([args[0]!.toUpperCase(), ...args.slice(1)]);
  });
});

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  monitor?.disconnect();
  await admin?.quit();
});

describe("MONITOR trace of a producer and a routing batch", () => {
  it("orders and shapes the writes like Python karton-core 5.9.1", async () => {
    const producer = new RedisBackend({
      redis: redisOptions,
      objects: noObjects,
      clientName: "fixture.producer",
    });
    const router = new RedisBackend({
      redis: redisOptions,
      objects: noObjects,
      clientName: "karton.system?karton_version=0.1.0",
    });
    backends.push(producer, router);
    await producer.ping();
    await router.ping();
    await router.heartbeat("router", "karton.system", 30);
    seen.length = 0;

    // Producer: SET (Declared), [upload], RPUSH karton.tasks, HINCRBY produced.
    const task = new Task({ kind: "raw", origin: "fixture.producer", type: "sample" }, { payload: { n: 1 } });
    await producer.declareTask(task);
    await producer.enqueueUnrouted(task, "fixture.producer");

    // Router: one batch routed to one consumer.
    expect(await router.takeUnrouted(100, 1)).toEqual([task.uid]);
    const fork = forkFor(task, "fixture.trace-consumer");
    const finished = new Task(task.headers, { uid: task.uid, rootUid: task.rootUid, payload: task.payload });
    finished.setStatus(TaskState.Finished);
    await router.applyRoutePlan({
      taken: [task.uid],
      finished: [finished],
      forks: [{ task: fork, identity: "fixture.trace-consumer", priority: fork.priority }],
      outputs: [{ origin: "fixture.producer", member: stringify(task.headers, { sortKeys: false }) }],
      outputsTtl: 2592000,
      quarantined: [],
    });
    const deadline = Date.now() + 3000;
    while (!seen.some((a) => a[0]?.toUpperCase() === "MSET") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }

    const ours = sharedWrites(seen);
    const idx = (pred: (a: string[]) => boolean) => ours.findIndex(pred);
    const setTask = idx((a) => a[0] === "SET" && a[1] === `karton.task:${task.uid}`);
    const pushTask = idx((a) => a[0] === "RPUSH" && a[1] === "karton.tasks" && a[2] === task.uid);
    const produced = idx((a) => a[0] === "HINCRBY" && a[1] === "karton.metrics.produced");
    const setFork = idx((a) => a[0] === "SET" && a[1] === `karton.task:${fork.uid}`);
    const pushFork = idx((a) => a[0] === "RPUSH" && a[1] === "karton.queue.normal:fixture.trace-consumer");
    const assigned = idx((a) => a[0] === "HINCRBY" && a[1] === "karton.metrics.assigned");
    const mset = idx((a) => a[0] === "MSET" && a[1] === `karton.task:${task.uid}`);
    expect(setTask).toBeGreaterThanOrEqual(0);
    expect(setTask).toBeLessThan(pushTask);
    expect(pushTask).toBeLessThan(produced);
    expect(setFork).toBeGreaterThan(produced);
    expect(setFork).toBeLessThan(pushFork);
    expect(ours[pushFork]![2]).toBe(fork.uid);
    expect(ours[assigned]).toEqual(["HINCRBY", "karton.metrics.assigned", "fixture.trace-consumer", "1"]);
    expect(ours.filter((a) => a[1] === "karton.metrics.assigned")).toHaveLength(1);
    expect(docShape(ours[mset]![2]!)).toMatch(/^<doc Finished /);

    // The same writes, in the same order and shapes, as Python's producer and first routing batch.
    const trace = JSON.parse(readFixtureText("trace/monitor-full-flow.json")) as { commands: TraceCommand[] };
    const python = trace.commands.filter(
      (c) => c.actor === "fixture.producer" || c.actor === "karton.system",
    );
    const firstSet = python.findIndex((c) => c.args[0] === "SET");
    const firstMset = python.findIndex((c) => c.args[0] === "MSET");
    const pythonWrites = sharedWrites(python.slice(firstSet, firstMset + 1).map((c) => c.args));
    expect(ours.map(shape)).toEqual(pythonWrites.map(shape));
  });
});

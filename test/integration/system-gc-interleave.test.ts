/**
 * The incremental GC does not stop routing: a task sent while a pass over many documents is in
 * progress is routed before the pass ends (karton-system in-process, real Redis and S3).
 */
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../../src/config/config.js";
import { SystemService } from "../../src/system/system-service.js";
import { parseTask, serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const services = testServices();
let db: number;
let bucket: string;
let admin: Redis;
let objects: S3ObjectStore;
let system: SystemService | undefined;
let running: Promise<number> | undefined;

beforeEach(async () => {
  db = nextRedisDb();
  admin = new Redis({ host: services.redis.host, port: services.redis.port, db });
  await admin.flushdb();
  objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  bucket = uniqueName("sysgc");
  await objects.createBucket(bucket);
});

afterEach(async () => {
  system?.stop();
  if (running) await running;
  await system?.close();
  system = undefined;
  running = undefined;
  await objects.deleteBucket(bucket);
  await admin.flushdb();
  admin.disconnect();
});

async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("incremental garbage collection", () => {
  it("routes tasks between GC steps while a pass over 60,000 documents is in progress", async () => {
    const N = 60_000;
    for (let i = 0; i < N; i += 5000) {
      const pipe = admin.pipeline();
      for (let j = i; j < i + 5000; j++) {
        const task = new Task({ type: "kept", receiver: "c.kept" }, { status: TaskState.Spawned });
        pipe.set(`karton.task:${task.uid}`, serializeTask(task));
      }
      await pipe.exec();
    }
    await admin.hset(
      "karton.binds",
      "c.live",
      '{"filters": [{"type": "live"}], "info": null, "is_async": false, "persistent": true, "service_version": null, "version": "5.9.1"}',
    );
    const config = KartonConfig.fromDict({
      redis: { host: services.redis.host, port: String(services.redis.port), db: String(db) },
      s3: {
        address: services.s3.address,
        access_key: services.s3.accessKey,
        secret_key: services.s3.secretKey,
        bucket,
      },
      logging: { level: "DEBUG" },
      system: { gc_interval: "1" },
    });
    system = new SystemService({ config });
    const events: string[] = [];
    system.log.addHandler({
      handle: (record) => {
        if (record.message === "GC: pass started") events.push("gc-start");
        else if (record.message.startsWith("GC: pass done")) events.push("gc-done");
      },
    });
    running = system.serve({ handleSignals: false });
    await waitUntil(() => events.includes("gc-start"), 20_000, "a GC pass");

    const task = new Task({ type: "live", origin: "p" });
    await admin.set(`karton.task:${task.uid}`, serializeTask(task));
    await admin.rpush("karton.tasks", task.uid);
    await waitUntil(
      async () =>
        parseTask((await admin.get(`karton.task:${task.uid}`)) as string).status === TaskState.Finished,
      20_000,
      "the task routed",
    );
    events.push("routed");
    await waitUntil(() => events.includes("gc-done"), 60_000, "the end of the pass");
    expect(events.slice(0, 3)).toEqual(["gc-start", "routed", "gc-done"]);
    expect(await admin.llen("karton.queue.normal:c.live")).toBe(1);
  }, 120_000);
});

/**
 * Compatibility of the Redis command sequence of one routed task with the Python trace
 * (trace/monitor-full-flow.json): karton-system runs in-process, a separate connection runs MONITOR.
 *
 * Documented difference: Python pops with BLPOP + MULTI LRANGE/LTRIM and writes with a plain
 * pipeline per task plus an MSET; karton-ts takes with BLMOVE/LMOVE into a claim list and applies the
 * batch with one script. The relative order of the writes is the same: outputs (SADD, EXPIRE), then
 * per fork SET before RPUSH and HINCRBY assigned, then the original written Finished.
 */
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../../src/config/config.js";
import type { JsonObject, JsonValue } from "../../src/json/index.js";
import { SystemService } from "../../src/system/system-service.js";
import { parseTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { readFixtureJson } from "../helpers/fixtures.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const services = testServices();

interface Command {
  args: string[];
  source: string;
}

let db: number;
let bucket: string;
let admin: Redis;
let monitorConn: Redis;
let objects: S3ObjectStore;
let producer: RedisBackend;
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
  bucket = uniqueName("sysmon");
  await objects.createBucket(bucket);
  producer = new RedisBackend({
    redis: { host: services.redis.host, port: services.redis.port, db, ssl: false, socketTimeout: 30 },
    objects,
    defaultBucket: bucket,
    clientName: "test.producer",
  });
});

afterEach(async () => {
  system?.stop();
  if (running) await running;
  await system?.close();
  system = undefined;
  running = undefined;
  monitorConn?.disconnect();
  await producer.close();
  await objects.deleteBucket(bucket);
  await admin.flushdb();
  admin.disconnect();
});

function startSystem(): void {
  const config = KartonConfig.fromDict({
    redis: { host: services.redis.host, port: String(services.redis.port), db: String(db) },
    s3: {
      address: services.s3.address,
      access_key: services.s3.accessKey,
      secret_key: services.s3.secretKey,
      bucket,
    },
    logging: { level: "WARNING" },
    system: { enable_gc: "false" },
  });
  system = new SystemService({ config });
  running = system.serve({ handleSignals: false });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Index of the first command at or after `from` satisfying `pred` (-1 if none). */
function find(commands: Command[], pred: (c: Command) => boolean, from = 0): number {
  for (let i = from; i < commands.length; i++) if (pred(commands[i] as Command)) return i;
  return -1;
}

describe("karton-system command sequence vs the Python 5.9.1 trace", () => {
  it("writes a routed task in Python's order (fork SET before RPUSH, HINCRBY assigned, original Finished)", async () => {
    // The order Python's router used in the captured flow, for the write commands of one task.
    const trace = (readFixtureJson("trace/monitor-full-flow.json") as JsonObject).commands as JsonObject[];
    const pythonRouter = trace
      .filter((c) => c.actor === "karton.system")
      .map((c) => (c.args as JsonValue[])[0] as string);
    const start = pythonRouter.indexOf("MGET");
    const pythonWrites = pythonRouter
      .slice(start, pythonRouter.indexOf("MSET", start) + 1)
      .filter((name) => ["SADD", "EXPIRE", "SET", "RPUSH", "HINCRBY", "MSET"].includes(name));
    expect(pythonWrites).toEqual(["SADD", "EXPIRE", "SET", "RPUSH", "HINCRBY", "MSET"]);

    await producer.registerBind({
      identity: "fixture.trace-consumer",
      filters: [{ type: "sample", kind: "raw" }],
      info: null,
      version: "5.9.1",
      persistent: true,
      serviceVersion: null,
      isAsync: false,
    });
    startSystem();
    await waitUntil(async () => (await admin.hlen("karton.ts.instances")) > 0, 10_000, "router registered");

    const commands: Command[] = [];
    monitorConn = new Redis({ host: services.redis.host, port: services.redis.port });
    const monitor = await monitorConn.monitor();
    monitor.on("monitor", (_time: string, args: string[], source: string, database: string) => {
      if (database === String(db)) commands.push({ args, source });
    });

    const task = new Task({ type: "sample", kind: "raw", origin: "fixture.producer" });
    await producer.declareTask(task);
    await producer.enqueueUnrouted(task, "fixture.producer");
    const key = `karton.task:${task.uid}`;
    await waitUntil(
      async () => parseTask((await admin.get(key)) as string).status === TaskState.Finished,
      10_000,
      "original Finished",
    );
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();

    const names = commands.map((c) => c.args[0]?.toUpperCase());
    // Taken with BLMOVE/LMOVE into the claim list, never popped.
    const take = find(
      commands,
      (c) => ["BLMOVE", "LMOVE"].includes((c.args[0] ?? "").toUpperCase()) && c.args[1] === "karton.tasks",
    );
    expect(take).toBeGreaterThanOrEqual(0);
    expect(names).not.toContain("BLPOP");
    expect(names).not.toContain("LPOP");

    const mget = find(commands, (c) => c.args[0]?.toUpperCase() === "MGET" && c.args.includes(key), take);
    expect(commands[take]?.args[2]).toMatch(/^karton\.ts\.routing:/);
    expect(mget).toBeGreaterThan(take);
    const hgetall = find(
      commands,
      (c) => c.args[0]?.toUpperCase() === "HGETALL" && c.args[1] === "karton.binds",
    );
    expect(hgetall).toBeGreaterThan(take);

    const member = '{"kind": "raw", "origin": "fixture.producer", "type": "sample"}';
    const sadd = find(
      commands,
      (c) => c.args[0] === "SADD" && c.args[1] === "karton.outputs:fixture.producer",
    );
    expect(commands[sadd]?.args[2]).toBe(member);
    const expire = find(commands, (c) => c.args[0] === "EXPIRE", sadd);
    expect(commands[expire]?.args.slice(1)).toEqual(["karton.outputs:fixture.producer", "2592000"]);
    const forkSet = find(
      commands,
      (c) => c.args[0] === "SET" && c.args[1]?.startsWith("karton.task:") === true && c.args[1] !== key,
      expire,
    );
    expect(forkSet).toBeGreaterThan(expire);
    const forkUid = String(commands[forkSet]?.args[1]).slice("karton.task:".length);
    const fork = parseTask(commands[forkSet]?.args[2] as string, { decodeResources: false });
    expect(fork).toMatchObject({ uid: forkUid, origUid: task.uid, status: TaskState.Spawned });
    expect(fork.headers.receiver).toBe("fixture.trace-consumer");
    const rpush = find(commands, (c) => c.args[0] === "RPUSH", forkSet);
    expect(commands[rpush]?.args.slice(1)).toEqual(["karton.queue.normal:fixture.trace-consumer", forkUid]);
    const hincr = find(commands, (c) => c.args[0] === "HINCRBY", rpush);
    expect(commands[hincr]?.args.slice(1)).toEqual([
      "karton.metrics.assigned",
      "fixture.trace-consumer",
      "1",
    ]);
    // Python writes the originals with one MSET at the end of the batch; so do we (inside the script).
    const finished = find(
      commands,
      (c) => ["SET", "MSET"].includes((c.args[0] ?? "").toUpperCase()) && c.args[1] === key,
      hincr,
    );
    expect(finished).toBeGreaterThan(hincr);
    expect(parseTask(commands[finished]?.args[2] as string).status).toBe(TaskState.Finished);
    // The routing writes run inside one script (atomic batch).
    for (const i of [sadd, expire, forkSet, rpush, hincr, finished]) expect(commands[i]?.source).toBe("lua");
  });
});

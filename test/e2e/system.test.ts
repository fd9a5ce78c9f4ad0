/**
 * karton-system as a real child process (`node --import tsx src/system/main.ts`) against a real Redis
 * and a real S3 server (Ceph RGW): routing, GC, timeouts, non-persistent cleanup, the bucket check,
 * SIGKILL in the middle of routing, bad data, and recovery of dead consumers' claims.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import type { Bind } from "../../src/bind/bind.js";
import type { JsonObject } from "../../src/json/index.js";
import { parseTask, serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { nowSeconds, Task } from "../../src/task/task.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const services = testServices();

// ---- helpers ------------------------------------------------------------------------------------

class SystemProcess {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  #buffer = "";

  constructor(readonly proc: ChildProcess) {
    const onData = (chunk: Buffer) => {
      this.#buffer += chunk.toString("utf8");
      const lines = this.#buffer.split("\n");
      this.#buffer = lines.pop() ?? "";
      this.output.push(...lines);
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
  }

  get text(): string {
    return [...this.output, this.#buffer].join("\n");
  }

  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    await waitUntil(() => pattern.test(this.text), timeoutMs, `output matching ${pattern}:\n${this.text}`);
  }

  /** SIGINT (graceful) and the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill("SIGINT");
    return await this.exited;
  }
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function bind(identity: string, filters: JsonObject[], persistent = true): Bind {
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

interface Env {
  db: number;
  bucket: string;
  admin: Redis;
  objects: S3ObjectStore;
  backend: RedisBackend;
  dir: string;
  children: SystemProcess[];
  extraBackends: RedisBackend[];
}

let env: Env;

beforeEach(async () => {
  const db = nextRedisDb();
  const admin = new Redis({ host: services.redis.host, port: services.redis.port, db });
  await admin.flushdb();
  const objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  const bucket = uniqueName("sys");
  await objects.createBucket(bucket);
  env = {
    db,
    bucket,
    admin,
    objects,
    backend: newBackend(db, objects, bucket, "test.producer"),
    dir: mkdtempSync(join(tmpdir(), "karton-system-e2e-")),
    children: [],
    extraBackends: [],
  };
});

afterEach(async () => {
  for (const child of env.children) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill("SIGKILL");
      await child.exited;
    }
  }
  await Promise.all(env.extraBackends.map((b) => b.close()));
  await env.backend.close();
  const versions = await env.objects.listObjectVersions(env.bucket);
  const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
  if (entries.length > 0) await env.objects.deleteObjects(env.bucket, entries);
  await env.objects.deleteBucket(env.bucket);
  await env.admin.flushdb();
  env.admin.disconnect();
  rmSync(env.dir, { recursive: true, force: true });
});

function newBackend(db: number, objects: S3ObjectStore, bucket: string, clientName?: string): RedisBackend {
  return new RedisBackend({
    redis: { host: services.redis.host, port: services.redis.port, db, ssl: false, socketTimeout: 30 },
    objects,
    defaultBucket: bucket,
    ...(clientName ? { clientName } : {}),
  });
}

function iniFile(system: Record<string, string | number | boolean> = {}, bucket = env.bucket): string {
  const lines = [
    "[redis]",
    `host = ${services.redis.host}`,
    `port = ${services.redis.port}`,
    `db = ${env.db}`,
    "[s3]",
    `address = ${services.s3.address}`,
    `access_key = ${services.s3.accessKey}`,
    `secret_key = ${services.s3.secretKey}`,
    `bucket = ${bucket}`,
    "[system]",
    ...Object.entries(system).map(([k, v]) => `${k} = ${String(v)}`),
  ];
  const path = join(env.dir, `karton-${uniqueName("ini")}.ini`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function startSystem(args: string[], ini = iniFile()): SystemProcess {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KARTON_")) childEnv[k] = v;
  childEnv.NODE_NO_WARNINGS = "1";
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", "src/system/main.ts", "--config-file", ini, ...args],
    {
      cwd: REPO,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const child = new SystemProcess(proc);
  env.children.push(child);
  return child;
}

async function send(headers: JsonObject, payload: JsonObject = {}): Promise<string> {
  const task = new Task({ ...headers, origin: "test.producer" }, { payload: payload as never });
  await env.backend.declareTask(task);
  await env.backend.enqueueUnrouted(task, "test.producer");
  return task.uid;
}

async function allTasks(): Promise<Task[]> {
  const keys = await env.admin.keys("karton.task:*");
  if (keys.length === 0) return [];
  const raws = await env.admin.mget(...keys);
  const tasks: Task[] = [];
  for (const raw of raws) {
    if (raw === null) continue;
    try {
      tasks.push(parseTask(raw, { decodeResources: false }));
    } catch {
      // malformed documents planted by a test
    }
  }
  return tasks;
}

async function statusOf(uid: string): Promise<TaskState | null> {
  const raw = await env.admin.get(`karton.task:${uid}`);
  return raw === null ? null : parseTask(raw, { decodeResources: false }).status;
}

/** Stores a task document as is (GC tests). */
async function store(task: Task): Promise<string> {
  await env.admin.set(`karton.task:${task.uid}`, serializeTask(task));
  return task.uid;
}

function aged(
  status: TaskState,
  ageSeconds: number,
  headers: JsonObject = { type: "x" },
  payload = {},
): Task {
  return new Task(headers, { status, lastUpdate: nowSeconds() - ageSeconds, payload: payload as never });
}

function marker(uid: string, bucket: string): JsonObject {
  return {
    __karton_resource__: {
      bucket,
      flags: [],
      metadata: { sha256: null },
      name: `${uid}.bin`,
      sha256: null,
      size: 3,
      uid,
    },
  };
}

async function routingDone(): Promise<boolean> {
  if ((await env.admin.llen("karton.tasks")) > 0) return false;
  const lists = await env.admin.keys("karton.ts.*rout*");
  for (const key of lists)
    if ((await env.admin.type(key)) === "list" && (await env.admin.llen(key)) > 0) return false;
  return true;
}

// ---- tests --------------------------------------------------------------------------------------

describe("karton-system routing", () => {
  it("routes every task to every matching consumer and only those (wildcards, negation, $-queries)", async () => {
    await env.backend.registerBind(bind("c.exact", [{ type: "sample", kind: "raw" }]));
    await env.backend.registerBind(bind("c.wildcard", [{ type: "sample", platform: "win*" }]));
    await env.backend.registerBind(bind("c.negation", [{ type: "sample", kind: "!runnable" }]));
    await env.backend.registerBind(
      bind("c.query", [{ type: "sample", size: { $gt: 1000 }, $or: [{ kind: "raw" }, { kind: "dump" }] }]),
    );
    await env.backend.registerBind(bind("c.none", [{ type: "other" }]));
    const a = await send({ type: "sample", kind: "raw", size: 5000 });
    const b = await send({ type: "sample", kind: "runnable", platform: "win32" });
    const c = await send({ type: "sample", kind: "dump", size: 10, platform: "linux" });
    const d = await send({ type: "nothing" });
    const expected: Record<string, string[]> = {
      [a]: ["c.exact", "c.negation", "c.query"],
      [b]: ["c.wildcard"],
      [c]: ["c.negation"],
      [d]: [],
    };

    const system = startSystem([]);
    await system.waitFor(/Manager karton\.system started/);
    await waitUntil(
      async () => (await Promise.all([a, b, c, d].map(statusOf))).every((s) => s === TaskState.Finished),
      20_000,
      "originals Finished",
    );
    const tasks = await allTasks();
    for (const [orig, identities] of Object.entries(expected)) {
      const forks = tasks.filter((t) => t.origUid === orig);
      expect(forks.map((f) => f.headers.receiver).sort(), orig).toEqual(identities);
      for (const fork of forks) {
        expect(fork.status).toBe(TaskState.Spawned);
        expect(await env.admin.lrange(`karton.queue.normal:${fork.headers.receiver}`, 0, -1)).toContain(
          fork.uid,
        );
      }
    }
    expect(await env.admin.llen("karton.tasks")).toBe(0);
    expect(await env.admin.hgetall("karton.metrics.assigned")).toEqual({
      "c.exact": "1",
      "c.negation": "2",
      "c.query": "1",
      "c.wildcard": "1",
    });
    const members = await env.admin.smembers("karton.outputs:test.producer");
    // Python's json.dumps(headers) without sorting: the stored (sorted) order, Python separators.
    expect(members).toContain('{"kind": "raw", "origin": "test.producer", "size": 5000, "type": "sample"}');
    expect(await env.admin.ttl("karton.outputs:test.producer")).toBeGreaterThan(2591000);
    const root = parseTask((await env.admin.get(`karton.task:${a}`)) as string);
    expect(system.text).toContain(`[${root.rootUid}] Processing task ${root.rootUid}`);
    expect(await system.stop()).toBe(0);
    expect(system.text).toContain("Got signal, shutting down...");
  });

  it("logs and quarantines a malformed document and a broken bind, and routes every other task", async () => {
    await env.backend.registerBind(bind("c.good", [{ type: "sample" }]));
    await env.admin.hset("karton.binds", "c.unreadable", "{oops");
    await env.admin.hset(
      "karton.binds",
      "c.badfilter",
      '{"filters": [{"type": "sample", "kind": {"$in": 5}}], "info": null, "is_async": false, "persistent": true, "service_version": null, "version": "5.9.1"}',
    );
    const first = await send({ type: "sample", kind: "raw" });
    await env.admin.set("karton.task:{bad}:bad", "{not json at all");
    await env.admin.rpush("karton.tasks", "{bad}:bad");
    const second = await send({ type: "sample", kind: "raw" });
    const system = startSystem([]);
    await waitUntil(
      async () =>
        (await statusOf(first)) === TaskState.Finished && (await statusOf(second)) === TaskState.Finished,
      20_000,
      "good tasks routed",
    );
    const forks = (await allTasks()).filter((t) => t.origUid === first || t.origUid === second);
    expect(forks.map((f) => f.headers.receiver)).toEqual(["c.good", "c.good"]);
    await waitUntil(
      async () => (await env.backend.listQuarantine()).length >= 3,
      10_000,
      "quarantine records",
    );
    const records = await env.backend.listQuarantine();
    const subjects = records.map((r) => `${r.kind}:${r.subject}`).sort();
    expect(subjects).toEqual(["bind:c.badfilter", "bind:c.unreadable", "task:{bad}:bad"]);
    expect(records.find((r) => r.subject === "{bad}:bad")?.raw).toBe("{not json at all");
    expect(system.text).toMatch(/ERROR.*\{bad\}:bad/);
    expect(system.text).toMatch(/ERROR.*c\.unreadable/);
    expect(system.text).toMatch(/ERROR.*c\.badfilter/);
    // Still alive and routing.
    const third = await send({ type: "sample", kind: "raw" });
    await waitUntil(async () => (await statusOf(third)) === TaskState.Finished, 10_000, "third task routed");
    expect(await system.stop()).toBe(0);
  });

  it("routes every task exactly once when the router is SIGKILLed mid-way and restarted", async () => {
    const N = 5000;
    await env.backend.registerBind(bind("c.all", [{ type: "bulk" }]));
    await env.backend.registerBind(bind("c.never", [{ type: "nope" }]));
    const uids: string[] = [];
    const pipe = env.admin.pipeline();
    for (let i = 0; i < N; i++) {
      const task = new Task({ type: "bulk", n: i, origin: "test.producer" });
      uids.push(task.uid);
      pipe.set(`karton.task:${task.uid}`, serializeTask(task));
    }
    pipe.rpush("karton.tasks", ...uids);
    await pipe.exec();

    const first = startSystem(["--disable-gc", "--task-claim-timeout", "3", "--log-level", "DEBUG"]);
    await waitUntil(async () => (await env.admin.llen("karton.tasks")) < N - 300, 30_000, "routing progress");
    first.proc.kill("SIGKILL");
    await first.exited;
    const left = await env.admin.llen("karton.tasks");
    expect(left).toBeGreaterThan(0); // killed mid-way

    const second = startSystem(["--disable-gc", "--task-claim-timeout", "3"]);
    await waitUntil(routingDone, 60_000, "all tasks routed");
    await waitUntil(
      async () => (await env.admin.llen("karton.queue.normal:c.all")) >= N,
      30_000,
      "all forks queued",
    );
    const tasks = await allTasks();
    const forksPer = new Map<string, number>();
    for (const t of tasks)
      if (t.origUid !== null) forksPer.set(t.origUid, (forksPer.get(t.origUid) ?? 0) + 1);
    const wrong = uids.filter((u) => forksPer.get(u) !== 1);
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(await env.admin.llen("karton.queue.normal:c.all")).toBe(N);
    const originals = tasks.filter((t) => t.origUid === null);
    expect(originals.every((t) => t.status === TaskState.Finished)).toBe(true);
    expect(await env.admin.hget("karton.metrics.assigned", "c.all")).toBe(String(N));
    expect(await second.stop()).toBe(0);
  }, 120_000);
});

describe("karton-system garbage collection", () => {
  it("removes finished tasks and unreferenced S3 objects, keeps referenced ones", async () => {
    const { bucket, objects } = env;
    await objects.putObject(bucket, "ref-obj", Buffer.from("ref"));
    await objects.putObject(bucket, "ref-deep", Buffer.from("abc"));
    await objects.putObject(bucket, "orphan-obj", Buffer.from("orp"));
    const kept = await store(
      aged(TaskState.Spawned, 5, { type: "x", receiver: "c" }, { sample: marker("ref-obj", bucket) }),
    );
    const keptCrashed = aged(TaskState.Crashed, 5, { type: "x", receiver: "c" });
    keptCrashed.payloadPersistent.deep = { list: [marker("ref-deep", bucket)] } as never;
    await store(keptCrashed);
    const finished = await store(aged(TaskState.Finished, 5, { type: "x", receiver: "c" }));
    const finishedRoot = await store(aged(TaskState.Finished, 5, { type: "x" }));

    const system = startSystem(["--gc-interval", "1", "--disable-router"]);
    await waitUntil(
      async () => (await env.objects.headObject(bucket, "orphan-obj")) === null,
      20_000,
      "orphan object deleted",
    );
    expect(await env.admin.exists(`karton.task:${finished}`, `karton.task:${finishedRoot}`)).toBe(0);
    expect(await env.admin.exists(`karton.task:${kept}`, `karton.task:${keptCrashed.uid}`)).toBe(2);
    expect(await objects.headObject(bucket, "ref-obj")).toBe(3);
    expect(await objects.headObject(bucket, "ref-deep")).toBe(3);
    expect(await env.admin.hgetall("karton.metrics.garbage-collected")).toEqual({ c: "1", unknown: "1" });
    expect(await system.stop()).toBe(0);
  });

  it("deletes unversioned objects with an explicit 'null' version id with enable_null_version_deletion", async () => {
    await env.objects.putObject(env.bucket, "orphan-null", Buffer.from("abc"));
    expect((await env.objects.listObjectVersions(env.bucket)).get("orphan-null")).toEqual(["null"]);
    const system = startSystem(
      ["--gc-interval", "1", "--disable-router"],
      iniFile({ enable_null_version_deletion: "true" }),
    );
    await system.waitFor(/enable_null_version_deletion:\tTrue/);
    await waitUntil(
      async () => (await env.objects.headObject(env.bucket, "orphan-null")) === null,
      20_000,
      "object deleted",
    );
    expect(await system.stop()).toBe(0);
  });

  it("applies the timeouts: crash (or delete) Started, delete old Crashed and orphaned Declared", async () => {
    const started = await store(aged(TaskState.Started, 30, { type: "x", receiver: "c.s" }));
    const freshStarted = await store(aged(TaskState.Started, 0, { type: "x", receiver: "c.s" }));
    const oldCrashed = await store(aged(TaskState.Crashed, 30, { type: "x", receiver: "c.c" }));
    const orphan = await store(aged(TaskState.Declared, 30));
    const queued = await store(aged(TaskState.Declared, 30));
    await env.admin.rpush("karton.tasks", queued);
    const ancientSpawned = await store(aged(TaskState.Spawned, 10_000_000, { type: "x", receiver: "c.s" }));

    const args = ["--gc-interval", "1", "--disable-router", "--task-started-timeout", "10"];
    const timeouts = [...args, "--task-crashed-timeout", "10", "--task-dispatched-timeout", "10"];
    const system = startSystem([...timeouts, "--crash-started-task-on-timeout"]);
    await waitUntil(async () => (await statusOf(started)) === TaskState.Crashed, 20_000, "Started crashed");
    const crashed = parseTask((await env.admin.get(`karton.task:${started}`)) as string);
    expect(crashed.error).toEqual([
      "This task was STARTED too long (TASK_STARTED_TIMEOUT), so status was changes to CRASHED.",
    ]);
    await waitUntil(async () => (await statusOf(oldCrashed)) === null, 10_000, "old Crashed deleted");
    expect(await statusOf(orphan)).toBeNull();
    expect(await statusOf(queued)).toBe(TaskState.Declared);
    expect(await statusOf(freshStarted)).toBe(TaskState.Started);
    expect(await statusOf(ancientSpawned)).toBe(TaskState.Spawned);
    expect(await env.admin.hgetall("karton.metrics.crashed")).toEqual({ "c.s": "1" });
    expect(await env.admin.hgetall("karton.metrics.garbage-collected")).toEqual({ "c.c": "1", unknown: "1" });
    expect(await system.stop()).toBe(0);

    // Without the crash option, a timed-out Started task is deleted.
    const another = await store(aged(TaskState.Started, 30, { type: "x", receiver: "c.s" }));
    const deleter = startSystem(timeouts);
    await waitUntil(async () => (await statusOf(another)) === null, 20_000, "Started deleted");
    expect(await deleter.stop()).toBe(0);
  });

  it("removes a non-persistent consumer's bind, queues and tasks once it has no connection", async () => {
    await env.backend.registerBind(bind("np.online", [{ type: "a" }], false));
    await env.backend.registerBind(bind("np.offline", [{ type: "a" }], false));
    await env.backend.registerBind(bind("p.offline", [{ type: "a" }], true));
    const consumer = new Redis({
      host: services.redis.host,
      port: services.redis.port,
      db: env.db,
      connectionName: "np.online",
    });
    await consumer.ping();
    const tasks: Record<string, string> = {};
    for (const identity of ["np.online", "np.offline", "p.offline"]) {
      tasks[identity] = await store(aged(TaskState.Spawned, 0, { type: "a", receiver: identity }));
      await env.admin.rpush(`karton.queue.normal:${identity}`, tasks[identity] as string);
      await env.admin.rpush(identity, "legacy");
    }
    const system = startSystem(["--gc-interval", "1", "--disable-router"]);
    await waitUntil(
      async () => !(await env.admin.hexists("karton.binds", "np.offline")),
      20_000,
      "bind removed",
    );
    expect(await env.admin.exists("np.offline", "karton.queue.normal:np.offline")).toBe(0);
    // The tasks are judged by a later step of the (incremental) pass than the binds.
    await waitUntil(
      async () => (await statusOf(tasks["np.offline"] as string)) === null,
      20_000,
      "task deleted",
    );
    expect(await env.admin.hexists("karton.binds", "np.online")).toBe(1);
    expect(await env.admin.hexists("karton.binds", "p.offline")).toBe(1);
    expect(await statusOf(tasks["p.offline"] as string)).toBe(TaskState.Spawned);
    expect(await statusOf(tasks["np.online"] as string)).toBe(TaskState.Spawned);

    consumer.disconnect();
    await waitUntil(
      async () => !(await env.admin.hexists("karton.binds", "np.online")),
      20_000,
      "online bind removed",
    );
    await waitUntil(
      async () => (await statusOf(tasks["np.online"] as string)) === null,
      10_000,
      "its task removed",
    );
    expect(await env.admin.exists("np.online", "karton.queue.normal:np.online")).toBe(0);
    expect(await env.admin.hget("karton.metrics.garbage-collected", "np.online")).toBe("1");
    expect(await system.stop()).toBe(0);
  });
});

describe("karton-system start-up", () => {
  it("refuses to start without the bucket (exit 1 with a clear message), creates it with --setup-bucket", async () => {
    const missing = uniqueName("missing");
    const system = startSystem([], iniFile({}, missing));
    expect(await system.exited).toBe(1);
    expect(system.text).toContain(
      `bucket ${missing} does not exist at ${services.s3.address}; create it or run karton-system --setup-bucket`,
    );
    expect(system.text).not.toContain("Manager karton.system started");

    const setup = startSystem(["--setup-bucket"], iniFile({}, missing));
    await setup.waitFor(/Manager karton\.system started/);
    expect(setup.text).toContain(`Bucket ${missing} was missing. Created a new one.`);
    expect(await env.objects.bucketExists(missing)).toBe(true);
    expect(await setup.stop()).toBe(0);
    await env.objects.deleteBucket(missing);
  });

  it("names its connection karton.system?karton_version=...&service_version=...", async () => {
    const system = startSystem([]);
    await system.waitFor(/Manager karton\.system started/);
    const list = (await env.admin.call("CLIENT", "LIST")) as string;
    expect(list).toMatch(/name=karton\.system\?karton_version=[^ &]+&service_version=[^ ]+ /);
    expect(await system.stop()).toBe(0);
  });
});

describe("karton-system recovery of dead consumers", () => {
  it("requeues a dead consumer's claim, and crashes the task after task_max_attempts", async () => {
    await env.backend.registerBind(bind("c.rec", [{ type: "rec" }]));
    const system = startSystem(["--disable-gc", "--task-claim-timeout", "4", "--task-max-attempts", "2"]);
    const orig = await send({ type: "rec" });
    await waitUntil(async () => (await env.admin.llen("karton.queue.normal:c.rec")) === 1, 20_000, "routed");

    const die = async (): Promise<string> => {
      const dead = newBackend(env.db, env.objects, env.bucket);
      env.extraBackends.push(dead);
      await dead.heartbeat("consumer", "c.rec", 1);
      const uid = await dead.claimTask("c.rec", 2);
      expect(uid).not.toBeNull();
      const task = (await dead.getTask(uid as string, { decodeResources: false })) as Task;
      await dead.setTaskStatus(task, TaskState.Started);
      return uid as string; // no more heartbeats: the instance "dies"
    };

    const uid = await die();
    expect((await allTasks()).find((t) => t.uid === uid)?.origUid).toBe(orig);
    await waitUntil(
      async () => (await env.admin.lrange("karton.queue.normal:c.rec", 0, -1)).includes(uid),
      20_000,
      "task requeued",
    );
    expect(await statusOf(uid)).toBe(TaskState.Spawned);
    expect(system.text).toMatch(new RegExp(`requeued for c\\.rec.*|${escapeRegExp(uid)}.*c\\.rec`));

    await die();
    await waitUntil(async () => (await statusOf(uid)) === TaskState.Crashed, 20_000, "task crashed");
    const crashed = parseTask((await env.admin.get(`karton.task:${uid}`)) as string, {
      decodeResources: false,
    });
    expect(crashed.error?.join("")).toMatch(
      /consumer c\.rec instance \S+ died while processing this task 2 times/,
    );
    expect(await env.admin.hget("karton.metrics.crashed", "c.rec")).toBe("1");
    expect(await env.admin.llen("karton.queue.normal:c.rec")).toBe(0);
    expect(await system.stop()).toBe(0);
  }, 60_000);
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

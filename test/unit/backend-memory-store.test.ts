/**
 * The embedded backend beyond the shared suite: Redis glob matching of log patterns, the store's
 * lists and TTLs, several handles sharing one store, close() releasing every timer, and selection
 * by configuration.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createBackend } from "../../src/backend/create-backend.js";
import {
  createEmbeddedBackend,
  DEFAULT_EMBEDDED_BUCKET,
  isEmbeddedBackendSelected,
} from "../../src/backend/memory/create-embedded-backend.js";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import { redisGlobMatch } from "../../src/backend/memory/redis-glob.js";
import { StoreList } from "../../src/backend/memory/store-list.js";
import { RedisBackend } from "../../src/backend/redis/redis-backend.js";
import { KartonMetric, type LogMessage } from "../../src/backend/types.js";
import { KartonConfig } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/errors.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { forkFor, newTask, planFor, waitFor } from "../backend/suite.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A fresh named store with `n` handles on it (closed after the test). */
function handles(n: number, names: string[] = []): { store: MemoryStore; backends: MemoryBackend[] } {
  const store = new MemoryStore(`test-${crypto.randomUUID()}`);
  const objects = LocalObjectStore.temporary("karton-memtest-");
  const backends = Array.from(
    { length: n },
    (_, i) => new MemoryBackend({ store, objects, defaultBucket: "karton", clientName: names[i] ?? "" }),
  );
  cleanups.push(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await objects.dispose();
  });
  return { store, backends };
}

describe("redis glob", () => {
  it.each([
    ["karton.log.*.*", "karton.log.info.karton.system", true],
    ["karton.log.error.*", "karton.log.info.x", false],
    ["karton.log.*.karton.clas?ifier", "karton.log.debug.karton.classifier", true],
    ["karton.log.*.karton.[a-c]*", "karton.log.info.karton.bar", true],
    ["karton.log.*.karton.[^a-c]*", "karton.log.info.karton.bar", false],
    ["karton.log.*.karton.[c-a]*", "karton.log.info.karton.bar", true],
    ["karton.log.*.a\\*b", "karton.log.info.a*b", true],
    ["karton.log.*.a\\*b", "karton.log.info.axb", false],
    ["karton.log.*.[\\]]", "karton.log.info.]", true],
    ["karton.log.*.[abc", "karton.log.info.a", true],
    ["*.system", "karton.log.info.karton.system", true],
    ["**", "anything", true],
    ["a*b*c", "abxbxc", true],
    ["a*b*c", "abxbx", false],
    ["exact", "exact", true],
    ["exact", "exactly", false],
  ])("%s vs %s", (pattern, text, expected) => {
    expect(redisGlobMatch(pattern, text)).toBe(expected);
  });

  it("gives up on pathological patterns instead of hanging", () => {
    const pattern = `${"*a".repeat(2000)}b`;
    expect(redisGlobMatch(pattern, "a".repeat(3000))).toBe(false);
  });
});

describe("store", () => {
  it("lists pop at both ends in O(1) and keep LRANGE/LTRIM semantics", () => {
    const list = new StoreList();
    for (let i = 0; i < 50_000; i++) list.pushRight(String(i));
    for (let i = 0; i < 30_000; i++) expect(list.popLeft()).toBe(String(i));
    for (let i = 0; i < 100; i++) list.pushLeft(`l${i}`);
    expect(list.length).toBe(20_100);
    expect(list.range(0, 1)).toEqual(["l99", "l98"]);
    expect(list.range(-2, -1)).toEqual(["49998", "49999"]);
    expect(list.popRight()).toBe("49999");
    list.trim(-3, -1);
    expect(list.range()).toEqual(["49996", "49997", "49998"]);
    expect(list.remove("49997")).toBe(1);
    expect(list.includes("49997")).toBe(false);
    expect(list.range(5, 10)).toEqual([]);
  });

  it("expires keys in real time, lazily", async () => {
    const store = new MemoryStore("ttl");
    store.set("a", "1", 50);
    store.sadd("s", "m");
    store.expire("s", 50);
    store.set("b", "2");
    expect(store.get("a")).toBe("1");
    expect(store.ttl("b")).toBe(-1);
    await sleep(80);
    expect(store.get("a")).toBeNull();
    expect(store.smembers("s")).toEqual([]);
    expect(store.size()).toBe(1);
    store.set("b", "3", 1000);
    store.set("b", "4");
    expect(store.ttl("b")).toBe(-1); // SET without PX clears the TTL, as in Redis
  });

  it("delivers published messages asynchronously, in order, to matching patterns only", async () => {
    const store = new MemoryStore("pubsub");
    const got: string[] = [];
    const off = store.psubscribe("karton.log.*.x", (channel, message) => got.push(`${channel}=${message}`));
    expect(store.publish("karton.log.info.x", "1")).toBe(1);
    expect(store.publish("karton.log.info.y", "2")).toBe(0);
    expect(store.publish("karton.log.error.x", "3")).toBe(1);
    expect(got).toEqual([]);
    await waitFor(() => got.length === 2);
    expect(got).toEqual(["karton.log.info.x=1", "karton.log.error.x=3"]);
    off();
    expect(store.publish("karton.log.info.x", "4")).toBe(0);
  });

  it("shares one store per name in the process registry", () => {
    const name = `shared-${crypto.randomUUID()}`;
    const a = MemoryStore.shared(name);
    expect(MemoryStore.shared(name)).toBe(a);
    MemoryStore.release(name);
    expect(MemoryStore.shared(name)).not.toBe(a);
    MemoryStore.release(name);
  });

  it("stores documents as text: no object is shared between handles", async () => {
    const { backends } = handles(2);
    const [a, b] = backends as [MemoryBackend, MemoryBackend];
    const task = newTask();
    await a.declareTask(task);
    const read1 = (await b.getTask(task.uid))!;
    read1.payload.n = 2;
    read1.headers.type = "changed";
    const read2 = (await b.getTask(task.uid))!;
    expect(read2.payload.n).toBe(1);
    expect(read2.headers.type).toBe("sample");
    task.payload.n = 3; // the producer's object is not the stored document either
    expect((await a.getTask(task.uid))!.payload.n).toBe(1);
  });
});

describe("handles sharing one store", () => {
  it("producer, router and consumer handles see one pipeline", async () => {
    const { backends } = handles(3, ["producer.x", "karton.system?karton_version=1.0", "consumer.x"]);
    const [producer, router, consumer] = backends as [MemoryBackend, MemoryBackend, MemoryBackend];
    await consumer.heartbeat("consumer", "consumer.x", 30);
    const claim = consumer.claimTask("consumer.x", 5);

    const task = newTask();
    await producer.declareTask(task);
    await producer.enqueueUnrouted(task, "producer.x");
    const taken = await router.takeUnrouted(10, 1);
    expect(taken).toEqual([task.uid]);
    const plan = planFor([task], ["consumer.x"]);
    await router.applyRoutePlan(plan);

    const uid = await claim;
    expect(uid).toBe(plan.forks[0]!.task.uid);
    const fork = (await consumer.getTask(uid!))!;
    fork.setStatus(TaskState.Finished);
    await consumer.completeClaimed(fork, "consumer.x", [KartonMetric.Consumed]);
    expect((await producer.getTask(uid!))!.status).toBe(TaskState.Finished);
    const metrics = await router.getMetrics();
    expect(metrics[KartonMetric.Produced]).toEqual({ "producer.x": 1 });
    expect(metrics[KartonMetric.Assigned]).toEqual({ "consumer.x": 1 });
    expect(metrics[KartonMetric.Consumed]).toEqual({ "consumer.x": 1 });

    const clients = await router.onlineClients();
    expect(clients.map((c) => c.name).sort()).toEqual(
      ["consumer.x", "karton.system?karton_version=1.0", "producer.x"].sort(),
    );
    const system = clients.find((c) => c.identity === "karton.system")!;
    expect(system.params).toEqual({ karton_version: "1.0" });
    await producer.close();
    expect((await router.onlineClients()).map((c) => c.identity).sort()).toEqual([
      "consumer.x",
      "karton.system",
    ]);
  });

  it("several waiting consumers of one identity each get a different task", async () => {
    const { backends } = handles(4);
    const [router, ...consumers] = backends as [MemoryBackend, ...MemoryBackend[]];
    for (const c of consumers) await c.heartbeat("consumer", "suite.many", 30);
    const claims = consumers.map((c) => c.claimTask("suite.many", 5));
    const tasks = [newTask(), newTask(), newTask()];
    for (const t of tasks) {
      await router.declareTask(t);
      await router.enqueueUnrouted(t, "p");
    }
    await router.takeUnrouted(10, 1);
    const plan = planFor(tasks, ["suite.many"]);
    await router.applyRoutePlan(plan);
    const got = await Promise.all(claims);
    expect(new Set(got)).toEqual(new Set(plan.forks.map((f) => f.task.uid)));
  });

  it("a log consumer's named subscription is an online client until closed", async () => {
    const { backends } = handles(1);
    const b = backends[0]!;
    const got: LogMessage[] = [];
    const sub = await b.subscribeLogs({ level: "info" }, (m) => got.push(m), {
      clientName: "logs.x?karton_version=1",
    });
    expect((await b.onlineClients()).map((c) => c.name)).toContain("logs.x?karton_version=1");
    await b.publishLog("INFO", "svc", JSON.stringify({ message: "hi" }));
    await b.publishLog("INFO", "svc", "not json");
    await waitFor(() => got.length === 1);
    await sub.close();
    expect((await b.onlineClients()).map((c) => c.name)).not.toContain("logs.x?karton_version=1");
  });

  it("restartTask and queueLengths", async () => {
    const { backends } = handles(1);
    const b = backends[0]!;
    const old = newTask();
    old.setStatus(TaskState.Crashed);
    const fork = forkFor(old, "suite.r");
    await b.restartTask(fork, old);
    expect(await b.queueLengths("suite.r")).toEqual({ bare: 0, high: 0, normal: 1, low: 0 });
    expect((await b.getTask(old.uid))!.status).toBe(TaskState.Finished);
    await b.heartbeat("consumer", "suite.r", 30);
    expect(await b.claimTask("suite.r", 0)).toBe(fork.uid);
    const orphan = new Task({ type: "x" });
    await expect(b.restartTask(orphan, old)).rejects.toThrow(/receiver/);
  });

  it("caps the quarantine and truncates huge values", async () => {
    const { backends, store } = handles(1);
    const b = backends[0]!;
    const raw = "x".repeat(70_000);
    await b.quarantine([{ subject: "s", kind: "task", reason: "r", raw, at: 1, reporter: "t" }]);
    const [record] = await b.listQuarantine(1);
    expect(record!.raw!.length).toBeLessThan(66_000);
    expect(record!.raw).toMatch(/truncated, 70000 chars/);
    const many = Array.from({ length: 10_050 }, (_, i) => ({
      subject: `s${i}`,
      kind: "task" as const,
      reason: "r",
      raw: null,
      at: i,
      reporter: "t",
    }));
    await b.quarantine(many);
    expect(store.llen("karton.ts.quarantine")).toBe(10_000);
    expect((await b.listQuarantine(1))[0]!.subject).toBe("s10049");
  });
});

describe("close()", () => {
  it("ends pending waits and subscriptions and leaves no timer behind", async () => {
    const before = timers();
    const { backends, store } = handles(1);
    const b = backends[0]!;
    await b.heartbeat("consumer", "suite.close", 30);
    const claim = b.claimTask("suite.close", 30);
    const take = b.takeUnrouted(10, 30);
    const sub = await b.subscribeLogs({}, () => {});
    await sleep(20);
    expect(store.waiting).toBe(2);
    expect(timers()).toBeGreaterThan(before);
    const t0 = Date.now();
    await b.close();
    expect(await claim).toBeNull();
    expect(await take).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(store.waiting).toBe(0);
    expect(store.subscriptions).toBe(0);
    expect(timers()).toBeLessThanOrEqual(before);
    await sub.close();
    await expect(b.getTask("x")).rejects.toThrow(/closed/);
    expect(await b.close()).toBeUndefined();
  });

  it("a timed-out wait leaves no timer and no waiter", async () => {
    const before = timers();
    const { backends, store } = handles(1);
    const b = backends[0]!;
    expect(await b.claimTask("suite.idle", 0.1)).toBeNull();
    expect(await b.takeUnrouted(5, 0.1)).toEqual([]);
    expect(store.waiting).toBe(0);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe("selection by configuration", () => {
  it("[karton] backend = embedded builds a MemoryBackend without [redis] or [s3]", async () => {
    const dir = await mkdtemp(join(tmpdir(), "karton-embedded-cfg-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const name = `cfg-${crypto.randomUUID()}`;
    cleanups.push(() => MemoryStore.release(name));
    const config = KartonConfig.fromDict({
      karton: { backend: "Embedded" },
      embedded: { name, storage_dir: join(dir, "objects") },
    });
    const events: string[] = [];
    const a = createBackend(config, {
      identity: "svc.a",
      clientName: "svc.a",
      onEvent: (e) => events.push(e.message),
    });
    const b = createBackend(config, { identity: "svc.b", clientName: "svc.b" });
    cleanups.push(() => a.close());
    cleanups.push(() => b.close());
    expect(a).toBeInstanceOf(MemoryBackend);
    expect((a as MemoryBackend).store).toBe(MemoryStore.shared(name));
    expect((b as MemoryBackend).store).toBe((a as MemoryBackend).store);
    expect(a.defaultBucket).toBe(DEFAULT_EMBEDDED_BUCKET);
    await a.ping();
    expect(await b.objects.bucketExists(DEFAULT_EMBEDDED_BUCKET)).toBe(true);
    await a.objects.putObject("karton", "k", Buffer.from("shared"));
    expect(await b.objects.headObject("karton", "k")).toBe(6);
    expect((a.objects as LocalObjectStore).root).toBe(join(dir, "objects"));
    // Warnings of the backend reach the service's handler.
    await a.claimTask("svc.a", 0);
    expect(events.join("\n")).toMatch(/before its first heartbeat/);
  });

  it("KARTON_KARTON_BACKEND=embedded selects it through the normal environment mapping", async () => {
    const dir = await mkdtemp(join(tmpdir(), "karton-embedded-env-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = KartonConfig.load({
      env: { KARTON_KARTON_BACKEND: "embedded", KARTON_S3_BUCKET: "my-bucket", HOME: dir },
      cwd: dir,
      homeDir: dir,
      etcDir: dir,
    });
    const backend = createBackend(config, { identity: "" });
    cleanups.push(() => backend.close());
    expect(backend).toBeInstanceOf(MemoryBackend);
    expect(backend.defaultBucket).toBe("my-bucket");
    // Without the embedded backend the [redis] and [s3] sections are required again.
    expect(() => KartonConfig.load({ env: {}, cwd: dir, homeDir: dir, etcDir: dir })).toThrow(ConfigError);
  });

  it("defaults to Redis and refuses unknown backends", async () => {
    const redisConfig = KartonConfig.fromDict({
      redis: { host: "127.0.0.1" },
      s3: { address: "http://127.0.0.1:1", access_key: "a", secret_key: "b", bucket: "k" },
    });
    expect(isEmbeddedBackendSelected(redisConfig)).toBe(false);
    const redis = createBackend(redisConfig, { identity: "" });
    expect(redis).toBeInstanceOf(RedisBackend);
    await redis.close();
    redisConfig.set("karton", "backend", "redis");
    expect(isEmbeddedBackendSelected(redisConfig)).toBe(false);
    expect(() =>
      createBackend(KartonConfig.fromDict({ karton: { backend: "etcd" } }), { identity: "" }),
    ).toThrow(/\[karton\] backend|backend/);
    expect(() => isEmbeddedBackendSelected(KartonConfig.fromDict({ karton: { backend: "etcd" } }))).toThrow(
      ConfigError,
    );
    // Plain option objects (tests) never select it.
    expect(isEmbeddedBackendSelected({ redisOptions: () => ({}), s3Options: () => ({}) })).toBe(false);
    const direct = createEmbeddedBackend({}, { identity: "" });
    cleanups.push(() => direct.close());
    expect(direct.store).toBe(MemoryStore.shared());
  });
});

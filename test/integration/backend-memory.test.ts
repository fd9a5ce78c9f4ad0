/**
 * "Zero setup to try": a whole pipeline — karton-system (router, GC, recovery), two Karton services,
 * a producer and a log consumer — in ONE process on the embedded backend, selected by configuration
 * only (`[karton] backend = embedded`). The service classes are plain Karton services: nothing in
 * them knows about the backend. No Redis, no S3.
 *
 * A child process checks that closing the handles lets Node exit by itself and that the temporary
 * object directory is removed at exit.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import { KartonMetric } from "../../src/backend/types.js";
import { type ConfigDict, KartonConfig } from "../../src/config/config.js";
import type { JsonObject } from "../../src/json/values.js";
import { Resource } from "../../src/resource/local-resource.js";
import type { Consumer } from "../../src/service/consumer.js";
import { Karton } from "../../src/service/karton.js";
import { LogConsumer, type LogEvent } from "../../src/service/log-consumer.js";
import { Producer } from "../../src/service/producer.js";
import { SystemService } from "../../src/system/system-service.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

// ---- ordinary services (identical to what would run on Redis + S3) -----------------------------

class Unpacker extends Karton {
  static override identity = "embedded.test.unpacker";
  static override filters: JsonObject[] = [{ type: "sample", kind: "packed" }];
  override async process(task: Task): Promise<void> {
    const packed = await task.getResource("sample").content();
    const unpacked = Buffer.from(packed.toString("utf8").toUpperCase());
    this.log.info(`unpacked ${packed.length} bytes`);
    await this.sendTask(
      new Task(
        { type: "sample", kind: "raw" },
        { payload: { sample: Resource.fromBytes("unpacked.bin", unpacked), parent_sha256: sha256(packed) } },
      ),
    );
  }
}

class Reporter extends Karton {
  static override identity = "embedded.test.reporter";
  static override filters: JsonObject[] = [{ type: "sample", kind: "raw" }];
  static seen: { uid: string; content: string; parent: unknown }[] = [];
  override async process(task: Task): Promise<void> {
    const content = (await task.getResource("sample").content()).toString("utf8");
    Reporter.seen.push({ uid: task.uid, content, parent: task.getPayload("parent_sha256") });
  }
}

class Crasher extends Karton {
  static override identity = "embedded.test.crasher";
  static override filters: JsonObject[] = [{ type: "crash" }];
  override async process(): Promise<void> {
    throw new Error("boom");
  }
}

class Collector extends LogConsumer {
  static override identity = "embedded.test.logs";
  static override level = "error";
  static events: LogEvent[] = [];
  override processLog(event: LogEvent): void {
    Collector.events.push(event);
  }
}

// ---- harness ------------------------------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function embeddedConfig(extra: ConfigDict = {}): Promise<() => KartonConfig> {
  const dir = await mkdtemp(join(tmpdir(), "karton-embedded-e2e-"));
  const name = `e2e-${crypto.randomUUID()}`;
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  cleanups.push(() => MemoryStore.release(name));
  return () => {
    const config = KartonConfig.fromDict({
      karton: { backend: "embedded" },
      embedded: { name, storage_dir: dir },
    });
    config.loadFromDict(extra);
    return config;
  };
}

function runConsumer(service: Consumer): void {
  const loop = service.loop({ handleSignals: false });
  cleanups.push(async () => {
    service.stop();
    await loop;
    await service.close();
  });
}

function runSystem(config: KartonConfig): SystemService {
  const system = new SystemService({
    config,
    tuning: { routerBlockSeconds: 0.2, recoveryIntervalSeconds: 1 },
  });
  const serving = system.serve({ handleSignals: false });
  cleanups.push(async () => {
    system.stop();
    expect(await serving).toBe(0);
    await system.close();
  });
  return system;
}

describe("embedded backend: a whole pipeline in one process", () => {
  it("routes, processes, chains and logs tasks with resources, then collects them", async () => {
    Reporter.seen = [];
    Collector.events = [];
    const config = await embeddedConfig({
      system: { gc_interval: 1, task_dispatched_timeout: 3600 },
    });
    const system = runSystem(config());
    expect(system.backend).toBeInstanceOf(MemoryBackend);
    const logs = new Collector({ config: config() });
    const logLoop = logs.loop({ handleSignals: false });
    cleanups.push(async () => {
      logs.stop();
      await logLoop;
      await logs.close();
    });
    runConsumer(new Unpacker({ config: config() }));
    runConsumer(new Reporter({ config: config() }));
    runConsumer(new Crasher({ config: config() }));

    const producer = new Producer({ config: config(), identity: "embedded.test.producer" });
    cleanups.push(() => producer.close());
    const binds = async () => (await producer.backend.getBinds()).binds.map((b) => b.identity).sort();
    await waitFor2(async () => (await binds()).length === 3);

    const packed = Buffer.from("hello embedded karton");
    const task = new Task(
      { type: "sample", kind: "packed" },
      { payload: { sample: Resource.fromBytes("p.bin", packed) } },
    );
    expect(await producer.sendTask(task)).toBe(true);
    await producer.sendTask(new Task({ type: "crash" }));

    await waitFor2(() => Reporter.seen.length === 1);
    expect(Reporter.seen[0]!.content).toBe("HELLO EMBEDDED KARTON");
    expect(Reporter.seen[0]!.parent).toBe(sha256(packed));
    const child = (await producer.backend.getTask(Reporter.seen[0]!.uid))!;
    expect(child.rootUid).toBe(task.rootUid);
    expect(child.headers.receiver).toBe("embedded.test.reporter");

    // The crash is logged at ERROR with its traceback, and delivered to the log consumer.
    await waitFor2(() => Collector.events.some((e) => e.name === "embedded.test.crasher"));
    const crashLog = Collector.events.find((e) => e.name === "embedded.test.crasher")!;
    expect(crashLog.levelname).toBe("ERROR");
    expect(String(crashLog.excText)).toContain("boom");
    expect((crashLog.task as Record<string, unknown>).headers).toMatchObject({ type: "crash" });
    expect(Collector.events.every((e) => e.levelname === "ERROR")).toBe(true);

    const metrics = await producer.backend.getMetrics();
    expect(metrics[KartonMetric.Produced]).toMatchObject({
      "embedded.test.producer": 2,
      "embedded.test.unpacker": 1,
    });
    expect(metrics[KartonMetric.Crashed]).toEqual({ "embedded.test.crasher": 1 });
    await waitFor2(async () => {
      const m = await producer.backend.getMetrics();
      return (m[KartonMetric.Consumed]?.["embedded.test.reporter"] ?? 0) === 1;
    });

    // The GC removes finished trees (and their objects) once the analysis is over.
    await waitFor2(async () => {
      const left: string[] = [];
      for await (const chunk of producer.backend.scanTasks({ rootUid: task.rootUid })) {
        for (const raw of chunk) left.push(raw.raw);
      }
      return left.length === 0;
    }, 15_000);
    await waitFor2(
      async () => (await producer.backend.objects.listObjectVersions("karton")).size === 0,
      15_000,
    );
    const online = (await producer.backend.onlineClients()).map((c) => c.identity);
    expect(online).toEqual(
      expect.arrayContaining([
        "karton.system",
        "embedded.test.unpacker",
        "embedded.test.reporter",
        "embedded.test.logs",
      ]),
    );
  });

  it("recovers the task of a consumer that vanished without releasing its claim", async () => {
    const config = await embeddedConfig({ system: { task_claim_timeout: 1 } });
    runSystem(config());
    const producer = new Producer({ config: config(), identity: "embedded.test.producer" });
    cleanups.push(() => producer.close());

    // A consumer handle that claims and then disappears (no completion, no retirement).
    const name = config().get("embedded", "name")!;
    const ghost = new MemoryBackend({ store: name });
    await ghost.registerBind({
      identity: "embedded.test.reporter",
      filters: [{ type: "sample", kind: "raw" }],
      info: null,
      version: "test",
      persistent: true,
      serviceVersion: null,
      isAsync: false,
    });
    await ghost.heartbeat("consumer", "embedded.test.reporter", 1);
    const task = new Task(
      { type: "sample", kind: "raw" },
      { payload: { sample: Resource.fromBytes("r", "recovered") } },
    );
    await producer.sendTask(task);
    const uid = await ghost.claimTask("embedded.test.reporter", 5);
    expect(uid).not.toBeNull();
    await ghost.close(); // the heartbeat expires after 1 s; karton-system requeues the claim

    Reporter.seen = [];
    runConsumer(new Reporter({ config: config() }));
    await waitFor2(() => Reporter.seen.length === 1, 15_000);
    expect(Reporter.seen[0]!.uid).toBe(uid);
    expect(Reporter.seen[0]!.content).toBe("recovered");
    expect(await producer.backend.getAttempts(uid!)).toBe(0);
    await waitFor2(async () => (await producer.backend.getTask(uid!))?.status === TaskState.Finished);
  });
});

describe("embedded backend: process lifetime", () => {
  it("closed handles let Node exit by itself; the temporary object directory is removed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "karton-embedded-exit-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const script = join(dir, "child.mts");
    const backendModule = resolve("src/backend/memory/memory-backend.ts");
    await writeFile(
      script,
      `
import { MemoryBackend } from ${JSON.stringify(backendModule)};
const a = new MemoryBackend({ store: "exit-test", defaultBucket: "karton", createDefaultBucket: true });
const b = new MemoryBackend({ store: "exit-test", clientName: "b" });
await a.ping();
await a.objects.putObject("karton", "k", Buffer.from("x"));
console.log("ROOT=" + (a.objects as { root: string }).root);
const claim = b.claimTask("svc", 60);
const take = a.takeUnrouted(10, 60);
const sub = await a.subscribeLogs({}, () => {});
void sub;
setTimeout(async () => {
  await a.close();
  await b.close();
  console.log("CLAIM=" + (await claim) + " TAKE=" + JSON.stringify(await take));
}, 100);
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: process.cwd() });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const started = Date.now();
    const code = await new Promise<number | null>((resolveExit, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`child did not exit by itself: ${out} ${err}`));
      }, 20_000);
      child.on("exit", (c) => {
        clearTimeout(timer);
        resolveExit(c);
      });
    });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(out).toContain("CLAIM=null TAKE=[]");
    expect(Date.now() - started).toBeLessThan(15_000);
    const root = /ROOT=(.*)/.exec(out)![1]!.trim();
    expect(root.startsWith(tmpdir())).toBe(true);
    expect(existsSync(root)).toBe(false);
  });
});

/** waitFor with an async condition. */
async function waitFor2(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

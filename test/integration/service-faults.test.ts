// Faults: a consumer process killed with SIGKILL, signals to a consumer process, Redis restarted
// under a running consumer.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Consumer } from "../../src/service/consumer.js";
import { Producer } from "../../src/service/producer.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";
import { testServices, uniqueName } from "../helpers/services.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const SLEEPER = join(REPO, "test/fixtures-ts/service-sleeper.ts");
/** tsx's loader by absolute URL: the child runs in a temporary cwd where `--import tsx` would not resolve. */
const TSX_LOADER = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;

let env: ServiceTestEnv | undefined;
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
/** Run after the env cleanup (servers the env's connections use). */
const finalCleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.length = 0;
  for (const c of cleanups.splice(0)) await c();
  await env?.cleanup();
  env = undefined;
  for (const c of finalCleanups.splice(0)) await c();
});

interface Sleeper {
  child: ChildProcess;
  output: string[];
  exit: Promise<number | null>;
}

/** Starts the sleeper consumer in a child process configured for `env` through KARTON_* variables. */
function startSleeper(e: ServiceTestEnv, identity: string, redisPort?: number): Sleeper {
  const services = testServices();
  const home = mkdtempSync(join(tmpdir(), "karton-home-"));
  cleanups.push(() => rmSync(home, { recursive: true, force: true }));
  const child = spawn(process.execPath, ["--import", TSX_LOADER, SLEEPER, "--identity", identity], {
    cwd: home,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      NO_COLOR: "1",
      KARTON_REDIS_HOST: services.redis.host,
      KARTON_REDIS_PORT: String(redisPort ?? services.redis.port),
      KARTON_REDIS_DB: String(e.db),
      KARTON_S3_ADDRESS: services.s3.address,
      KARTON_S3_ACCESS_KEY: services.s3.accessKey,
      KARTON_S3_SECRET_KEY: services.s3.secretKey,
      KARTON_S3_BUCKET: e.bucket,
      KARTON_SYSTEM_TASK_CLAIM_TIMEOUT: "2",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const output: string[] = [];
  child.stdout?.on("data", (d: Buffer) => output.push(...d.toString().split("\n").filter(Boolean)));
  const errors: string[] = [];
  child.stderr?.on("data", (d: Buffer) => errors.push(d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  cleanups.push(() => {
    if (process.env.KARTON_TEST_VERBOSE) process.stderr.write(errors.join(""));
  });
  return { child, output, exit };
}

async function sendSleep(e: ServiceTestEnv, sleepMs?: number): Promise<Task> {
  const producer = new Producer({ config: e.config(), identity: "fault.producer", backend: e.backend() });
  const task = new Task({ type: "sleep" }, { payload: sleepMs === undefined ? {} : { sleep_ms: sleepMs } });
  await producer.sendTask(task);
  return task;
}

async function startedUid(sleeper: Sleeper): Promise<string> {
  const line = await waitFor(
    "STARTED line",
    () => sleeper.output.find((l) => l.startsWith("STARTED ")),
    30_000,
  );
  return line.slice("STARTED ".length);
}

describe("consumer processes", () => {
  it("a consumer killed with SIGKILL in process() leaves its task claimed and recoverable", async () => {
    env = await serviceTestEnv();
    const identity = uniqueName("sleeper");
    const sleeper = startSleeper(env, identity);
    const admin = env.backend();
    await waitFor("bind", async () => (await admin.getBind(identity)) !== null, 30_000);
    await sendSleep(env);
    const uid = await startedUid(sleeper);
    expect((await admin.getTask(uid))?.status).toBe(TaskState.Started);
    expect(await admin.abandonedClaims()).toEqual([]);
    sleeper.child.kill("SIGKILL");
    await sleeper.exit;
    // After the heartbeat TTL (task_claim_timeout = 2 s) the claim is reported as abandoned.
    const abandoned = await waitFor(
      "abandoned claim",
      async () => (await admin.abandonedClaims()).find((a) => a.uids.includes(uid)),
      15_000,
    );
    expect(abandoned.kind).toBe("consumer");
    expect(abandoned.identity).toBe(identity);
    expect((await admin.getTask(uid))?.status).toBe(TaskState.Started);
  });

  it("SIGTERM lets the running task finish and exits 0; a second SIGTERM crashes it as interrupted", async () => {
    env = await serviceTestEnv();
    const admin = env.backend();
    const identity = uniqueName("sleeper");
    const graceful = startSleeper(env, identity);
    await waitFor("bind", async () => (await admin.getBind(identity)) !== null, 30_000);
    await sendSleep(env, 1500);
    const uid = await startedUid(graceful);
    graceful.child.kill("SIGTERM");
    expect(await graceful.exit).toBe(0);
    expect(graceful.output).toContain(`DONE ${uid}`);
    expect((await admin.getTask(uid))?.status).toBe(TaskState.Finished);
    expect(await admin.abandonedClaims()).toEqual([]);

    const forced = startSleeper(env, identity);
    await sendSleep(env);
    const uid2 = await startedUid(forced);
    forced.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    forced.child.kill("SIGTERM");
    expect(await forced.exit).toBe(0);
    const crashed = await admin.getTask(uid2);
    expect(crashed?.status).toBe(TaskState.Crashed);
    expect(crashed?.error?.at(-1)).toMatch(/^TaskInterruptedError: /);
  });

  it("exits 1 with a clear message when its bind is removed", async () => {
    env = await serviceTestEnv();
    const admin = env.backend();
    const identity = uniqueName("sleeper");
    const sleeper = startSleeper(env, identity);
    await waitFor("bind", async () => (await admin.getBind(identity)) !== null, 30_000);
    await admin.dropConsumer(identity);
    expect(await sleeper.exit).toBe(1);
  });
});

/** A free loopback TCP port. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function startRedis(port: number, dir: string): void {
  const bin = process.env.KARTON_TEST_REDIS_SERVER || "redis-server";
  const res = spawnSync(bin, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--daemonize",
    "yes",
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--dir",
    dir,
    "--pidfile",
    join(dir, "redis.pid"),
    "--logfile",
    join(dir, "redis.log"),
  ]);
  if (res.status !== 0) throw new Error(`redis-server failed: ${res.stderr?.toString()}`);
}

function stopRedis(port: number): void {
  spawnSync("redis-cli", ["-p", String(port), "shutdown", "nosave"]);
}

class Recorder extends Consumer {
  static override filters = [{ type: "restart" }];
  readonly seen: string[] = [];
  process(task: Task): void {
    this.seen.push(String(task.getPayload("n")));
  }
}

describe("Redis restart", () => {
  it("a running consumer reconnects and processes the next task", async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "karton-redis-"));
    startRedis(port, dir);
    finalCleanups.push(() => {
      stopRedis(port);
      rmSync(dir, { recursive: true, force: true });
    });
    await waitFor("redis up", () =>
      spawnSync("redis-cli", ["-p", String(port), "ping"])
        .stdout?.toString()
        .includes("PONG"),
    );
    env = await serviceTestEnv({ redisPort: port, extra: { logging: { level: "CRITICAL" } } });
    const identity = uniqueName("restart");
    const consumer = new Recorder({
      config: env.config(),
      identity,
      backend: env.backend(identity, identity),
    });
    const loop = consumer.loop({ handleSignals: false });
    cleanups.push(async () => {
      consumer.stop({ force: true });
      await loop.catch(() => undefined);
    });
    const producer = new Producer({
      config: env.config(),
      identity: "restart.producer",
      backend: env.backend(),
    });
    await waitFor("bind", async () => (await env?.backend().getBind(identity)) !== null);
    await producer.sendTask(new Task({ type: "restart" }, { payload: { n: 1 } }));
    await waitFor("first task", () => consumer.seen.length === 1);

    stopRedis(port);
    await new Promise((r) => setTimeout(r, 1500));
    startRedis(port, dir);
    await waitFor("redis back", () =>
      spawnSync("redis-cli", ["-p", String(port), "ping"])
        .stdout?.toString()
        .includes("PONG"),
    );

    const t0 = Date.now();
    await waitFor(
      "send after restart",
      async () => {
        try {
          return await producer.sendTask(new Task({ type: "restart" }, { payload: { n: 2 } }));
        } catch {
          return false;
        }
      },
      30_000,
    );
    const t1 = Date.now();
    await waitFor("second task", () => consumer.seen.includes("2"), 30_000);
    if (process.env.KARTON_TEST_VERBOSE)
      process.stderr.write(`send ${t1 - t0} ms, process ${Date.now() - t1} ms\n`);
    expect(consumer.running).toBe(true);
  });
});

/**
 * karton-system (a child process) survives a Redis restart: it logs the outage, keeps running and
 * routes what arrives afterwards; nothing taken before the restart is lost (AOF, fsync always).
 * Uses a private redis-server (KARTON_TEST_REDIS_SERVER) so the shared one is not disturbed.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { parseTask, serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { testServices, uniqueName } from "../helpers/services.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const services = testServices();
const REDIS_SERVER = process.env.KARTON_TEST_REDIS_SERVER || "redis-server";

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // server not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let dir: string;
let port: number;
let bucket: string;
let objects: S3ObjectStore;
const children: ChildProcess[] = [];

function startRedis(): void {
  execFileSync(REDIS_SERVER, [
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
}

function stopRedis(): void {
  try {
    execFileSync("redis-cli", ["-p", String(port), "shutdown", "nosave"], { stdio: "ignore" });
  } catch {
    // already gone
  }
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "karton-system-faults-"));
  port = await freePort();
  startRedis();
  objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  bucket = uniqueName("sysfault");
  await objects.createBucket(bucket);
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    }
  }
  stopRedis();
  await objects.deleteBucket(bucket);
  rmSync(dir, { recursive: true, force: true });
});

describe("karton-system and a Redis restart", () => {
  it("logs the outage, keeps running and routes tasks sent after Redis came back", async () => {
    const admin = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: null });
    admin.on("error", () => {});
    await admin.hset(
      "karton.binds",
      "c.any",
      '{"filters": [{"type": "t"}], "info": null, "is_async": false, "persistent": true, "service_version": null, "version": "5.9.1"}',
    );
    const send = async (): Promise<string> => {
      const task = new Task({ type: "t", origin: "p" });
      await admin.set(`karton.task:${task.uid}`, serializeTask(task));
      await admin.rpush("karton.tasks", task.uid);
      return task.uid;
    };
    const status = async (uid: string) =>
      parseTask((await admin.get(`karton.task:${uid}`)) as string, { decodeResources: false }).status;

    const ini = join(dir, "karton.ini");
    writeFileSync(
      ini,
      [
        "[redis]",
        "host = 127.0.0.1",
        `port = ${port}`,
        "[s3]",
        `address = ${services.s3.address}`,
        `access_key = ${services.s3.accessKey}`,
        `secret_key = ${services.s3.secretKey}`,
        `bucket = ${bucket}`,
        "",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = { NODE_NO_WARNINGS: "1" };
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KARTON_")) env[k] = v;
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/system/main.ts", "--config-file", ini, "--disable-gc"],
      {
        cwd: REPO,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    children.push(child);
    let output = "";
    child.stdout?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      output += d.toString();
    });
    await waitUntil(() => output.includes("Manager karton.system started"), 20_000, "start");

    const before = await send();
    await waitUntil(async () => (await status(before)) === TaskState.Finished, 10_000, "routed before");

    stopRedis();
    await new Promise((r) => setTimeout(r, 2000));
    expect(child.exitCode).toBeNull();
    startRedis();

    const after = await send();
    await waitUntil(
      async () => (await status(after)) === TaskState.Finished,
      30_000,
      "routed after the restart",
    );
    expect(await admin.llen("karton.queue.normal:c.any")).toBe(2);
    expect(await admin.hget("karton.metrics.assigned", "c.any")).toBe("2");
    expect(child.exitCode).toBeNull();
    // The outage was reported.
    expect(output).toMatch(/WARNING|ERROR/);

    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(0);
    admin.disconnect();
  }, 60_000);
});

/**
 * The `karton` command against real Redis and S3 (Ceph RGW): in-process through runCli, with the
 * Python 5.9.1 fixtures loaded into Redis and with state made by our own services; plus one smoke
 * test of the bin as a child process.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/index.js";
import type { JsonObject } from "../../src/json/index.js";
import { Consumer } from "../../src/service/consumer.js";
import { Producer } from "../../src/service/producer.js";
import { TaskState } from "../../src/task/enums.js";
import { parseTask } from "../../src/task/index.js";
import { Task } from "../../src/task/task.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { readFixtureJson, readFixtureText } from "../helpers/fixtures.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";
import { testServices, uniqueName } from "../helpers/services.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const ROOT = "7c3d496c-c021-4c70-af1e-cac867844440";
const ORIGINAL = `{${ROOT}}:${ROOT}`;
const CRASHED = `{${ROOT}}:4b966dde-58da-4650-9eb6-6d66743e12b0`;

class Sink {
  text = "";
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

let env: ServiceTestEnv;
let dir: string;
let configPath: string;

function writeConfig(path: string, redisPort: number, db: number, bucket: string): void {
  const s = testServices();
  writeFileSync(
    path,
    `[s3]\naddress = ${s.s3.address}\naccess_key = ${s.s3.accessKey}\nsecret_key = ${s.s3.secretKey}\n` +
      `bucket = ${bucket}\n\n[redis]\nhost = ${s.redis.host}\nport = ${redisPort}\ndb = ${db}\n`,
  );
}

beforeEach(async () => {
  env = await serviceTestEnv({ router: false, extra: { logging: { level: "ERROR" } } });
  dir = mkdtempSync(join(tmpdir(), "karton-cli-it-"));
  configPath = join(dir, "karton.ini");
  writeConfig(configPath, testServices().redis.port, env.db, env.bucket);
});
afterEach(async () => {
  await env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function karton(
  args: string[],
  options: { stdin?: string; signal?: AbortSignal; config?: boolean } = {},
) {
  const stdout = new Sink();
  const stderr = new Sink();
  const stdin = new PassThrough();
  if (options.stdin !== undefined) stdin.end(options.stdin);
  const argv = options.config === false ? args : ["-c", configPath, ...args];
  const code = await runCli(argv, {
    stdout,
    stderr,
    stdin,
    env: { HOME: dir },
    cwd: dir,
    connectTimeoutMs: 3000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** HSETs the raw Python bind values (in the captured order) and returns them by identity. */
async function loadFixtureBinds(): Promise<Map<string, string>> {
  const fixture = readFixtureJson("binds/binds.json") as JsonObject;
  const raws = new Map((fixture.binds as JsonObject[]).map((b) => [b.hash_field as string, b.raw as string]));
  for (const identity of fixture.hgetall_field_order as string[]) {
    await env.redis.hset("karton.binds", identity, raws.get(identity) as string);
  }
  return raws;
}

/** SETs the raw task documents of the life-cycle fixtures (later states win). */
async function loadFixtureTasks(): Promise<void> {
  for (const file of ["02-routed-forks", "04-finished", "05-crashed", "06-child-task"]) {
    const fixture = readFixtureJson(`tasks/${file}.json`) as JsonObject;
    for (const t of fixture.tasks as JsonObject[])
      await env.redis.set(t.redis_key as string, t.raw as string);
  }
}

describe("karton list with the Python binds in Redis", () => {
  it("prints the reference table and JSON lines byte for byte, in HGETALL order", async () => {
    const raws = await loadFixtureBinds();
    // Bind values over 64 bytes make Redis use a real hash table: HGETALL order is the server's,
    // not insertion order (the fixture holds the order of the capture server). The lines must be
    // byte-identical to the fixture's and come in this server's HGETALL order.
    const order = await env.redis.hkeys("karton.binds");
    const fixtureTable = readFixtureText("cli/karton-list-table.txt").split("\n");
    const rowOf = new Map(fixtureTable.slice(2, -1).map((line) => [line.split(" ")[0] as string, line]));
    const expectedTable = [...fixtureTable.slice(0, 2), ...order.map((id) => rowOf.get(id)), ""].join("\n");
    const table = await karton(["list"]);
    expect(table.code).toBe(0);
    expect(table.stderr).toBe("");
    expect(table.stdout).toBe(expectedTable);

    const fixtureJson = readFixtureText("cli/karton-list-json.txt").split("\n").slice(0, -1);
    expect(fixtureJson.sort()).toEqual([...raws.values()].sort());
    const json = await karton(["list", "-o", "json"]);
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(`${order.map((id) => raws.get(id)).join("\n")}\n`);
  });

  it("--json adds identity, replicas and queue depths from Redis", async () => {
    await loadFixtureBinds();
    await env.redis.rpush("karton.queue.normal:fixture.bind.persistent", "a", "b", "c");
    const list = JSON.parse((await karton(["list", "--json"])).stdout) as JsonObject[];
    const persistent = list.find((b) => b.identity === "fixture.bind.persistent");
    expect(persistent).toMatchObject({
      replicas: 0,
      queues: { bare: 0, high: 0, normal: 3, low: 0 },
      persistent: true,
    });
  });
});

describe("data commands on the Python task documents in Redis", () => {
  beforeEach(async () => {
    await loadFixtureTasks();
  });

  it("task, crashed and analysis show the captured documents", async () => {
    const task = await karton(["task", CRASHED]);
    expect(task.code).toBe(0);
    expect(task.stdout).toMatch(/status: +Crashed/);
    expect(task.stdout).toContain("ValueError: fixture crash while processing 'root task'");
    const json = JSON.parse((await karton(["task", CRASHED, "--json"])).stdout);
    const fixture = readFixtureJson("tasks/05-crashed.json") as JsonObject;
    expect(json.task).toEqual(JSON.parse((fixture.tasks as JsonObject[])[0]?.raw as string));

    const crashed = await karton(["crashed", "fixture.crasher"]);
    expect(crashed.code).toBe(0);
    expect(crashed.stdout).toContain(`${CRASHED}  `);
    expect(crashed.stdout).toContain("1 crashed task for fixture.crasher.");

    const analysis = await karton(["analysis", ROOT]);
    expect(analysis.code).toBe(0);
    expect(analysis.stdout.split("\n")).toHaveLength(7);
    expect(analysis.stdout).toContain("└─ ");
  });

  it("restart forks the crashed task into its queue; the old document becomes Finished", async () => {
    const r = await karton(["restart", CRASHED]);
    expect(r.code).toBe(0);
    const newUid = /as (\S+) for fixture\.crasher/.exec(r.stdout)?.[1] as string;
    expect(newUid).toMatch(new RegExp(`^\\{${ROOT}\\}:`));
    expect(await env.redis.lrange("karton.queue.normal:fixture.crasher", 0, -1)).toEqual([newUid]);
    const fork = parseTask((await env.redis.get(`karton.task:${newUid}`)) as string, {
      decodeResources: false,
    });
    expect([fork.status, fork.origUid, fork.headers.receiver]).toEqual([
      TaskState.Spawned,
      ORIGINAL,
      "fixture.crasher",
    ]);
    const old = JSON.parse((await env.redis.get(`karton.task:${CRASHED}`)) as string);
    expect(old.status).toBe("Finished");
    expect(old.error).toHaveLength(5);

    const again = await karton(["crashed", "fixture.crasher"]);
    expect(again.stdout).toBe("No crashed tasks for fixture.crasher.\n");
    expect((await karton(["restart", ORIGINAL])).code).toBe(1);
  });

  it("cancel sets Finished; queues counts pending and crashed per receiver", async () => {
    const before = await karton(["queues", "--json"]);
    const queues = JSON.parse(before.stdout).queues as JsonObject[];
    expect(queues.find((q) => q.identity === "fixture.reporter")).toMatchObject({
      pending: 1,
      bind: "missing",
    });
    expect(queues.find((q) => q.identity === "fixture.crasher")).toMatchObject({ crashed: 1 });
    expect((await karton(["cancel", "--all-crashed", "fixture.crasher"])).code).toBe(0);
    expect((await karton(["cancel", "--all-pending", "fixture.reporter"])).code).toBe(0);
    const after = JSON.parse((await karton(["queues", "--json"])).stdout).queues as JsonObject[];
    expect(after.filter((q) => q.bind === "missing")).toEqual([]);
    expect(JSON.parse((await env.redis.get(`karton.task:${CRASHED}`)) as string).status).toBe("Finished");
  });
});

class Flaky extends Consumer {
  static override filters = [{ type: "cli-test" }];
  fail = true;
  processed = 0;
  process(task: Task): void {
    this.log.warning(`processing ${task.headers.n}`);
    if (this.fail) throw new TypeError(`flaky failure ${task.headers.n}`);
    this.processed += 1;
  }
}

describe("state made by our services", () => {
  it("crashed tasks of a TS consumer can be listed and restarted, then get processed", async () => {
    const identity = uniqueName("cli.flaky");
    const consumerBackend = env.backend(identity, identity);
    const consumer = new Flaky({ config: env.config(), identity, backend: consumerBackend });
    const loop = consumer.loop({ handleSignals: false });
    try {
      await waitFor("bind", async () => (await env.backend().getBind(identity)) !== null);
      const producer = new Producer({
        config: env.config(),
        identity: "cli.producer",
        backend: env.backend(),
      });
      for (const n of [1, 2]) await producer.sendTask(new Task({ type: "cli-test", n: String(n) }));
      await env.router.routeOnce(1);
      await waitFor("two crashes", async () => {
        const r = await karton(["crashed", identity, "--json"]);
        return (JSON.parse(r.stdout) as unknown[]).length === 2;
      });
      const crashed = JSON.parse((await karton(["crashed", identity, "--json"])).stdout) as JsonObject[];
      expect(crashed.map((c) => c.error).sort()).toEqual([
        "TypeError: flaky failure 1",
        "TypeError: flaky failure 2",
      ]);

      const queues = JSON.parse((await karton(["queues", "--json"])).stdout).queues as JsonObject[];
      expect(queues.find((q) => q.identity === identity)).toMatchObject({
        replicas: 1,
        crashed: 2,
        bind: "ok",
      });

      consumer.fail = false;
      const restart = await karton(["restart", "--all-crashed", identity]);
      expect(restart.code).toBe(0);
      expect(restart.stdout).toContain(`2 crashed tasks of ${identity} restarted.`);
      await waitFor("restarted tasks processed", () => consumer.processed === 2);
      expect(JSON.parse((await karton(["crashed", identity, "--json"])).stdout)).toEqual([]);

      // a running consumer cannot be deleted
      const refused = await karton(["delete", identity, "--yes"]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("active replicas");
    } finally {
      consumer.stop();
      await loop;
      await consumerBackend.close();
    }
    const deleted = await karton(["delete", identity], { stdin: `${identity}\n` });
    expect(deleted.code).toBe(0);
    const bind = JSON.parse((await env.redis.hget("karton.binds", identity)) as string);
    expect(bind).toMatchObject({ filters: [], persistent: false, version: LIBRARY_VERSION });
  });

  it("logs streams a consumer's records as karton.cli-logger", async () => {
    const identity = uniqueName("cli.logger");
    const controller = new AbortController();
    const logs = karton(["logs", "--filter", identity], { signal: controller.signal });
    const name = `karton.cli-logger?karton_version=${LIBRARY_VERSION}`;
    // Subscribed, not only connected: the logger's connection shows one pattern subscription.
    await waitFor("cli logger subscription", async () =>
      ((await env.redis.call("CLIENT", "LIST")) as string)
        .split("\n")
        .some((line) => line.includes(`name=${name} `) && line.includes(" psub=1 ")),
    );
    const consumer = new Flaky({ config: env.config(), identity, backend: env.backend(identity, identity) });
    consumer.setupLogger("INFO");
    consumer.log.warning("first line");
    consumer.log.error("second line");
    const other = new Flaky({ config: env.config(), identity: `${identity}-other`, backend: env.backend() });
    other.setupLogger("INFO");
    other.log.warning("not for us");
    await consumer.close();
    await other.close();
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    const r = await logs;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`[WARNING] ${identity}: first line\n[ERROR] ${identity}: second line\n`);
    expect((await env.redis.call("CLIENT", "LIST")) as string).not.toContain(`name=${name} `);
  });
});

describe("karton configure against the real servers", () => {
  function flags(overrides: Record<string, string> = {}): string[] {
    const s = testServices();
    const values: Record<string, string> = {
      "--s3-address": s.s3.address,
      "--s3-access-key": s.s3.accessKey,
      "--s3-secret-key": s.s3.secretKey,
      "--s3-bucket": env.bucket,
      "--redis-host": s.redis.host,
      "--redis-port": String(s.redis.port),
      "--redis-password": "",
      ...overrides,
    };
    return Object.entries(values).flat();
  }

  it("tests both connections and writes a configuration the CLI can use", async () => {
    const path = join(dir, "new.ini");
    const r = await karton(["-c", path, "configure", ...flags()], { config: false });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Testing S3 connection...");
    expect(r.stderr).not.toContain("setup-bucket");
    expect(r.stdout + r.stderr).not.toContain(testServices().s3.secretKey);
    expect(readFileSync(path, "utf8")).toContain(`[redis]\nhost = ${testServices().redis.host}\n`);
    expect((await karton(["-c", path, "list"], { config: false })).code).toBe(0);

    const missing = await karton(
      ["-c", join(dir, "b.ini"), "configure", ...flags({ "--s3-bucket": uniqueName("nobucket") })],
      {
        config: false,
      },
    );
    expect(missing.code).toBe(0);
    expect(missing.stderr).toContain("karton-system --setup-bucket");
  });

  it("exits 3 and writes nothing when S3 refuses the credentials or Redis is not there", async () => {
    const badS3 = join(dir, "bad-s3.ini");
    const s3 = await karton(["-c", badS3, "configure", ...flags({ "--s3-secret-key": "wrong-secret-key" })], {
      config: false,
    });
    expect(s3.code).toBe(3);
    expect(s3.stderr).toContain("Cannot connect to S3");
    expect(s3.stderr).not.toContain("wrong-secret-key");
    expect(() => readFileSync(badS3)).toThrow();

    const badRedis = join(dir, "bad-redis.ini");
    const redis = await karton(["-c", badRedis, "configure", ...flags({ "--redis-port": "1" })], {
      config: false,
    });
    expect(redis.code).toBe(3);
    expect(redis.stderr).toContain("Cannot connect to Redis");
    expect(() => readFileSync(badRedis)).toThrow();
  });
});

describe("unreachable Redis", () => {
  it("exits 3 at once when nothing listens on the port", async () => {
    writeConfig(configPath, 1, 0, env.bucket);
    const started = Date.now();
    const r = await karton(["list"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("cannot connect to Redis");
    // nothing listens there: no retry loop, the cause is named
    expect(r.stderr).toContain("ECONNREFUSED");
    expect(Date.now() - started).toBeLessThan(2500);
  });
});

describe("the karton bin", () => {
  it("runs as a child process (--help, list)", async () => {
    const run = promisify(execFile);
    const help = await run(process.execPath, ["--import", "tsx", "src/cli/karton.ts", "--help"], {
      cwd: REPO,
    });
    expect(help.stdout).toMatch(/^Usage: karton \[options\] \[command\]/);
    await loadFixtureBinds();
    const list = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/karton.ts", "-c", configPath, "list"],
      {
        cwd: REPO,
      },
    );
    expect(list.stdout.split("\n")).toHaveLength(8);
    expect(list.stderr).toBe("");
    const failed = await run(
      process.execPath,
      ["--import", "tsx", "src/cli/karton.ts", "-c", join(dir, "missing.ini"), "task", "x"],
      { cwd: REPO },
    ).catch((error: { code: number; stderr: string }) => error);
    expect((failed as { code: number }).code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain("karton configure");
  });
});

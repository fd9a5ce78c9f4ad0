/**
 * The `karton` command in-process on the embedded backend (no servers): argument handling, exit
 * codes, the reference output formats, prompts, colours, secrets.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KartonBackend } from "../../src/backend/backend.js";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import type { BackendFactory } from "../../src/cli/context.js";
import { runCli } from "../../src/cli/index.js";
import { KartonConfig } from "../../src/config/config.js";
import { findTask } from "../../src/inspect/index.js";
import type { JsonObject } from "../../src/json/index.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { LIBRARY_VERSION } from "../../src/version.js";
import { readFixtureJson, readFixtureText } from "../helpers/fixtures.js";

const ROOT = "7c3d496c-c021-4c70-af1e-cac867844440";
const CRASHED = `{${ROOT}}:4b966dde-58da-4650-9eb6-6d66743e12b0`;

class Sink {
  text = "";
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

const objects = LocalObjectStore.temporary("karton-cli-");
afterAll(async () => {
  await objects.dispose();
});

let dir: string;
let store: MemoryStore;
let configPath: string;
const handles: MemoryBackend[] = [];
const memoryFactory: BackendFactory = () => {
  const backend = new MemoryBackend({ store, objects });
  handles.push(backend);
  return backend;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "karton-cli-test-"));
  store = new MemoryStore(`cli-${randomUUID()}`);
  configPath = join(dir, "test.ini");
  writeFileSync(configPath, "[s3]\naddress = http://localhost:1\nbucket = b\n\n[redis]\nhost = localhost\n");
});
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface RunOptions {
  stdin?: string;
  tty?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  factory?: BackendFactory;
  noConfig?: boolean;
  connectTimeoutMs?: number;
}

async function karton(args: string[], options: RunOptions = {}) {
  const stdout = new Sink(options.tty ?? false);
  const stderr = new Sink();
  const stdin = new PassThrough();
  if (options.stdin !== undefined) stdin.end(options.stdin);
  const argv = options.noConfig ? args : ["-c", configPath, ...args];
  const code = await runCli(argv, {
    stdout,
    stderr,
    stdin,
    env: options.env ?? { HOME: dir },
    cwd: dir,
    createBackend: options.factory ?? memoryFactory,
    connectTimeoutMs: options.connectTimeoutMs ?? 2000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function loadFixtureBinds(): void {
  const fixture = readFixtureJson("binds/binds.json") as JsonObject;
  const raws = new Map((fixture.binds as JsonObject[]).map((b) => [b.hash_field as string, b.raw as string]));
  for (const identity of fixture.hgetall_field_order as string[]) {
    store.hset("karton.binds", identity, raws.get(identity) as string);
  }
}

function loadFixtureTasks(): void {
  for (const file of ["02-routed-forks", "04-finished", "05-crashed", "06-child-task"]) {
    const fixture = readFixtureJson(`tasks/${file}.json`) as JsonObject;
    for (const t of fixture.tasks as JsonObject[]) store.set(t.redis_key as string, t.raw as string);
  }
}

describe("arguments and help", () => {
  it("prints the help on stdout without a sub-command (exit 0)", async () => {
    const r = await karton([], { noConfig: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: karton \[options\] \[command\]/);
    for (const name of [
      "list",
      "logs",
      "delete",
      "configure",
      "task",
      "crashed",
      "restart",
      "cancel",
      "analysis",
    ]) {
      expect(r.stdout).toContain(`  ${name} `);
    }
    expect(r.stdout).not.toContain("__default");
  });

  it("has --help on every command and --version", async () => {
    for (const name of [
      "list",
      "logs",
      "delete",
      "configure",
      "task",
      "crashed",
      "restart",
      "cancel",
      "analysis",
      "queues",
      "quarantine",
    ]) {
      const r = await karton([name, "--help"], { noConfig: true });
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toContain(`Usage: karton ${name}`);
    }
    const v = await karton(["--version"], { noConfig: true });
    expect([v.code, v.stdout]).toEqual([0, `${LIBRARY_VERSION}\n`]);
  });

  it("exits 2 on usage errors", async () => {
    expect((await karton(["frobnicate"])).code).toBe(2);
    expect((await karton(["list", "--bogus"])).code).toBe(2);
    expect((await karton(["list", "-o", "yaml"])).code).toBe(2);
    expect((await karton(["list", "-o", "json", "--json"])).code).toBe(2);
    expect((await karton(["task"])).code).toBe(2);
    expect((await karton(["restart"])).code).toBe(2);
    expect((await karton(["cancel", "x", "--all-pending", "y"])).code).toBe(2);
    expect((await karton(["logs", "--level", "loud"])).code).toBe(2);
    expect((await karton(["quarantine", "--limit", "0"])).code).toBe(2);
  });

  it("exits 2 with a hint at karton configure when there is no configuration", async () => {
    const r = await karton(["list"], { noConfig: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Missing \[s3\] and \[redis\]/);
    expect(r.stderr).toContain("karton configure");
    const missing = await karton(["-c", join(dir, "nope.ini"), "list"], { noConfig: true });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("karton configure");
  });
});

describe("karton list", () => {
  it("prints the Python table and JSON lines byte for byte", async () => {
    loadFixtureBinds();
    const table = await karton(["list"]);
    expect(table.code).toBe(0);
    expect(table.stdout).toBe(readFixtureText("cli/karton-list-table.txt"));
    expect((await karton(["list", "-o", "table"])).stdout).toBe(table.stdout);
    const json = await karton(["list", "-o", "json"]);
    expect(json.stdout).toBe(readFixtureText("cli/karton-list-json.txt"));
  });

  it("--json gives identity, versions, persistence, replicas and queue depths", async () => {
    loadFixtureBinds();
    store.hset("karton.binds", "broken", "nope");
    store.connect("fixture.bind.documented");
    store.rpush("karton.queue.low:fixture.bind.documented", "u1");
    const r = await karton(["list", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(list.map((b) => b.identity)).toEqual([
      "fixture.bind.query-filters",
      "fixture.bind.legacy-filters",
      "fixture.bind.non-persistent",
      "fixture.bind.persistent",
      "fixture.bind.documented",
      "broken",
    ]);
    expect(list[4]).toMatchObject({
      version: "5.9.1",
      service_version: "1.2.3-fixture",
      persistent: true,
      is_async: false,
      replicas: 1,
      queues: { bare: 0, high: 0, normal: 0, low: 1 },
    });
    expect(list[2]?.persistent).toBe(false);
    expect(list[5]).toMatchObject({ identity: "broken", raw: "nope" });
  });

  it("skips unreadable binds in the reference formats with a warning", async () => {
    store.hset("karton.binds", "broken", "nope");
    store.hset("karton.binds", "ok", '{"filters": [], "persistent": true, "version": "1"}');
    const r = await karton(["list"]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(2, -1)).toEqual([
      `${"ok".padEnd(50)} ${"-".padEnd(10)} ${"1".padEnd(10)}`,
    ]);
    expect(r.stderr).toContain("skipping unreadable bind of broken");
  });
});

describe("karton logs", () => {
  async function streamLogs(
    args: string[],
    publish: (b: KartonBackend) => Promise<void>,
    options: RunOptions = {},
  ) {
    const controller = new AbortController();
    const running = karton(["logs", ...args], { ...options, signal: controller.signal });
    const publisher = new MemoryBackend({ store, objects });
    handles.push(publisher);
    for (let i = 0; i < 100 && !store.clients().some((c) => c.name.startsWith("karton.cli-logger?")); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const names = store.clients().map((c) => c.name);
    await publish(publisher);
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    return { ...(await running), names };
  }
  const record = (level: string, levelno: number, name: string, message: string) =>
    JSON.stringify({ name, levelname: level, levelno, message, type: "log" });

  it("prints [<levelname>] <name>: <message> for log records, as karton.cli-logger", async () => {
    const r = await streamLogs([], async (b) => {
      await b.publishLog("info", "svc.a", record("INFO", 20, "svc.a", "hello"));
      await b.publishLog("error", "svc.b", record("ERROR", 40, "svc.b.sub", "bad\nthings"));
      await b.publishLog("info", "karton.operations", JSON.stringify({ operation: "x" }));
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("[INFO] svc.a: hello\n[ERROR] svc.b.sub: bad\nthings\n");
    expect(r.names).toContain(`karton.cli-logger?karton_version=${LIBRARY_VERSION}`);
    expect(store.clients().some((c) => c.name.startsWith("karton.cli-logger"))).toBe(false);
  });

  it("filters by identity and minimum level, and prints JSON records", async () => {
    const publish = async (b: KartonBackend) => {
      await b.publishLog("debug", "svc.a", record("DEBUG", 10, "svc.a", "noise"));
      await b.publishLog("warning", "svc.a", record("WARNING", 30, "svc.a", "careful"));
      await b.publishLog("critical", "svc.b", record("CRITICAL", 50, "svc.b", "other"));
    };
    const filtered = await streamLogs(["--filter", "svc.a", "--level", "info"], publish);
    expect(filtered.stdout).toBe("[WARNING] svc.a: careful\n");
    const json = await streamLogs(["--json", "--level", "WARNING"], publish);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.message)).toEqual(["careful", "other"]);
    expect(lines[0]).toMatchObject({ name: "svc.a", levelname: "WARNING", levelno: 30, type: "log" });
  });

  it("colours by level only on a terminal and never with NO_COLOR", async () => {
    const publish = async (b: KartonBackend) => {
      await b.publishLog("error", "svc", record("ERROR", 40, "svc", "red"));
      await b.publishLog("info", "svc", record("INFO", 20, "svc", "plain"));
    };
    const tty = await streamLogs([], publish, { tty: true });
    expect(tty.stdout).toBe("\u001b[31m[ERROR] svc: red\u001b[0m\n[INFO] svc: plain\n");
    const noColor = await streamLogs([], publish, { tty: true, env: { HOME: dir, NO_COLOR: "1" } });
    expect(noColor.stdout).toBe("[ERROR] svc: red\n[INFO] svc: plain\n");
    const pipe = await streamLogs([], publish);
    expect(pipe.stdout).not.toContain("\u001b");
  });
});

describe("karton delete", () => {
  const bindJson =
    '{"filters": [{"type": "x"}], "info": null, "is_async": false, "persistent": true, "service_version": null, "version": "5.9.1"}';

  it("asks for the name and replaces the bind by a non-persistent one without filters", async () => {
    store.hset("karton.binds", "old.service", bindJson);
    const r = await karton(["delete", "old.service"], { stdin: "  old.service \n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      "Are you sure you want to remove binds for karton old.service?\nType in the karton name to confirm\n",
    );
    expect(store.hget("karton.binds", "old.service")).toBe(
      `{"filters": [], "info": null, "is_async": false, "persistent": false, "service_version": null, "version": "${LIBRARY_VERSION}"}`,
    );
  });

  it("aborts on another answer or end of input (exit 1, bind unchanged)", async () => {
    store.hset("karton.binds", "old.service", bindJson);
    for (const stdin of ["old\n", ""]) {
      const r = await karton(["delete", "old.service"], { stdin });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("Aborted.");
    }
    expect(store.hget("karton.binds", "old.service")).toBe(bindJson);
  });

  it("--yes skips the prompt; refuses missing binds and online replicas", async () => {
    store.hset("karton.binds", "old.service", bindJson);
    const missing = await karton(["delete", "--yes", "no.such"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("doesn't exist");
    const id = store.connect("old.service");
    const online = await karton(["delete", "old.service", "-y"]);
    expect(online.code).toBe(1);
    expect(online.stderr).toContain("active replicas");
    expect(store.hget("karton.binds", "old.service")).toBe(bindJson);
    store.disconnect(id);
    const ok = await karton(["delete", "old.service", "-y"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain("Are you sure");
  });

  it("can delete an unreadable bind", async () => {
    store.hset("karton.binds", "junk", "{{{");
    expect((await karton(["delete", "junk", "--yes"])).code).toBe(0);
    expect(store.hget("karton.binds", "junk")).toContain('"persistent": false');
  });
});

describe("karton configure", () => {
  const flags = [
    "--s3-address",
    "https://s3.example:9000",
    "--s3-access-key",
    "AKIA",
    "--s3-secret-key",
    "s3-secret-%value",
    "--s3-bucket",
    "kb",
    "--redis-host",
    "redis.example",
    "--redis-port",
    "6380",
    "--redis-password",
    "redis-pass-123",
  ];

  it("writes [s3] and [redis] from flags without testing (--no-test), mode 0600", async () => {
    const path = join(dir, "karton.ini");
    const r = await karton(["configure", "--no-test", ...flags], { noConfig: true });
    expect(r.code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(
      "[s3]\naccess_key = AKIA\nsecret_key = s3-secret-%%value\naddress = https://s3.example:9000\nbucket = kb\n\n" +
        "[redis]\nhost = redis.example\nport = 6380\npassword = redis-pass-123\n\n",
    );
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(r.stdout + r.stderr).not.toContain("s3-secret");
    expect(r.stdout + r.stderr).not.toContain("redis-pass-123");
    // readable back, `%` unescaped
    const config = KartonConfig.load({ path, env: {}, cwd: dir, homeDir: dir });
    expect(config.s3Options().secretKey).toBe("s3-secret-%value");
    expect(config.redisOptions()).toMatchObject({
      host: "redis.example",
      port: 6380,
      password: "redis-pass-123",
    });
  });

  it("refuses to overwrite without --force (exit 1), overwrites with it; -c chooses the path", async () => {
    const path = join(dir, "custom.ini");
    writeFileSync(path, "keep");
    const refused = await karton(["-c", path, "configure", "--no-test", ...flags], { noConfig: true });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("use --force");
    expect(readFileSync(path, "utf8")).toBe("keep");
    const forced = await karton(["-c", path, "configure", "--force", "--no-test", ...flags], {
      noConfig: true,
    });
    expect(forced.code).toBe(0);
    expect(readFileSync(path, "utf8")).toContain("[redis]\nhost = redis.example");
  });

  it("asks for what no flag gives, with the reference defaults", async () => {
    const r = await karton(["configure", "--no-test", "--redis-host", "r.example"], {
      noConfig: true,
      stdin: "mykey\nmysecret\n\n\n\n\n",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Enter the S3 access key [minioadmin]: ");
    expect(r.stdout).toContain("Enter the S3 address [http://localhost:9000]: ");
    expect(r.stdout).toContain("Enter the S3 bucket to use [karton]: ");
    expect(r.stdout).toContain("Enter the Redis port [6379]: ");
    expect(r.stdout).not.toContain("Redis host");
    expect(readFileSync(join(dir, "karton.ini"), "utf8")).toBe(
      "[s3]\naccess_key = mykey\nsecret_key = mysecret\naddress = http://localhost:9000\nbucket = karton\n\n" +
        "[redis]\nhost = r.example\nport = 6379\n\n",
    );
    expect(r.stdout + r.stderr).not.toContain("mysecret");
  });

  it("reads secrets on a terminal in raw mode, without echo (Backspace edits, Ctrl-C aborts)", async () => {
    const run = async (typed: string[]) => {
      const stdin = Object.assign(new PassThrough(), {
        isTTY: true,
        modes: [] as boolean[],
        setRawMode(mode: boolean) {
          this.modes.push(mode);
          return this;
        },
      });
      const stdout = new Sink(true);
      const stderr = new Sink();
      const running = runCli(["configure", "--no-test", ...flags.slice(0, 4), ...flags.slice(6, 12)], {
        stdout,
        stderr,
        stdin,
        env: { HOME: dir },
        cwd: dir,
        createBackend: memoryFactory,
      });
      for (const chunk of typed) {
        await new Promise((r) => setTimeout(r, 20));
        stdin.write(chunk);
      }
      return { code: await running, stdout: stdout.text, stderr: stderr.text, modes: stdin.modes };
    };
    // S3 secret key (raw), S3 bucket? no: given; Redis password (raw)
    const ok = await run(["s3-sec", "X\u007fret\r", "pw\r"]);
    expect(ok.code).toBe(0);
    expect(ok.modes).toEqual([true, false, true, false]);
    expect(ok.stdout).toContain("Enter the S3 secret key [minioadmin]: \n");
    expect(ok.stdout).toContain("Enter the Redis password (leave blank for no password): \n");
    expect(ok.stdout + ok.stderr).not.toMatch(/s3-sec|pw\b/);
    const text = readFileSync(join(dir, "karton.ini"), "utf8");
    expect(text).toContain("secret_key = s3-secret\n");
    expect(text).toContain("password = pw\n");

    rmSync(join(dir, "karton.ini"));
    const aborted = await run(["abc\u0003"]);
    expect(aborted.code).toBe(1);
    expect(aborted.stderr).toContain("Aborted.");
    expect(aborted.modes).toEqual([true, false]);
    expect(() => statSync(join(dir, "karton.ini"))).toThrow();
  });

  it("rejects invalid values (exit 2) and tests both connections", async () => {
    const bad = await karton(["configure", "--no-test", ...flags, "--redis-port", "99999"], {
      noConfig: true,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("port");
    const badAddress = await karton(["configure", "--no-test", ...flags, "--s3-address", "s3.example"], {
      noConfig: true,
    });
    expect(badAddress.code).toBe(2);

    // tested against the embedded backend: bucket missing → hint, file written
    const tested = await karton(["configure", ...flags], { noConfig: true });
    expect(tested.code).toBe(0);
    expect(tested.stderr).toContain("Testing S3 connection...");
    expect(tested.stderr).toContain("Testing Redis connection...");
    expect(tested.stderr).toContain("karton-system --setup-bucket");
  });

  it("exits 3 without writing when a connection test fails, secrets redacted", async () => {
    const failing: BackendFactory = (config, options) => {
      const backend = memoryFactory(config, options);
      backend.ping = async () => {
        throw Object.assign(new Error("connect ECONNREFUSED (auth redis-pass-123)"), {
          code: "ECONNREFUSED",
        });
      };
      return backend;
    };
    const r = await karton(["configure", ...flags], { noConfig: true, factory: failing });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("Cannot connect to Redis at redis.example:6380");
    expect(r.stderr).not.toContain("redis-pass-123");
    expect(r.stderr).toContain("***");
    expect(() => statSync(join(dir, "karton.ini"))).toThrow();
  });
});

describe("data commands on the Python fixtures", () => {
  beforeEach(() => {
    loadFixtureTasks();
    store.hset("karton.binds", "fixture.crasher", '{"filters": [], "persistent": true, "version": "5.9.1"}');
  });

  it("task shows status, ids, headers, resources summarised and the error trace", async () => {
    const r = await karton(["task", CRASHED]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Task ${CRASHED}\n`);
    expect(r.stdout).toMatch(/status: +Crashed/);
    expect(r.stdout).toMatch(/receiver: +fixture\.crasher/);
    expect(r.stdout).toMatch(/campaign: +golden-fixtures {2}\(persistent\)/);
    expect(r.stdout).toContain('"sample": <resource "sample.txt", 21 bytes, sha256 a4364412');
    expect(r.stdout).toContain("  ValueError: fixture crash while processing 'root task'\n");
    const json = JSON.parse((await karton(["task", `karton.task:${CRASHED}`, "--json"])).stdout);
    expect(json.task.status).toBe("Crashed");
    expect(json.resources.map((x: { path: string }) => x.path)).toEqual([
      "payload.from_path",
      "payload.sample",
    ]);
    expect((await karton(["task", "nope"])).code).toBe(1);
    store.set("karton.task:broken", "{bad");
    const broken = await karton(["task", "broken"]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain("unreadable document");
  });

  it("crashed lists the crashed fork with its last error line", async () => {
    const r = await karton(["crashed", "fixture.crasher"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(CRASHED);
    expect(r.stdout).toContain("ValueError: fixture crash while processing 'root task'");
    const json = JSON.parse((await karton(["crashed", "fixture.crasher", "--json"])).stdout);
    expect(json).toHaveLength(1);
    expect(json[0].error).toBe("ValueError: fixture crash while processing 'root task'");
    expect((await karton(["crashed", "fixture.analyzer"])).stdout).toBe(
      "No crashed tasks for fixture.analyzer.\n",
    );
    expect((await karton(["crashed", "nobody.at.all"])).code).toBe(1);
  });

  it("analysis prints the tree indented by parent", async () => {
    const r = await karton(["analysis", ROOT]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe(`Analysis ${ROOT}: 5 tasks (1 pending, 1 crashed, 3 finished)`);
    expect(lines[1]).toMatch(new RegExp(`^\\{${ROOT}\\}:${ROOT}  \\(unrouted\\)  Finished  `));
    expect(lines[2]).toMatch(/^├─ .*fixture\.analyzer {2}Finished/);
    expect(lines[3]).toMatch(/^│ {2}└─ \{31a2fedd.*\(unrouted\) {2}Finished {2}.*kind=analyzed/);
    expect(lines[4]).toMatch(/^│ {5}└─ .*fixture\.reporter {2}Spawned/);
    expect(lines[5]).toMatch(/^└─ .*fixture\.crasher {2}Crashed/);
    const byTask = await karton(["analysis", CRASHED, "--json"]);
    const json = JSON.parse(byTask.stdout);
    expect(json.root_uid).toBe(ROOT);
    expect(json.tasks[0].children.map((c: { receiver: string }) => c.receiver)).toEqual([
      "fixture.analyzer",
      "fixture.crasher",
    ]);
    expect((await karton(["analysis", randomUUID()])).code).toBe(1);
  });

  it("restart and cancel act on the fixture tasks", async () => {
    const unrouted = await karton(["restart", `{${ROOT}}:${ROOT}`]);
    expect(unrouted.code).toBe(1);
    expect(unrouted.stderr).toContain('no "receiver" header');
    const r = await karton(["restart", CRASHED, "--json"]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ oldUid: CRASHED, identity: "fixture.crasher", previousStatus: "Crashed" });
    expect(store.lrange("karton.queue.normal:fixture.crasher")).toEqual([result.newUid]);
    const cancel = await karton(["cancel", "--all-pending", "fixture.crasher"]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`Cancelled ${result.newUid} (was Spawned)`);
    expect(
      (await findTask(memoryFactory(KartonConfig.fromDict({}), { identity: "" }), result.newUid))?.task
        ?.status,
    ).toBe(TaskState.Finished);
    expect((await karton(["restart", "--all-crashed", "fixture.crasher"])).stdout).toBe(
      "No crashed tasks for fixture.crasher.\n",
    );
    expect((await karton(["restart", "--all-crashed", "nobody"])).code).toBe(1);
    expect((await karton(["cancel", "missing-uid"])).code).toBe(1);
  });

  it("queues shows depths, pending/crashed counts and replicas; quarantine lists records", async () => {
    store.connect("fixture.crasher");
    store.rpush("karton.queue.high:fixture.crasher", "x");
    const r = await karton(["queues"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^IDENTITY +REPLICAS +HIGH +NORMAL +LOW +PENDING +CRASHED$/);
    expect(lines[1]).toMatch(/^fixture\.crasher +1 +1 +0 +0 +0 +1$/);
    expect(lines[2]).toMatch(/^fixture\.reporter \(no bind\) +0 +- +- +- +1 +0$/);
    const json = JSON.parse((await karton(["queues", "--json"])).stdout);
    expect(json.queues[0]).toMatchObject({
      identity: "fixture.crasher",
      replicas: 1,
      crashed: 1,
      bind: "ok",
    });

    expect((await karton(["quarantine"])).stdout).toBe("The quarantine is empty.\n");
    const backend = memoryFactory(KartonConfig.fromDict({}), { identity: "" });
    await backend.quarantine([
      {
        subject: "t1",
        kind: "task",
        reason: "not JSON",
        raw: "{x",
        at: 1700000000,
        reporter: "karton.system",
      },
    ]);
    const q = await karton(["quarantine", "--raw"]);
    expect(q.stdout).toBe("2023-11-14T22:13:20.000Z  task t1  (karton.system): not JSON\n    {x\n");
    expect(JSON.parse((await karton(["quarantine", "--json"])).stdout)[0].raw).toBe("{x");
  });

  it("uses tasks made by our own code too", async () => {
    const task = new Task(
      { type: "own", receiver: "fixture.crasher" },
      { origUid: "o", status: TaskState.Crashed },
    );
    task.error = ["Error: own crash\n    at x (y.ts:1:1)\n"];
    const backend = memoryFactory(KartonConfig.fromDict({}), { identity: "" });
    await backend.saveTasks([task]);
    const r = await karton(["crashed", "fixture.crasher", "--json"]);
    expect(JSON.parse(r.stdout).map((t: { error: string }) => t.error)).toContain("at x (y.ts:1:1)");
  });
});

describe("unreachable store", () => {
  it("exits 3 when the backend does not answer in time", async () => {
    const hanging: BackendFactory = (config, options) => {
      const backend = memoryFactory(config, options);
      backend.ping = () => new Promise(() => {});
      return backend;
    };
    const r = await karton(["list"], { factory: hanging, connectTimeoutMs: 100 });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("cannot connect to Redis");
  });

  it("never prints configured secrets in errors", async () => {
    writeFileSync(
      configPath,
      "[s3]\naddress = http://x\nsecret_key = topsecret-s3\n[redis]\nhost = h\npassword = topsecret-redis\n",
    );
    const leaky: BackendFactory = () => {
      throw new Error("failed with topsecret-redis and redis://u:topsecret-url@h:1 and topsecret-s3");
    };
    const r = await karton(["list"], { factory: leaky });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/topsecret/);
    expect(r.stderr).toContain("redis://u:***@h:1");
  });
});

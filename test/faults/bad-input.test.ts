/**
 * The bad-input catalogue: every kind of malformed data or configuration a deployment can meet,
 * each case asserting the clear error it produces (by message) and that the system keeps working
 * afterwards — a real `karton-system` child process keeps routing (a probe task is routed after
 * every case) and the consumer keeps processing.
 *
 * Router cases write documents straight into Redis as a broken producer would; consumer cases send
 * tasks whose resources are missing or hostile archives; configuration and connection cases start
 * `karton-system` (or a producer) with the bad setting and read its message and exit status.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KartonBackend } from "../../src/backend/backend.js";
import type { Bind } from "../../src/bind/bind.js";
import { decodeUtf8Escaped, type JsonObject, undecodableMessage } from "../../src/json/index.js";
import { Resource } from "../../src/resource/index.js";
import { Consumer } from "../../src/service/consumer.js";
import { Producer } from "../../src/service/producer.js";
import { serializeTask } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { freePort, privateRedis } from "../backend/redis-server.js";
import { type ServiceTestEnv, serviceTestEnv, waitFor } from "../helpers/mini-router.js";
import { testServices, uniqueName } from "../helpers/services.js";
import { rawZip, yazlZip } from "../helpers/zip.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;
const SYSTEM_MAIN = join(REPO, "src/system/main.ts");
const services = testServices();
const MAX_TASK_SIZE = 64 * 1024;
const PROBE = "catalogue.probe";
const INSPECTOR = "catalogue.inspector";

// ---- processes ------------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  text(): string;
  exit: Promise<number | null>;
}

/** `karton-system` as a child process with a clean environment (no KARTON_* of ours) plus `env`. */
function startSystem(args: string[], env: Record<string, string>, cwd: string): Proc {
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: cwd,
    NO_COLOR: "1",
    NODE_NO_WARNINGS: "1",
    ...env,
  };
  const child = spawn(process.execPath, ["--import", TSX_LOADER, SYSTEM_MAIN, ...args], {
    cwd,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, text: () => out, exit };
}

/** Runs karton-system to its exit (it must exit within `timeoutMs`); returns code and output. */
async function systemFails(args: string[], env: Record<string, string>, timeoutMs = 30_000) {
  const proc = startSystem(args, env, work);
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), timeoutMs);
  const code = await proc.exit;
  clearTimeout(timer);
  return { code, output: proc.text() };
}

// ---- the environment shared by all cases -----------------------------------------------------------

let env: ServiceTestEnv;
let admin: KartonBackend;
let system: Proc;
let work: string;
let systemEnv: Record<string, string>;
let inspector: Inspector;
let inspectorLoop: Promise<void>;
let producer: Producer;

class Inspector extends Consumer {
  static override identity = INSPECTOR;
  static override filters = [{ type: "inspect" }];
  async process(task: Task): Promise<void> {
    const file = task.getResource("file");
    if (task.headers.kind === "zip") {
      const dir = await mkdtemp(join(work, "extract-"));
      try {
        await file.extractToDirectory(dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } else {
      await file.content();
    }
  }
}

function bind(identity: string, filters: JsonObject[]): Bind {
  return {
    identity,
    filters,
    info: null,
    version: "5.9.1",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "karton-catalogue-"));
  env = await serviceTestEnv({ router: false, extra: { logging: { level: "CRITICAL" } } });
  admin = env.backend("catalogue.admin");
  await admin.registerBind(bind(PROBE, [{ type: "probe" }]));
  systemEnv = {
    KARTON_REDIS_HOST: services.redis.host,
    KARTON_REDIS_PORT: String(services.redis.port),
    KARTON_REDIS_DB: String(env.db),
    KARTON_S3_ADDRESS: services.s3.address,
    KARTON_S3_ACCESS_KEY: services.s3.accessKey,
    KARTON_S3_SECRET_KEY: services.s3.secretKey,
    KARTON_S3_BUCKET: env.bucket,
  };
  system = startSystem(
    ["--disable-gc"],
    { ...systemEnv, KARTON_SYSTEM_MAX_TASK_SIZE: String(MAX_TASK_SIZE) },
    work,
  );
  await waitFor("karton-system started", () => /Manager karton\.system started/.test(system.text()), 60_000);
  inspector = new Inspector({ config: env.config(), backend: env.backend(INSPECTOR, INSPECTOR) });
  inspectorLoop = inspector.loop({ handleSignals: false });
  await waitFor("inspector bind", async () => (await admin.getBind(INSPECTOR)) !== null);
  producer = new Producer({ config: env.config(), identity: "catalogue.producer", backend: env.backend() });
}, 120_000);

afterAll(async () => {
  inspector?.stop({ force: true });
  await inspectorLoop?.catch(() => undefined);
  if (system && system.child.exitCode === null) {
    system.child.kill("SIGINT");
    await system.exit;
  }
  await env?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

// ---- what every case ends with -----------------------------------------------------------------------

/** karton-system is still running and routes a fresh task to the probe consumer. */
async function routingContinues(): Promise<void> {
  expect(system.child.exitCode, `karton-system exited:\n${system.text()}`).toBeNull();
  const task = new Task({ type: "probe" });
  await producer.sendTask(task);
  await waitFor(
    `probe ${task.uid} routed`,
    async () => (await admin.getTask(task.uid))?.status === TaskState.Finished,
  );
  const queued = await env.redis.lrange(`karton.queue.normal:${PROBE}`, 0, -1);
  const forks = await admin.getRawTasks(queued);
  expect(forks.some((raw) => raw?.includes(task.uid))).toBe(true);
}

/** The consumer is still running and processes a good task. */
async function consumerContinues(): Promise<void> {
  expect(inspector.running).toBe(true);
  const task = new Task(
    { type: "inspect", kind: "raw" },
    { payload: { file: Resource.fromBytes("ok.bin", "ok") } },
  );
  await producer.sendTask(task);
  await waitFor("a good task processed", async () => {
    const forks = await forksOf(task.uid);
    return forks.length === 1 && forks[0]?.status === TaskState.Finished;
  });
}

async function forksOf(uid: string): Promise<Task[]> {
  const keys = await env.redis.keys("karton.task:*");
  const raws = await admin.getRawTasks(keys.map((k) => k.slice("karton.task:".length)));
  const out: Task[] = [];
  for (const raw of raws) {
    if (raw === null || !raw.includes(`"orig_uid": "${uid}"`)) continue;
    const fork = await admin.getTask(JSON.parse(raw).uid as string, { decodeResources: false });
    if (fork) out.push(fork);
  }
  return out;
}

// ---- router cases: documents written as a broken producer would -----------------------------------

/** A valid document to break. */
function validDoc(): JsonObject {
  return JSON.parse(serializeTask(new Task({ type: "probe" }, { payload: { n: 1 } }))) as JsonObject;
}

/** Stores `raw` as the document of a fresh uid, queues it, and returns the quarantine record. */
async function quarantined(raw: string | Buffer, uid = `catalogue-${uniqueName("t")}`): Promise<string> {
  await env.redis.set(`karton.task:${uid}`, raw);
  await env.redis.rpush("karton.tasks", uid);
  const record = await waitFor(`quarantine record of ${uid}`, async () =>
    (await admin.listQuarantine(1000)).find((r) => r.subject === uid),
  );
  expect(record.kind).toBe("task");
  // Logged at ERROR by karton-system too, and the document is left as it was (never routed).
  await waitFor("the ERROR log line", () => system.text().includes(`${record.reason}; quarantined`));
  expect(await env.redis.llen("karton.tasks")).toBe(0);
  return record.reason;
}

describe("task documents in karton.tasks", () => {
  it("1. malformed JSON", async () => {
    const uid = uniqueName("bad-json");
    const reason = await quarantined('{"uid": "x", "headers": {', uid);
    expect(reason).toMatch(
      new RegExp(`^task ${uid} cannot be routed: the document is not valid JSON: Expected .* at offset 25`),
    );
    await routingContinues();
  });

  it("2. a JSON document pushed on karton.tasks instead of a uid", async () => {
    const body = serializeTask(new Task({ type: "probe" }));
    await env.redis.rpush("karton.tasks", body);
    await waitFor("warning", () =>
      system.text().includes(`Task ${body} taken from karton.tasks has no document any more; skipped`),
    );
    await routingContinues();
  });

  it("3. a task uid with no document", async () => {
    const uid = uniqueName("ghost");
    await env.redis.rpush("karton.tasks", uid);
    await waitFor("warning", () =>
      system.text().includes(`Task ${uid} taken from karton.tasks has no document any more; skipped`),
    );
    await routingContinues();
  });

  it("4. a document that is not an object", async () => {
    const uid = uniqueName("array");
    expect(await quarantined("[1, 2, 3]", uid)).toBe(
      `task ${uid} cannot be routed: task document is not a JSON object`,
    );
    await routingContinues();
  });

  const fieldCases: [string, (doc: JsonObject) => void, string][] = [
    ["5. missing headers", (d) => delete d.headers, 'field "headers" must be an object'],
    [
      "6. headers of the wrong type (a list)",
      (d) => (d.headers = ["type", "probe"]),
      'field "headers" must be an object',
    ],
    ["7. missing payload", (d) => delete d.payload, 'field "payload" must be an object'],
    [
      "8. payload of the wrong type (a string)",
      (d) => (d.payload = "data"),
      'field "payload" must be an object',
    ],
    ["9. missing root_uid", (d) => delete d.root_uid, 'field "root_uid" must be a string'],
    ["10. missing parent_uid", (d) => delete d.parent_uid, 'field "parent_uid" is missing'],
    [
      "11. error of the wrong type",
      (d) => (d.error = "boom"),
      'field "error" must be a list of strings or null',
    ],
    ["12. unknown status", (d) => (d.status = "Exploded"), 'unknown status "Exploded"'],
    ["13. unknown priority", (d) => (d.priority = "urgent"), 'unknown priority "urgent"'],
  ];
  for (const [name, mutate, message] of fieldCases) {
    it(name, async () => {
      const doc = validDoc();
      mutate(doc);
      const uid = doc.uid as string;
      expect(await quarantined(JSON.stringify(doc), uid)).toBe(
        `task ${uid} cannot be routed: task ${uid}: ${message}`,
      );
      await routingContinues();
    });
  }

  it("14. a uid of the wrong type inside the document", async () => {
    const doc = validDoc();
    const uid = doc.uid as string;
    doc.uid = 12345;
    expect(await quarantined(JSON.stringify(doc), uid)).toBe(
      `task ${uid} cannot be routed: field "uid" must be a non-empty string`,
    );
    await routingContinues();
  });

  it("15. non-UTF-8 bytes", async () => {
    const doc = validDoc();
    const uid = doc.uid as string;
    doc.headers = { type: "probe", name: "@@" };
    const text = JSON.stringify(doc);
    const at = text.indexOf("@@");
    const bytes = Buffer.concat([
      Buffer.from(text.slice(0, at)),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(text.slice(at + 2)),
    ]);
    expect(await quarantined(bytes, uid)).toBe(
      `task ${uid} cannot be routed: the document is not valid UTF-8 (undecodable byte 0xff at character ${at})`,
    );
    // The document is kept byte for byte (not rewritten with replacement characters).
    expect(await env.redis.getBuffer(`karton.task:${uid}`)).toEqual(bytes);
    // Consumers and tools reading it get the same clear error.
    await expect(admin.getTask(uid)).rejects.toThrow(
      `task document is not valid UTF-8 (undecodable byte 0xff at character ${at})`,
    );
    await routingContinues();
  });

  it("16. a document over [system] max_task_size (router)", async () => {
    const doc = validDoc();
    const uid = doc.uid as string;
    doc.payload = { blob: "x".repeat(MAX_TASK_SIZE) };
    const text = JSON.stringify(doc);
    expect(await quarantined(text, uid)).toBe(
      `task ${uid} cannot be routed: the document is ${Buffer.byteLength(text)} bytes, over the limit of ${MAX_TASK_SIZE} bytes ([system] max_task_size)`,
    );
    await routingContinues();
  });

  it("17. a task over [system] max_task_size (producer refuses before writing anything)", async () => {
    const small = new Producer({
      config: env.config({ system: { max_task_size: MAX_TASK_SIZE } }),
      identity: "catalogue.producer",
      backend: env.backend(),
    });
    const task = new Task({ type: "probe" }, { payload: { blob: "x".repeat(MAX_TASK_SIZE) } });
    await expect(small.sendTask(task)).rejects.toThrow(
      new RegExp(
        `^Cannot send task ${task.uid}: the task document is \\d+ bytes, over the limit of ${MAX_TASK_SIZE} bytes \\(\\[system\\] max_task_size\\)`,
      ),
    );
    expect(await env.redis.exists(`karton.task:${task.uid}`)).toBe(0);
    await routingContinues();
  });
});

// ---- binds ------------------------------------------------------------------------------------------

describe("binds", () => {
  /** Writes a bind value as is and waits for the router's report. */
  async function reported(identity: string, value: string): Promise<string> {
    await env.redis.hset("karton.binds", identity, value);
    await routingContinues(); // the router reads the binds with every batch
    const record = await waitFor(`quarantine record of bind ${identity}`, async () =>
      (await admin.listQuarantine(1000)).find((r) => r.subject === identity && r.kind === "bind"),
    );
    await waitFor("the ERROR log line", () => system.text().includes(`${record.reason}; quarantined`));
    return record.reason;
  }

  function bindJson(filters: unknown): string {
    return JSON.stringify({
      info: null,
      version: "5.9.1",
      filters,
      persistent: true,
      service_version: null,
      is_async: false,
    });
  }

  it("18. a bind value that is not JSON", async () => {
    const id = uniqueName("bind-notjson");
    expect(await reported(id, "{not json")).toMatch(
      new RegExp(
        `^bind of ${id} is skipped by the router: bind of "${id}": value is not JSON \\(Expected a property name`,
      ),
    );
    await routingContinues();
  });

  it("19. a bind whose filters are not a list", async () => {
    const id = uniqueName("bind-shape");
    expect(await reported(id, bindJson({ type: "x" }))).toBe(
      `bind of ${id} is skipped by the router: bind of "${id}": "filters" must be a list of objects`,
    );
    await routingContinues();
  });

  it("20. a filter with an unknown $ operator", async () => {
    const id = uniqueName("bind-op");
    expect(await reported(id, bindJson([{ type: { $foo: 1 } }]))).toBe(
      `bind of ${id} has invalid filters: filters[0]["type"]: $foo: unknown operator $foo; it matches no task where they fail to evaluate`,
    );
    await routingContinues();
  });

  it("21. a filter with a bad regex", async () => {
    const id = uniqueName("bind-regex");
    expect(await reported(id, bindJson([{ type: { $regex: "(" } }]))).toBe(
      `bind of ${id} has invalid filters: filters[0]["type"]: $regex: invalid $regex '(': ( failed to execute with error re.error("missing ), unterminated subpattern at position 0"); it matches no task where they fail to evaluate`,
    );
    await routingContinues();
  });

  it("22. $in with a non-list", async () => {
    const id = uniqueName("bind-in");
    expect(await reported(id, bindJson([{ type: { $in: "abc" } }]))).toBe(
      `bind of ${id} has invalid filters: filters[0]["type"]: $in: $in needs an array, got str 'abc'; it matches no task where they fail to evaluate`,
    );
    await routingContinues();
  });

  it("23. a consumer class with invalid filters refuses to start, naming the operator", async () => {
    class BadFilters extends Consumer {
      static override identity = "catalogue.bad-filters";
      static override filters = [{ type: { $in: "abc" } }] as never;
      process(): void {}
    }
    expect(() => new BadFilters({ config: env.config(), backend: env.backend() })).toThrow(
      /filters\[0\]\["type"\]: \$in: \$in needs an array, got str 'abc'/,
    );
    await routingContinues();
  });
});

// ---- identities -------------------------------------------------------------------------------------

describe("identities", () => {
  it("24. an identity with a space (class)", async () => {
    class Spaced extends Consumer {
      static override identity = "bad identity";
      static override filters = [{ type: "x" }];
      process(): void {}
    }
    expect(() => new Spaced({ config: env.config(), backend: env.backend() })).toThrow(
      'Invalid service identity "bad identity": identities must not contain whitespace',
    );
    await routingContinues();
  });

  it("25. an identity with '?' (karton-system --identity: exit 2)", async () => {
    const { code, output } = await systemFails(["--identity", "karton.system?x=1"], systemEnv);
    expect(code).toBe(2);
    expect(output).toContain(
      `error: Invalid value for [karton] identity: expected an identity without spaces and without '?', got "karton.system?x=1" (from command-line arguments)`,
    );
    await routingContinues();
  });

  it("26. an identity with a space in [karton] identity", async () => {
    const config = env.config({ karton: { identity: "a b" } });
    expect(() => config.kartonOptions()).toThrow(
      /Invalid value for \[karton\] identity: expected an identity without spaces and without '\?', got "a b"/,
    );
    await routingContinues();
  });
});

// ---- resources ----------------------------------------------------------------------------------------

describe("resources", () => {
  /** Sends an inspect task and returns the error of its (crashed) fork. */
  async function crashes(kind: string, payload: JsonObject | Record<string, unknown>): Promise<string> {
    const task = new Task({ type: "inspect", kind }, { payload: payload as never });
    await producer.sendTask(task);
    const fork = await waitFor(
      "the fork to crash",
      async () => (await forksOf(task.uid)).find((f) => f.status === TaskState.Crashed),
      30_000,
    );
    return (fork.error ?? []).join("");
  }

  it("27. a resource marker pointing at a missing S3 object", async () => {
    const key = uniqueName("missing");
    const marker = {
      __karton_resource__: {
        uid: key,
        name: "gone.bin",
        bucket: env.bucket,
        size: 3,
        sha256: null,
        flags: [],
        metadata: {},
      },
    };
    const error = await crashes("raw", { file: marker });
    expect(error).toContain(`object "${env.bucket}/${key}" not found at ${services.s3.address}`);
    await consumerContinues();
    await routingContinues();
  });

  it("28. a zip resource with a ../ entry", async () => {
    const zip = rawZip([{ name: "../evil.txt", data: Buffer.from("x") }]);
    const error = await crashes("zip", { file: Resource.fromBytes("climb.zip", zip) });
    expect(error).toContain('zip entry "../evil.txt" climbs out of the target directory');
    await consumerContinues();
    await routingContinues();
  });

  it("29. a zip resource with an absolute path", async () => {
    const zip = rawZip([{ name: "/etc/evil", data: Buffer.from("x") }]);
    const error = await crashes("zip", { file: Resource.fromBytes("abs.zip", zip) });
    expect(error).toContain('zip entry "/etc/evil" is an absolute path');
    await consumerContinues();
    await routingContinues();
  });

  it("30. a zip resource with a symbolic link", async () => {
    const zip = await yazlZip((z) => z.addBuffer(Buffer.from("/etc/passwd"), "link", { mode: 0o120777 }));
    const error = await crashes("zip", { file: Resource.fromBytes("links.zip", zip) });
    expect(error).toContain('zip entry "link" is a symbolic link');
    await consumerContinues();
    await routingContinues();
  });

  it("31. a zip bomb", async () => {
    const zip = await yazlZip((z) => z.addBuffer(Buffer.alloc(50 * 1024 * 1024), "zeros.bin"));
    expect(zip.length).toBeLessThan(100_000);
    const error = await crashes("zip", { file: Resource.fromBytes("bomb.zip", zip) });
    expect(error).toMatch(/zip entry "zeros\.bin".*maxRatio/);
    await consumerContinues();
    await routingContinues();
  });
});

// ---- karton.ini ----------------------------------------------------------------------------------------

describe("karton.ini", () => {
  function ini(text: string): string {
    const path = join(work, `${uniqueName("ini")}.ini`);
    writeFileSync(path, text);
    return path;
  }
  const good = () =>
    [
      "[redis]",
      `host = ${services.redis.host}`,
      `port = ${services.redis.port}`,
      `db = ${env.db}`,
      "[s3]",
      `address = ${services.s3.address}`,
      `access_key = ${services.s3.accessKey}`,
      `secret_key = ${services.s3.secretKey}`,
      `bucket = ${env.bucket}`,
    ].join("\n");

  it("32. a missing section ([redis])", async () => {
    const path = ini(good().replace(/\[redis\][^[]*/, ""));
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toMatch(/error: .*\[redis\]/);
    expect(output).toContain(path);
    await routingContinues();
  });

  it("33. a bad port", async () => {
    const path = ini(good().replace(/^port = .*$/m, "port = 99999"));
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toContain(
      `error: Invalid value for [redis] port: expected an integer from 1 to 65535, got "99999" (from file ${path}, line 3)`,
    );
    await routingContinues();
  });

  it("34. a bad Redis URL", async () => {
    const path = ini(good().replace("[redis]", "[redis]\nurl = http://127.0.0.1:6379"));
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toMatch(
      /Invalid value for \[redis\] url: expected a URL starting with redis:\/\/, rediss:\/\/ or unix:\/\/, got "http:\/\/127\.0\.0\.1:6379"/,
    );
    await routingContinues();
  });

  it("35. a bad S3 address", async () => {
    const path = ini(good().replace(/^address = .*$/m, "address = ftp://127.0.0.1:1"));
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toMatch(
      /Invalid value for \[s3\] address: expected a URL starting with http:\/\/ or https:\/\/, got "ftp:\/\/127\.0\.0\.1:1"/,
    );
    await routingContinues();
  });

  it("36. a bad boolean", async () => {
    const path = ini(`${good()}\n[system]\nenable_gc = maybe\n`);
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toMatch(
      /Invalid value for \[system\] enable_gc: expected a boolean \(1\/yes\/true\/on or 0\/no\/false\/off\), got "maybe"/,
    );
    await routingContinues();
  });

  it("37. an INI syntax error", async () => {
    const path = ini(`${good()}\nthis line has no equals sign\n`);
    const { code, output } = await systemFails(["--config-file", path], {});
    expect(code).toBe(2);
    expect(output).toContain(
      `error: ${path}:10: in section [s3]: expected "name = value", "name: value", a [section] header or a comment`,
    );
    await routingContinues();
  });
});

// ---- unreachable or misconfigured storage -------------------------------------------------------------------

describe("storage", () => {
  it("38. Redis unreachable", async () => {
    const port = await freePort();
    const { code, output } = await systemFails([], {
      ...systemEnv,
      KARTON_REDIS_PORT: String(port),
      KARTON_REDIS_SOCKET_TIMEOUT: "2",
    });
    expect(code).toBe(1);
    expect(output).toMatch(
      new RegExp(
        `Cannot connect to the Karton storage: Redis PING failed at redis://127\\.0\\.0\\.1:${port}/\\d+: not connected \\(.*connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)`,
      ),
    );
    await routingContinues();
  });

  it("39. Redis with a wrong password", async () => {
    const redis = await privateRedis(["--requirepass", "the-right-password"]);
    try {
      const { code, output } = await systemFails([], {
        ...systemEnv,
        KARTON_REDIS_PORT: String(redis.port),
        KARTON_REDIS_DB: "0",
        KARTON_REDIS_PASSWORD: "a-wrong-password",
      });
      expect(code).toBe(1);
      expect(output).toContain("rejected the credentials ([redis] username/password or URL)");
      expect(output).not.toContain("a-wrong-password");
    } finally {
      await redis.destroy();
    }
    await routingContinues();
  });

  it("40. S3 with wrong credentials (karton-system and a producer)", async () => {
    const { code, output } = await systemFails([], {
      ...systemEnv,
      KARTON_S3_SECRET_KEY: "wrong-secret-key",
    });
    expect(code).toBe(1);
    expect(output).toContain(
      `S3 rejected the credentials for bucket "${env.bucket}" at ${services.s3.address}`,
    );
    expect(output).not.toContain("wrong-secret-key");

    const bad = new Producer({
      config: env.config({ s3: { secret_key: "wrong-secret-key" } }),
      identity: "catalogue.producer",
    });
    const task = new Task({ type: "probe" }, { payload: { file: Resource.fromBytes("a.bin", "a") } });
    const error = await bad.sendTask(task).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await bad.close();
    expect(error?.message).toMatch(
      new RegExp(
        `^Cannot send task ${task.uid}: uploading resource "a\\.bin" to bucket "${env.bucket}" failed: .*S3 rejected the credentials`,
      ),
    );
    expect(error?.message).not.toContain("wrong-secret-key");
    await routingContinues();
  });

  it("41. S3 bucket missing", async () => {
    const missing = uniqueName("missing-bucket");
    const { code, output } = await systemFails([], { ...systemEnv, KARTON_S3_BUCKET: missing });
    expect(code).toBe(1);
    expect(output).toContain(
      `bucket ${missing} does not exist at ${services.s3.address}; create it or run karton-system --setup-bucket`,
    );
    await routingContinues();
  });
});

describe("the UTF-8 guard", () => {
  it("decodes valid UTF-8 as usual and escapes only the bytes that are not", () => {
    expect(decodeUtf8Escaped(Buffer.from("zażółć 🦀"))).toBe("zażółć 🦀");
    expect(undecodableMessage("zażółć 🦀")).toBeUndefined();
    const text = decodeUtf8Escaped(Buffer.from([0x61, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0xa6, 0x80]));
    expect(text).toBe("a\udcc3(\udced\udca0\udc80🦀");
    expect(undecodableMessage(text)).toBe("not valid UTF-8 (undecodable byte 0xc3 at character 1)");
  });
});

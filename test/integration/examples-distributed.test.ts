/**
 * The triage example distributed: karton-system and each service as its own process
 * (`node --import tsx <file> --config-file <karton.ini>`) against the real Redis and Ceph RGW, the
 * producer as a process too; then the analysis trees read back from Redis, and the demo in
 * `--submit-only` mode watching the same deployment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTriageView, renderSampleTree } from "../../examples/triage/sample-tree.js";
import type { KartonBackend } from "../../src/backend/backend.js";
import { createBackend } from "../../src/backend/create-backend.js";
import { S3ObjectStore } from "../../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../../src/config/config.js";
import { type Analysis, waitForAnalysis } from "../../src/testing/index.js";
import { nextRedisDb, testServices, uniqueName } from "../helpers/services.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const services = testServices();

const GENERATED_TREES: Record<string, string> = {
  "invoice.exe": "invoice.exe  runnable · win32 · exe",
  "bundle.zip": [
    "bundle.zip  archive · zip",
    "├─ README.txt  text · txt",
    "├─ bin/helper.dll  runnable · win32 · dll",
    "├─ nested/inner.zip  archive · zip",
    "│  ├─ linux/agent  runnable · linux · elf",
    "│  └─ run.py  script · linux · py",
    "└─ tools/install.sh  script · linux · sh",
  ].join("\n"),
  "deploy.sh": "deploy.sh  script · linux · sh",
  "notes.txt": "notes.txt  text · txt",
};

class Child {
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;
  #buffer = "";

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
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

  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.text)) {
      if (this.proc.exitCode !== null)
        throw new Error(`${this.name} exited (${this.proc.exitCode}):\n${this.text}`);
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no output matching ${pattern}:\n${this.text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGINT (graceful stop) and the exit code. */
  async stop(): Promise<number | null> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode;
    this.proc.kill("SIGINT");
    return await this.exited;
  }
}

const children: Child[] = [];

/** `node --import tsx <script> <args>` from the repository, without the test's KARTON_* variables. */
function start(name: string, script: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Child {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KARTON_")) env[k] = v;
  Object.assign(env, { NODE_NO_WARNINGS: "1", NO_COLOR: "1" }, extraEnv);
  const proc = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: REPO,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const child = new Child(name, proc);
  children.push(child);
  return child;
}

function tree(analysis: Analysis): string {
  const view = buildTriageView(
    analysis.rootUid,
    analysis.tasks.map((n) => n.task),
  );
  return view.sample ? renderSampleTree(view.sample, { details: false }) : "(none)";
}

let db: number;
let bucket: string;
let dir: string;
let ini: string;
let admin: Redis;
let objects: S3ObjectStore;
let backend: KartonBackend;
let system: Child;
const kartons: Child[] = [];

beforeAll(async () => {
  db = nextRedisDb();
  admin = new Redis({ host: services.redis.host, port: services.redis.port, db });
  await admin.flushdb();
  bucket = uniqueName("triage");
  objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  dir = mkdtempSync(join(tmpdir(), "karton-triage-dist-"));
  ini = join(dir, "karton.ini");
  writeFileSync(
    ini,
    [
      "[redis]",
      `host = ${services.redis.host}`,
      `port = ${services.redis.port}`,
      `db = ${db}`,
      "[s3]",
      `address = ${services.s3.address}`,
      `access_key = ${services.s3.accessKey}`,
      `secret_key = ${services.s3.secretKey}`,
      `bucket = ${bucket}`,
      "[logging]",
      "level = INFO",
      "",
    ].join("\n"),
  );
  backend = createBackend(KartonConfig.load({ path: ini, env: {} }), { identity: "test.examples" });

  system = start("karton-system", "src/system/main.ts", ["--config-file", ini, "--setup-bucket"]);
  await system.waitFor(/Manager karton\.system started/);
  for (const [name, file] of [
    ["karton.classifier", "examples/triage/classifier.ts"],
    ["karton.archive-extractor", "examples/triage/archive-extractor.ts"],
    ["karton.triage-reporter", "examples/triage/reporter.ts"],
  ] as const) {
    kartons.push(start(name, file, ["--config-file", ini]));
  }
  for (const karton of kartons) await karton.waitFor(/Binding on: /);
  for (const karton of kartons) expect(await backend.getBind(karton.name)).not.toBeNull();
});

afterAll(async () => {
  const codes = await Promise.all(children.map(async (c) => [c.name, await c.stop()] as const));
  await backend?.close();
  if (objects && bucket) {
    const versions = await objects.listObjectVersions(bucket).catch(() => new Map<string, string[]>());
    const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
    if (entries.length > 0) await objects.deleteObjects(bucket, entries);
    await objects.deleteBucket(bucket).catch(() => undefined);
  }
  await admin?.flushdb();
  admin?.disconnect();
  rmSync(dir, { recursive: true, force: true });
  // Every service and karton-system stopped cleanly on SIGINT.
  for (const [name, code] of codes) expect(code, name).toBe(0);
});

describe("triage example, one process per service, Redis + S3", () => {
  it("runs the producer process and builds the analysis trees", async () => {
    const producer = start("producer", "examples/triage/producer.ts", ["--config-file", ini]);
    expect(await producer.exited, producer.text).toBe(0);
    const submitted = producer.output
      .map((line) => /^submitted (\S+) (.+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ rootUid: m[1] as string, name: m[2] as string }));
    expect(submitted.map((s) => s.name)).toEqual(["invoice.exe", "bundle.zip", "deploy.sh", "notes.txt"]);

    for (const { rootUid, name } of submitted) {
      const analysis = await waitForAnalysis(backend, rootUid, { timeoutMs: 30_000 });
      expect(analysis.crashed, analysis.format()).toEqual([]);
      expect(tree(analysis)).toBe(GENERATED_TREES[name]);
      // Resources live in the S3 bucket and are readable through the remote resources.
      const sample = analysis.root?.task.getResource("sample");
      expect((await sample?.content())?.length).toBe(sample?.size);
    }
    const bundle = submitted[1] as { rootUid: string };
    const reporter = kartons.find((k) => k.name === "karton.triage-reporter") as Child;
    await reporter.waitFor(
      new RegExp(`\\[${bundle.rootUid}\\] run\\.py: script/linux/py \\(from nested/inner\\.zip\\)`),
    );
    const metrics = await backend.getMetrics();
    expect(metrics.consumed["karton.classifier"]).toBe(10);
    expect(metrics.consumed["karton.archive-extractor"]).toBe(2);
    expect(metrics.consumed["karton.triage-reporter"]).toBe(10);
    expect(metrics.crashed).toEqual({});
  });

  it("the demo watches the same deployment with --submit-only", async () => {
    const dataDir = join(dir, "samples");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "hello.sh"), "#!/bin/sh\necho hello\n");
    const demo = start("demo", "examples/demo.ts", ["--config", ini, "--submit-only", "--samples", dataDir]);
    const code = await demo.exited;
    expect(code, demo.text).toBe(0);
    expect(demo.text).toContain(
      "found karton-system, karton.classifier, karton.archive-extractor, karton.triage-reporter",
    );
    expect(demo.text).toMatch(/^hello\.sh {2}script · linux · sh {2}/m);
    expect(demo.text).toContain("1/1 analyses done: 4 tasks, 0 crashed");
  });

  it("the demo runs karton-system and the services in its own process on the same deployment", async () => {
    const dataDir = join(dir, "more-samples");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "note.txt"), "just text\n");
    const demo = start("demo-in-process", "examples/demo.ts", ["--config", ini, "--samples", dataDir]);
    const code = await demo.exited;
    expect(code, demo.text).toBe(0);
    expect(demo.text).toContain("started karton-system, karton.classifier");
    expect(demo.text).toMatch(/^note\.txt {2}text · txt {2}/m);
    expect(demo.text).toContain("1/1 analyses done: 4 tasks, 0 crashed");
  });
});

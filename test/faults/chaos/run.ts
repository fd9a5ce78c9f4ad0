/**
 * The chaos run: real processes — a producer, karton-system, two consumer kinds (stage 1 sends
 * to stage 2) with two replicas each — carry N tasks with resources through the pipeline while a
 * driver, at random moments (seeded), SIGKILLs consumer replicas and karton-system (restarting
 * them), SIGKILLs Redis (append-only file, fsync always; restarted on the same port) and makes S3
 * unavailable for a while (a TCP proxy in front of the gateway is cut: connections refused).
 *
 * Then it checks: every task reached a terminal state, none was lost, how many were processed more
 * than once (at-least-once), every task held by a killed consumer was picked up again within the
 * recovery time, the pipeline drained, GC left no orphaned object and no Declared leftover, and no
 * process crashed (each exits 0 on SIGTERM at the end).
 *
 * Used by test/faults/chaos.test.ts (short run) and bench/chaos.ts (full run, N = 1000).
 * Needs the test S3 (KARTON_TEST_S3_*) and a redis-server binary (KARTON_TEST_REDIS_SERVER).
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { S3ObjectStore } from "../../../src/backend/s3/s3-object-store.js";
import { isJsonObject, type JsonValue } from "../../../src/json/index.js";
import { parseTask } from "../../../src/task/document.js";
import { TaskState } from "../../../src/task/enums.js";
import { type PrivateRedis, privateRedis } from "../../backend/redis-server.js";
import { testServices, uniqueName } from "../../helpers/services.js";
import { startTcpProxy, type TcpProxy } from "../../helpers/tcp-proxy.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const TSX_LOADER = pathToFileURL(join(REPO, "node_modules/tsx/dist/loader.mjs")).href;
const HERE = join(REPO, "test/faults/chaos");

export interface ChaosOptions {
  /** Tasks sent by the producer. */
  tasks: number;
  /** SIGKILLs of a random consumer replica (restarted after 0.3–1.5 s). */
  consumerKills: number;
  /** SIGKILLs of karton-system (restarted after 0.3–1.5 s). */
  systemKills: number;
  /** SIGKILLs of redis-server (restarted on the same port after 0.3–1.5 s; AOF, fsync always). */
  redisRestarts: number;
  /** Length of the S3 outage, seconds (0 = none). */
  s3OutageSeconds: number;
  /** `[system] task_claim_timeout` of every process, seconds. */
  claimTimeout: number;
  /** `[system] gc_interval`, seconds. */
  gcInterval: number;
  /** `[system] task_dispatched_timeout`, seconds (Declared leftovers of killed senders). */
  dispatchedTimeout: number;
  /** Length of the time slot of each kill/restart (one fault per slot, at a random moment in it). */
  slotSeconds: number;
  /** Seed of the fault schedule (random when omitted; printed). */
  seed?: number;
  /** Keep the work directory (records, logs) after a successful run. */
  keep?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: "consumer-kill" | "system-kill" | "redis-restart" | "s3-outage";
  /** ms since the start of the run. */
  at: number;
  target: string;
  /**
   * consumer-kill: tasks the replica was processing; `requeuedAfterMs`: from the kill until
   * karton-system put the task back on its queue (logged "Recovery: task ... requeued");
   * `recoveredAfterMs`: until a replica started processing it again (includes the wait in the queue).
   */
  held?: { uid: string; requeuedAfterMs: number | null; recoveredAfterMs: number | null }[];
  /** redis-restart / s3-outage / system-kill: how long the component was down, ms. */
  downMs?: number;
  /** ms from the end of the fault until the next task finished a stage. */
  resumedAfterMs?: number | null;
}

export interface ChaosReport {
  seed: number;
  options: ChaosOptions;
  workDir: string;
  sent: number;
  completed: number;
  /** Tasks (by n) that ended Crashed, with the reason. */
  crashed: { n: number | null; uid: string; reason: string }[];
  lost: number[];
  /** Numbers n whose stage-1 or stage-2 process() completed more than once. */
  processedMoreThanOnce: number;
  /** process() runs that were started again after the consumer died (START without DONE). */
  restartedAfterKill: number;
  /** Extra completed process() runs beyond one per task and stage. */
  duplicateRuns: { stage1: number; stage2: number };
  faults: FaultRecord[];
  /** Worst time between a consumer kill and the requeue of a task it held, ms. */
  maxClaimRecoveryMs: number | null;
  /** Worst time between a consumer kill and the next start of a task it held (queue wait included), ms. */
  maxPickUpMs: number | null;
  /** Recovery bound asserted for claims: claim timeout + recovery interval + 3 s. */
  claimRecoveryBoundMs: number;
  /** From the end of the last fault until every task was terminal, ms. */
  drainMs: number;
  /** End-to-end latency of a task (sent → stage 2 done), ms. */
  latency: { p50: number; p95: number; max: number };
  /** Task documents not Finished/Crashed when the pipeline had drained (Declared leftovers of killed senders). */
  leftoversAtDrain: number;
  /** Objects in the bucket not referenced by any task after GC. */
  orphanedObjects: string[];
  /** Task documents left after GC other than Crashed ones. */
  nonTerminalAfterGc: number;
  /** Processes that exited without being killed by the driver. */
  unexpectedExits: string[];
  /** Exit codes of the final SIGTERM of every process. */
  finalExitCodes: Record<string, number | null>;
  durationMs: number;
}

// ---- small helpers ------------------------------------------------------------------------------

/** mulberry32: a seeded PRNG in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined | false;
    try {
      value = await check();
    } catch {
      value = undefined;
    }
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > end) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

interface RecordLine {
  t: number;
  kind: "SENT" | "START" | "DONE";
  stage: number;
  n: number;
  uid: string;
  file: string;
}

function readRecords(dir: string): RecordLine[] {
  const out: RecordLine[] = [];
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      const [t, kind, stage, n, uid] = line.split(" ");
      if (!uid) continue;
      out.push({
        t: Number(t),
        kind: kind as RecordLine["kind"],
        stage: Number(stage),
        n: Number(n),
        uid,
        file,
      });
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** Keys of the default bucket referenced by resource markers anywhere in a document. */
function referencedKeys(value: JsonValue | undefined, bucket: string, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) referencedKeys(item, bucket, into);
    return;
  }
  if (!isJsonObject(value)) return;
  const marker = value.__karton_resource__;
  if (isJsonObject(marker) && typeof marker.uid === "string") {
    if (marker.bucket === undefined || marker.bucket === null || marker.bucket === bucket)
      into.add(marker.uid);
  }
  for (const item of Object.values(value)) referencedKeys(item, bucket, into);
}

// ---- managed child processes --------------------------------------------------------------------

class Managed {
  proc: ChildProcess | undefined;
  /** Set before a deliberate kill or stop. */
  #expectExit = false;
  readonly unexpectedExits: string[] = [];
  output = "";
  exited: Promise<number | null> = Promise.resolve(null);
  starts = 0;

  /** True for a process that is expected to exit by itself with status 0 (the producer). */
  finite = false;

  constructor(
    readonly name: string,
    readonly script: string,
    readonly args: string[],
    readonly env: NodeJS.ProcessEnv,
    readonly cwd: string,
    readonly logDir: string,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    this.#expectExit = false;
    this.starts++;
    const proc = spawn(process.execPath, ["--import", TSX_LOADER, this.script, ...this.args], {
      cwd: this.cwd,
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    const log = createWriteStream(join(this.logDir, `${this.name}.${this.starts}.log`));
    const keep = (chunk: Buffer) => {
      log.write(chunk);
      if (this.name === "karton-system") this.output = (this.output + chunk.toString()).slice(-200_000);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
    this.exited = new Promise((resolve) =>
      proc.on("exit", (code, signal) => {
        log.end();
        if (!this.#expectExit && !(this.finite && code === 0))
          this.unexpectedExits.push(`${this.name} (pid ${proc.pid}) exited: code ${code}, signal ${signal}`);
        resolve(code);
      }),
    );
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.#expectExit = true;
    this.proc?.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM and the exit code (SIGKILL after `graceMs`). */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (!this.alive) return this.proc?.exitCode ?? null;
    this.#expectExit = true;
    this.proc?.kill("SIGTERM");
    const timer = setTimeout(() => this.proc?.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

// ---- the run --------------------------------------------------------------------------------------

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const say = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const services = testServices();
  const t0 = Date.now();
  const since = () => Date.now() - t0;
  const workDir = mkdtempSync(join(tmpdir(), "karton-chaos-"));
  const recordsDir = join(workDir, "records");
  const logDir = join(workDir, "logs");
  mkdirSync(recordsDir);
  mkdirSync(logDir);
  say(`chaos: seed ${seed}, ${options.tasks} tasks, work dir ${workDir}`);

  let redis: PrivateRedis | undefined;
  let proxy: TcpProxy | undefined;
  let admin: Redis | undefined;
  const bucket = uniqueName("chaos");
  const objects = new S3ObjectStore({
    address: services.s3.address,
    accessKey: services.s3.accessKey,
    secretKey: services.s3.secretKey,
  });
  const procs: Managed[] = [];
  let ok = false;
  try {
    redis = await privateRedis(["--appendonly", "yes", "--appendfsync", "always"]);
    proxy = await startTcpProxy(services.s3.address);
    await objects.createBucket(bucket);
    admin = new Redis({ host: "127.0.0.1", port: redis.port, lazyConnect: true, maxRetriesPerRequest: 2 });
    admin.on("error", () => {});
    await admin.connect();

    const childEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: workDir,
      NO_COLOR: "1",
      NODE_NO_WARNINGS: "1",
      KARTON_REDIS_HOST: "127.0.0.1",
      KARTON_REDIS_PORT: String(redis.port),
      KARTON_S3_ADDRESS: proxy.url,
      KARTON_S3_ACCESS_KEY: services.s3.accessKey,
      KARTON_S3_SECRET_KEY: services.s3.secretKey,
      KARTON_S3_BUCKET: bucket,
      KARTON_SYSTEM_TASK_CLAIM_TIMEOUT: String(options.claimTimeout),
      KARTON_SYSTEM_GC_INTERVAL: String(options.gcInterval),
      KARTON_SYSTEM_TASK_DISPATCHED_TIMEOUT: String(options.dispatchedTimeout),
      CHAOS_RECORDS_DIR: recordsDir,
      CHAOS_TASKS: String(options.tasks),
    };
    const managed = (name: string, script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
      const m = new Managed(name, join(HERE, script), args, { ...childEnv, ...env }, workDir, logDir);
      procs.push(m);
      return m;
    };
    const system = new Managed(
      "karton-system",
      join(REPO, "src/system/main.ts"),
      [],
      childEnv,
      workDir,
      logDir,
    );
    procs.push(system);
    const consumers = [
      managed("stage1-a", "stage1.ts"),
      managed("stage1-b", "stage1.ts"),
      managed("stage2-a", "stage2.ts"),
      managed("stage2-b", "stage2.ts"),
    ];
    system.start();
    for (const c of consumers) c.start();
    await until("karton-system to start", 60_000, () => /Manager karton\.system started/.test(system.output));
    await until("the consumers' binds", 60_000, async () => (await admin?.hlen("karton.binds")) === 2);
    say(`chaos: processes up after ${since()} ms`);

    // The fault schedule: one fault per slot, at a random moment inside it; the S3 outage gets a
    // slot of its own, at a random position among the others.
    const kinds: FaultRecord["kind"][] = [
      ...Array<FaultRecord["kind"]>(options.consumerKills).fill("consumer-kill"),
      ...Array<FaultRecord["kind"]>(options.systemKills).fill("system-kill"),
      ...Array<FaultRecord["kind"]>(options.redisRestarts).fill("redis-restart"),
    ];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j] as FaultRecord["kind"], kinds[i] as FaultRecord["kind"]];
    }
    if (options.s3OutageSeconds > 0) kinds.splice(Math.floor(random() * (kinds.length + 1)), 0, "s3-outage");
    const slotMs = options.slotSeconds * 1000;
    const slots = kinds.map((kind) =>
      kind === "s3-outage" ? options.s3OutageSeconds * 1000 + slotMs : slotMs,
    );
    const windowMs = slots.reduce((a, b) => a + b, 0);
    const rate = Math.max(1, options.tasks / Math.max(1, (windowMs - slotMs / 2) / 1000));
    const producer = managed("producer", "producer.ts", [], { CHAOS_RATE: rate.toFixed(3) });
    producer.finite = true;
    producer.start();
    const scheduleStart = since();
    say(
      `chaos: producer at ${rate.toFixed(1)} tasks/s; faults: ${kinds.join(", ")} over ${(windowMs / 1000).toFixed(0)} s`,
    );

    const restartDelay = () => 300 + Math.floor(random() * 1200);
    const faults: FaultRecord[] = [];
    let slotStart = scheduleStart;
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i] as FaultRecord["kind"];
      const slot = slots[i] as number;
      const room = kind === "s3-outage" ? slot - options.s3OutageSeconds * 1000 : slot;
      const at = slotStart + Math.floor(random() * room * 0.5);
      slotStart += slot;
      if (at > since()) await sleep(at - since());
      if (kind === "consumer-kill") {
        // A replica that is processing something right now (waiting up to 5 s for one), else any.
        let busy: Managed[] = [];
        for (let waited = 0; busy.length === 0 && waited < 5000; waited += 20) {
          busy = consumers.filter((c) => heldBy(recordsDir, c.name.slice(0, 6), c.pid).length > 0);
          if (busy.length === 0) await sleep(20);
        }
        const pool = busy.length > 0 ? busy : consumers;
        const victim = pool[Math.floor(random() * pool.length)] as Managed;
        const pid = victim.pid;
        const held = heldBy(recordsDir, victim.name.slice(0, 6), pid);
        await victim.kill();
        const fault: FaultRecord = {
          kind,
          at: since(),
          target: `${victim.name} pid ${pid}`,
          held: held.map((uid) => ({ uid, requeuedAfterMs: null, recoveredAfterMs: null })),
        };
        faults.push(fault);
        say(
          `chaos: +${(fault.at / 1000).toFixed(1)} s SIGKILL ${fault.target} (processing ${held.length} task(s))`,
        );
        await sleep(restartDelay());
        victim.start();
      } else if (kind === "system-kill") {
        const pid = system.pid;
        await system.kill();
        const fault: FaultRecord = { kind, at: since(), target: `karton-system pid ${pid}` };
        faults.push(fault);
        say(`chaos: +${(fault.at / 1000).toFixed(1)} s SIGKILL ${fault.target}`);
        await sleep(restartDelay());
        system.output = "";
        system.start();
        await until("karton-system to restart", 60_000, () =>
          /Manager karton\.system started/.test(system.output),
        );
        fault.downMs = since() - fault.at;
      } else if (kind === "redis-restart") {
        await redis.kill();
        const fault: FaultRecord = { kind, at: since(), target: `redis-server :${redis.port}` };
        faults.push(fault);
        say(`chaos: +${(fault.at / 1000).toFixed(1)} s SIGKILL ${fault.target}`);
        await sleep(restartDelay());
        await redis.start();
        fault.downMs = since() - fault.at;
      } else {
        await proxy.pause();
        const fault: FaultRecord = { kind, at: since(), target: "S3 (proxy cut)" };
        faults.push(fault);
        say(`chaos: +${(fault.at / 1000).toFixed(1)} s S3 unavailable for ${options.s3OutageSeconds} s`);
        await sleep(options.s3OutageSeconds * 1000);
        await proxy.resume();
        fault.downMs = since() - fault.at;
      }
    }
    const faultsEnd = since();
    say(
      `chaos: faults done at +${(faultsEnd / 1000).toFixed(1)} s; waiting for the producer and the pipeline to drain`,
    );

    const producerCode = await Promise.race([producer.exited, sleep(300_000).then(() => "timeout" as const)]);
    if (producerCode !== 0) throw new Error(`chaos: the producer did not finish (${producerCode})`);

    // Drained: every sent n finished stage 2, or some task of it is Crashed; nothing in flight.
    const recoveryIntervalMs = Math.min(5, Math.max(1, options.claimTimeout / 4)) * 1000;
    const drainBoundMs = 2 * options.claimTimeout * 1000 + recoveryIntervalMs + 60_000;
    let crashedDocs: { n: number | null; uid: string; reason: string }[] = [];
    let leftoversAtDrain = 0;
    await until("the pipeline to drain", drainBoundMs, async () => {
      const records = readRecords(recordsDir);
      const done2 = new Set(records.filter((r) => r.kind === "DONE" && r.stage === 2).map((r) => r.n));
      const docs = await allTasks(admin as Redis, bucket);
      crashedDocs = docs
        .filter((d) => d.status === TaskState.Crashed)
        .map((d) => ({ n: typeof d.n === "number" ? d.n : null, uid: d.uid, reason: d.error }));
      const crashedN = new Set(crashedDocs.map((c) => c.n));
      for (let n = 1; n <= options.tasks; n++) if (!done2.has(n) && !crashedN.has(n)) return false;
      const unrouted = (await admin?.llen("karton.tasks")) ?? 1;
      const active = docs.filter((d) => d.status === TaskState.Spawned || d.status === TaskState.Started);
      if (unrouted > 0 || active.length > 0) return false;
      leftoversAtDrain = docs.filter((d) => d.status === TaskState.Declared).length;
      return true;
    });
    const drainMs = since() - faultsEnd;
    say(
      `chaos: drained ${(drainMs / 1000).toFixed(1)} s after the last fault; ${leftoversAtDrain} Declared leftover(s); waiting for GC`,
    );

    // GC: every Finished document and Declared leftover collected, then every object not referenced
    // by a remaining (Crashed) task deleted.
    let orphanedObjects: string[] = [];
    let nonTerminalAfterGc = 0;
    const gcBoundMs = (options.dispatchedTimeout + 3 * options.gcInterval + 30) * 1000;
    try {
      await until("GC to collect finished tasks and their objects", gcBoundMs, async () => {
        const docs = await allTasks(admin as Redis, bucket);
        nonTerminalAfterGc = docs.filter((d) => d.status !== TaskState.Crashed).length;
        const referenced = new Set<string>();
        for (const d of docs) for (const key of d.referenced) referenced.add(key);
        const listed = await objects.listObjectVersions(bucket);
        orphanedObjects = [...listed.keys()].filter((key) => !referenced.has(key));
        return nonTerminalAfterGc === 0 && orphanedObjects.length === 0;
      });
    } catch {
      // reported below
    }

    // Every process must still be alive, and exit 0 on SIGTERM.
    const unexpectedExits = procs.flatMap((p) => p.unexpectedExits);
    const finalExitCodes: Record<string, number | null> = {};
    for (const p of [...consumers, system]) {
      if (!p.alive) unexpectedExits.push(`${p.name} not running at the end`);
    }
    for (const p of [...consumers, system]) finalExitCodes[p.name] = await p.stop();

    // Figures.
    const records = readRecords(recordsDir);
    const sent = new Set(records.filter((r) => r.kind === "SENT").map((r) => r.n));
    const done2 = new Set(records.filter((r) => r.kind === "DONE" && r.stage === 2).map((r) => r.n));
    const crashedN = new Set(crashedDocs.map((c) => c.n));
    const lost: number[] = [];
    for (let n = 1; n <= options.tasks; n++) if (!done2.has(n) && !crashedN.has(n)) lost.push(n);
    const doneCount = (stage: number) => {
      const byN = new Map<number, number>();
      for (const r of records)
        if (r.kind === "DONE" && r.stage === stage) byN.set(r.n, (byN.get(r.n) ?? 0) + 1);
      return byN;
    };
    const d1 = doneCount(1);
    const d2 = doneCount(2);
    let more = 0;
    for (let n = 1; n <= options.tasks; n++) if ((d1.get(n) ?? 0) > 1 || (d2.get(n) ?? 0) > 1) more++;
    const extra = (m: Map<number, number>) => [...m.values()].reduce((a, c) => a + Math.max(0, c - 1), 0);
    const startsByUid = new Map<string, RecordLine[]>();
    for (const r of records)
      if (r.kind === "START") startsByUid.set(r.uid, [...(startsByUid.get(r.uid) ?? []), r]);
    const restartedAfterKill = [...startsByUid.values()].filter((s) => s.length > 1).length;

    const requeuedAt = requeueTimes(logDir);
    for (const fault of faults) {
      const absolute = t0 + fault.at + (fault.downMs ?? 0);
      if (fault.held) {
        for (const h of fault.held) {
          const again = (startsByUid.get(h.uid) ?? []).find((r) => r.t > t0 + fault.at);
          const doneElsewhere = records.find(
            (r) => r.kind === "DONE" && r.uid === h.uid && r.t > t0 + fault.at,
          );
          h.recoveredAfterMs = again ? again.t - (t0 + fault.at) : doneElsewhere ? 0 : null;
          const requeued = (requeuedAt.get(h.uid) ?? []).find((t) => t > t0 + fault.at);
          h.requeuedAfterMs = requeued !== undefined ? requeued - (t0 + fault.at) : null;
        }
      }
      const next = records.find((r) => r.kind === "DONE" && r.t >= absolute);
      fault.resumedAfterMs = next ? next.t - absolute : null;
    }
    const recoveries = faults
      .flatMap((f) => (f.held ?? []).map((h) => h.requeuedAfterMs))
      .filter((x): x is number => x !== null);
    const pickUps = faults
      .flatMap((f) => (f.held ?? []).map((h) => h.recoveredAfterMs))
      .filter((x): x is number => x !== null);
    const sentAt = new Map<number, number>();
    for (const r of records) if (r.kind === "SENT" && !sentAt.has(r.n)) sentAt.set(r.n, r.t);
    const latencies: number[] = [];
    for (const r of records) {
      if (r.kind !== "DONE" || r.stage !== 2) continue;
      const s = sentAt.get(r.n);
      if (s !== undefined && !latencies[r.n]) latencies[r.n] = r.t - s;
    }
    const sortedLatencies = latencies.filter((x) => x !== undefined).sort((a, b) => a - b);

    const report: ChaosReport = {
      seed,
      options,
      workDir,
      sent: sent.size,
      completed: done2.size,
      crashed: crashedDocs,
      lost,
      processedMoreThanOnce: more,
      restartedAfterKill,
      duplicateRuns: { stage1: extra(d1), stage2: extra(d2) },
      faults,
      maxClaimRecoveryMs: recoveries.length ? Math.max(...recoveries) : null,
      maxPickUpMs: pickUps.length ? Math.max(...pickUps) : null,
      claimRecoveryBoundMs: options.claimTimeout * 1000 + recoveryIntervalMs + 3000,
      drainMs,
      latency: {
        p50: percentile(sortedLatencies, 50),
        p95: percentile(sortedLatencies, 95),
        max: sortedLatencies.at(-1) ?? 0,
      },
      leftoversAtDrain,
      orphanedObjects,
      nonTerminalAfterGc,
      unexpectedExits,
      finalExitCodes,
      durationMs: since(),
    };
    ok =
      report.lost.length === 0 &&
      report.orphanedObjects.length === 0 &&
      report.nonTerminalAfterGc === 0 &&
      report.unexpectedExits.length === 0;
    return report;
  } finally {
    for (const p of procs) if (p.alive) await p.kill();
    admin?.disconnect();
    try {
      const versions = await objects.listObjectVersions(bucket);
      const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
      if (entries.length > 0) await objects.deleteObjects(bucket, entries);
      await objects.deleteBucket(bucket);
    } catch {
      // best effort
    }
    objects.close();
    await proxy?.close();
    await redis?.destroy();
    if (ok && !options.keep) rmSync(workDir, { recursive: true, force: true });
    else say(`chaos: records and logs kept in ${workDir}`);
  }
}

/** When karton-system requeued each task of a dead consumer (ms since epoch), from its logs. */
function requeueTimes(logDir: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const pattern = /^\[([^\]]+)\]\[WARNING\] Recovery: task (\S+) requeued for /;
  for (const file of readdirSync(logDir)) {
    if (!file.startsWith("karton-system.")) continue;
    for (const line of readFileSync(join(logDir, file), "utf8").split("\n")) {
      const m = pattern.exec(line);
      if (!m) continue;
      const t = Date.parse(m[1] as string);
      out.set(
        m[2] as string,
        [...(out.get(m[2] as string) ?? []), t].sort((a, b) => a - b),
      );
    }
  }
  return out;
}

/** Uids a consumer replica (records file prefix `stage1`/`stage2`, pid) started and did not finish. */
function heldBy(recordsDir: string, prefix: string, pid: number | undefined): string[] {
  const file = join(recordsDir, `${prefix}-${pid}.log`);
  if (pid === undefined || !existsSync(file)) return [];
  const open = new Set<string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const [, kind, , , uid] = line.split(" ");
    if (!uid) continue;
    if (kind === "START") open.add(uid);
    else if (kind === "DONE") open.delete(uid);
  }
  return [...open];
}

interface TaskSummary {
  uid: string;
  status: string;
  n: unknown;
  error: string;
  referenced: Set<string>;
}

async function allTasks(admin: Redis, bucket: string): Promise<TaskSummary[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await admin.scan(cursor, "MATCH", "karton.task:*", "COUNT", 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== "0");
  const out: TaskSummary[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const raws = await admin.mget(...keys.slice(i, i + 500));
    for (const raw of raws) {
      if (raw === null) continue;
      const task = parseTask(raw, { decodeResources: false });
      const referenced = new Set<string>();
      const doc = JSON.parse(raw) as JsonValue;
      if (isJsonObject(doc)) {
        referencedKeys(doc.payload, bucket, referenced);
        referencedKeys(doc.payload_persistent, bucket, referenced);
      }
      out.push({
        uid: task.uid,
        status: task.status,
        n: task.payload.n,
        error: (task.error ?? []).join("").trim(),
        referenced,
      });
    }
  }
  return out;
}

/** The report as the lines printed at the end of a run. */
export function formatReport(r: ChaosReport): string {
  const s = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `chaos run: seed ${r.seed}, ${r.options.tasks} tasks, ${(r.durationMs / 1000).toFixed(0)} s`,
    `  settings: task_claim_timeout ${r.options.claimTimeout} s, gc_interval ${r.options.gcInterval} s, task_dispatched_timeout ${r.options.dispatchedTimeout} s`,
    `  faults: ${r.faults.length} (${r.options.consumerKills} consumer SIGKILLs, ${r.options.systemKills} karton-system SIGKILLs, ${r.options.redisRestarts} Redis SIGKILL+restarts, S3 outage ${r.options.s3OutageSeconds} s)`,
  ];
  for (const f of r.faults) {
    const held = f.held
      ? `, held ${f.held.length} task(s), requeued after ${f.held.map((h) => s(h.requeuedAfterMs)).join(", ") || "—"}, ` +
        `processed again after ${f.held.map((h) => s(h.recoveredAfterMs)).join(", ") || "—"}`
      : "";
    const down = f.downMs !== undefined ? `, down ${s(f.downMs)}` : "";
    lines.push(
      `    +${(f.at / 1000).toFixed(1)} s ${f.kind} ${f.target}${down}${held}; next task done ${s(f.resumedAfterMs)} after`,
    );
  }
  lines.push(
    `  sent ${r.sent}, completed both stages ${r.completed}, crashed ${r.crashed.length}, lost ${r.lost.length}${r.lost.length ? ` (${r.lost.slice(0, 20).join(", ")})` : ""}`,
    `  processed more than once: ${r.processedMoreThanOnce} task(s) (extra runs: stage 1 ${r.duplicateRuns.stage1}, stage 2 ${r.duplicateRuns.stage2}); process() restarted after a kill: ${r.restartedAfterKill}`,
    `  claims of killed consumers requeued after max ${s(r.maxClaimRecoveryMs)} (bound ${s(r.claimRecoveryBoundMs)}); processed again after max ${s(r.maxPickUpMs)} (queue wait included)`,
    `  drained ${s(r.drainMs)} after the last fault; latency sent→done p50 ${s(r.latency.p50)}, p95 ${s(r.latency.p95)}, max ${s(r.latency.max)}`,
    `  Declared leftovers at drain ${r.leftoversAtDrain}; after GC: non-terminal documents ${r.nonTerminalAfterGc}, orphaned objects ${r.orphanedObjects.length}`,
    `  processes: unexpected exits ${r.unexpectedExits.length}${r.unexpectedExits.length ? ` (${r.unexpectedExits.join("; ")})` : ""}; exit codes on SIGTERM ${JSON.stringify(r.finalExitCodes)}`,
  );
  for (const c of r.crashed.slice(0, 10))
    lines.push(`  crashed n=${c.n} ${c.uid}: ${c.reason.split("\n").at(-1)}`);
  return lines.join("\n");
}

/**
 * Workload 3 — end to end: producer → karton-system → consumer(s) with a no-op process().
 *
 * Throughput: N tasks (default 3,000, after 3,000 of warm-up, as in a service that has been running
 * for a while: V8 has compiled the hot paths), built beforehand, sent as fast as
 * possible (32 sends in flight, each with Producer.sendTask), timed from the first
 * send until the consumers have counted all of them (`karton.metrics.consumed`), with 1 consumer
 * process, with 4, and with 1 process at concurrency 16.
 * Latency: tasks sent at a steady 200/s for 10 s (after 15 s of warm-up, see steadyWarmupSeconds)
 * to one consumer process; send time (in the payload) → process() start, measured inside the
 * consumer.
 *
 * The real `karton-system` (GC on, default interval) and real consumer processes
 * (bench/lib/noop-consumer.ts, a karton-ts Consumer) run from the built JavaScript; log level INFO
 * (KARTON_BENCH_LOG_LEVEL sets the consumers' level).
 * Options (env): KARTON_BENCH_RUNS (3), KARTON_BENCH_TASKS (3000), KARTON_BENCH_RATE (200),
 * KARTON_BENCH_SECONDS (10), KARTON_BENCH_WARMUP (15), KARTON_BENCH_PROFILE=<dir> (profiles of
 * karton-system and consumers).
 *
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/e2e.js
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { S3ObjectStore } from "../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../src/config/config.js";
import { Producer } from "../src/service/producer.js";
import type { Task } from "../src/task/task.js";
import {
  adminRedis,
  DIST,
  NodeChild,
  paced,
  procFigures,
  profileArgs,
  redisCpuSeconds,
  runsWanted,
  scratchDir,
  selfFigures,
  services,
  sleep,
  startSystem,
  steadyWarmupSeconds,
  wallMs,
  writeIni,
} from "./lib/env.js";
import { latency, report } from "./lib/stats.js";
import { BENCH_ORIGIN, makeTask } from "./lib/workload.js";

const IDENTITY = "bench.noop";
const LAYOUT = { binds: 1, matches: 1 };

export interface E2eSetup {
  processes: number;
  concurrency: number;
}

interface Deployment {
  system: NodeChild;
  consumers: NodeChild[];
  producer: Producer;
  admin: ReturnType<typeof adminRedis>;
  send: (i: number, stamp: boolean) => Promise<void>;
  /** Sends a task built beforehand (Producer.sendTask's two steps). */
  sendBuilt: (task: Task) => Promise<void>;
  consumed: () => Promise<number>;
  stop: () => Promise<void>;
}

async function deploy(setup: E2eSetup, logLevel: string): Promise<Deployment> {
  const s = services();
  const admin = adminRedis(s);
  await admin.flushdb();
  const objects = new S3ObjectStore({
    address: s.s3.address,
    accessKey: s.s3.accessKey,
    secretKey: s.s3.secretKey,
  });
  if (!(await objects.bucketExists("karton"))) await objects.createBucket("karton");
  const dir = scratchDir("e2e");
  const ini = writeIni(dir, s, { bucket: "karton" });
  const system = await startSystem(ini, [], { nodeArgs: profileArgs("e2e-system") });
  const consumers: NodeChild[] = [];
  for (let p = 0; p < setup.processes; p++) {
    const args = [
      join(DIST, "bench", "lib", "noop-consumer.js"),
      "--config-file",
      ini,
      "--log-level",
      logLevel,
    ];
    if (setup.concurrency > 1) args.push("--concurrency", String(setup.concurrency));
    consumers.push(new NodeChild([...profileArgs("e2e-consumer"), ...args]));
  }
  // Ready: every consumer process registered (heartbeat) and the bind is there (any log level).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const regs = (await admin.hvals("karton.ts.instances")).filter((r) =>
      r.includes(`"identity":"${IDENTITY}"`),
    );
    if (regs.length >= setup.processes && (await admin.hexists("karton.binds", IDENTITY)) === 1) break;
    if (Date.now() > deadline)
      throw new Error(`e2e: consumers not ready:\n${consumers.map((c) => c.tail).join("\n")}`);
    await sleep(20);
  }
  // The real Producer (sendTask), with the same karton.ini as the services.
  const producer = new Producer({ config: KartonConfig.load({ path: ini }), identity: BENCH_ORIGIN });
  await producer.connect();
  const send = async (i: number, stamp: boolean) => {
    const { task } = makeTask({
      i,
      layout: LAYOUT,
      bytes: 1024,
      bucket: "karton",
      resourceUid: `res-${i % 100}`,
    });
    if (stamp) task.payload.bench_sent_ms = wallMs();
    await producer.sendTask(task);
  };
  const sendBuilt = async (task: Task) => {
    await producer.sendTask(task);
  };
  const consumed = async () => Number((await admin.hget("karton.metrics.consumed", IDENTITY)) ?? 0);
  const stop = async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await system.stop();
    await producer.close();
    admin.disconnect();
  };
  return { system, consumers, producer, admin, send, sendBuilt, consumed, stop };
}

/** Sends `count` tasks with at most `inFlight` sends at once. */
/** Builds `count` tasks (not timed: the benchmark's own work). */
function buildTasks(first: number, count: number): Task[] {
  const out: Task[] = [];
  for (let i = first; i < first + count; i++) {
    out.push(
      makeTask({ i, layout: LAYOUT, bytes: 1024, bucket: "karton", resourceUid: `res-${i % 100}` }).task,
    );
  }
  return out;
}

/** Sends the tasks with at most `inFlight` sends at once. */
async function sendMany(d: Deployment, tasks: Task[], inFlight = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < tasks.length) await d.sendBuilt(tasks[next++] as Task);
    }),
  );
}

async function waitConsumed(d: Deployment, target: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await d.consumed()) >= target) return wallMs();
    if (Date.now() > deadline) throw new Error(`e2e: only ${await d.consumed()} of ${target} consumed`);
    await sleep(5);
  }
}

export interface E2eThroughput extends Record<string, number> {
  tasksPerSecond: number;
  seconds: number;
  /** How long the producer took to send them all. */
  sendSeconds: number;
  consumerCpuSeconds: number;
  systemCpuSeconds: number;
  redisCpuSeconds: number;
  /** The benchmark process: producer and polling. */
  producerCpuSeconds: number;
  consumerPeakRssMb: number;
}

export async function e2eThroughputRun(
  setup: E2eSetup,
  tasks: number,
  warmup = 3000,
): Promise<E2eThroughput> {
  const d = await deploy(setup, process.env.KARTON_BENCH_LOG_LEVEL ?? "INFO");
  try {
    await sendMany(d, buildTasks(0, warmup));
    await waitConsumed(d, warmup);
    const cpu = () => d.consumers.reduce((sum, c) => sum + (procFigures(c.pid)?.cpuSeconds ?? 0), 0);
    const batch = buildTasks(warmup, tasks);
    const cpu0 = cpu();
    const sys0 = procFigures(d.system.pid)?.cpuSeconds ?? 0;
    const redis0 = await redisCpuSeconds(d.admin);
    const self0 = selfFigures().cpuSeconds;
    const t0 = wallMs();
    await sendMany(d, batch);
    const sent = wallMs();
    const t1 = await waitConsumed(d, warmup + tasks);
    const seconds = (t1 - t0) / 1000;
    return {
      tasksPerSecond: tasks / seconds,
      seconds,
      sendSeconds: (sent - t0) / 1000,
      consumerCpuSeconds: cpu() - cpu0,
      systemCpuSeconds: (procFigures(d.system.pid)?.cpuSeconds ?? 0) - sys0,
      redisCpuSeconds: (await redisCpuSeconds(d.admin)) - redis0,
      producerCpuSeconds: selfFigures().cpuSeconds - self0,
      consumerPeakRssMb: Math.max(...d.consumers.map((c) => procFigures(c.pid)?.peakRssMb ?? 0)),
    };
  } finally {
    await d.stop();
  }
}

export interface E2eLatency extends Record<string, number> {
  tasks: number;
  p50: number;
  p99: number;
  max: number;
}

export async function e2eLatencyRun(rate: number, seconds: number): Promise<E2eLatency> {
  const d = await deploy({ processes: 1, concurrency: 1 }, process.env.KARTON_BENCH_LOG_LEVEL ?? "INFO");
  let stopped = false;
  try {
    const warmup = steadyWarmupSeconds();
    await paced(rate, warmup, (i) => d.send(i, false)); // not measured
    const total = Math.round(rate * seconds);
    await paced(rate, seconds, (i) => d.send(1_000_000 + i, true));
    await waitConsumed(d, Math.round(rate * warmup) + total);
    const consumer = d.consumers[0] as NodeChild;
    const reported = consumer.waitFor(/^latencies /, 60_000);
    await d.stop();
    stopped = true;
    const line = await reported;
    const l = latency(JSON.parse(line.slice("latencies ".length)) as number[]);
    return { tasks: l.n, p50: l.p50, p99: l.p99, max: l.max };
  } finally {
    if (!stopped) await d.stop();
  }
}

export async function e2e(
  runs: number,
  tasks: number,
  rate: number,
  seconds: number,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const setups: [string, E2eSetup][] = [
    ["1 process", { processes: 1, concurrency: 1 }],
    ["4 processes", { processes: 4, concurrency: 1 }],
    ["1 process, concurrency 16", { processes: 1, concurrency: 16 }],
  ];
  for (const [name, setup] of setups) {
    const results: E2eThroughput[] = [];
    for (let r = 0; r < runs; r++) results.push(await e2eThroughputRun(setup, tasks));
    const med = report(
      `End to end, ${tasks} tasks as fast as possible: ${name}`,
      [
        { key: "tasksPerSecond", label: "tasks/s" },
        { key: "seconds", label: "seconds", digits: 2 },
        { key: "sendSeconds", label: "producer s", digits: 2 },
        { key: "consumerCpuSeconds", label: "consumer CPU s", digits: 2 },
        { key: "systemCpuSeconds", label: "system CPU s", digits: 2 },
        { key: "redisCpuSeconds", label: "Redis CPU s", digits: 2 },
        { key: "producerCpuSeconds", label: "producer CPU s", digits: 2 },
        { key: "consumerPeakRssMb", label: "consumer peak RSS MB", digits: 0 },
      ],
      results,
    );
    out[`tasksPerSecond ${name}`] = med.tasksPerSecond;
  }
  const lat: E2eLatency[] = [];
  for (let r = 0; r < runs; r++) lat.push(await e2eLatencyRun(rate, seconds));
  const med = report(
    `End to end, steady ${rate} tasks/s for ${seconds} s, 1 consumer process: send → process() start (ms)`,
    [
      { key: "tasks", label: "tasks", digits: 0 },
      { key: "p50", label: "p50 ms", digits: 2 },
      { key: "p99", label: "p99 ms", digits: 2 },
      { key: "max", label: "max ms", digits: 1 },
    ],
    lat,
  );
  out.p50 = med.p50;
  out.p99 = med.p99;
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const env = process.env;
  const only = env.KARTON_BENCH_ONLY; // "throughput" | "latency"
  const runs = runsWanted(3);
  if (only === "latency") {
    const lat: E2eLatency[] = [];
    for (let r = 0; r < runs; r++)
      lat.push(
        await e2eLatencyRun(Number(env.KARTON_BENCH_RATE ?? 200), Number(env.KARTON_BENCH_SECONDS ?? 10)),
      );
    report(
      "End to end, steady: send → process() start (ms)",
      [
        { key: "p50", label: "p50 ms", digits: 2 },
        { key: "p99", label: "p99 ms", digits: 2 },
        { key: "max", label: "max ms", digits: 1 },
      ],
      lat,
    );
  } else {
    await e2e(
      runs,
      Number(env.KARTON_BENCH_TASKS ?? 3000),
      Number(env.KARTON_BENCH_RATE ?? 200),
      Number(env.KARTON_BENCH_SECONDS ?? 10),
    );
  }
  process.exit(0);
}

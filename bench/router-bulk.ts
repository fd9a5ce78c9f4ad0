/**
 * Workload 1 — router, bulk: N unrouted tasks already queued, B persistent binds of which M match
 * each task; `karton-system --disable-gc` is started and timed until every fork is queued.
 *
 * Prints tasks/s and forks/s (from the first task taken to the last fork queued), the system's CPU
 * seconds over that interval and its peak RSS (VmHWM). Options (env):
 *   KARTON_BENCH_RUNS (default 5), KARTON_BENCH_TASKS (10000), KARTON_BENCH_BINDS (20),
 *   KARTON_BENCH_MATCHES (2), KARTON_BENCH_BYTES (1024), KARTON_BENCH_LOG_LEVEL (INFO),
 *   KARTON_BENCH_PROFILE=<dir> (node --cpu-prof of karton-system).
 *
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/router-bulk.js
 */
import { pathToFileURL } from "node:url";
import { S3ObjectStore } from "../src/backend/s3/s3-object-store.js";
import {
  adminRedis,
  procFigures,
  profileArgs,
  redisCpuSeconds,
  runsWanted,
  scratchDir,
  services,
  sleep,
  startSystem,
  wallMs,
  writeIni,
} from "./lib/env.js";
import { report } from "./lib/stats.js";
import {
  type BindLayout,
  makeBinds,
  makeTask,
  queuedForks,
  queueUnrouted,
  registerBinds,
} from "./lib/workload.js";

export interface BulkOptions {
  tasks: number;
  layout: BindLayout;
  bytes: number;
  logLevel: string;
}

export interface BulkFigures extends Record<string, number> {
  tasksPerSecond: number;
  forksPerSecond: number;
  seconds: number;
  cpuSeconds: number;
  cpuPercent: number;
  peakRssMb: number;
  redisCpuPercent: number;
  /** karton-system CPU per routed task, µs. */
  cpuUsPerTask: number;
  /** Redis CPU per routed task, µs. */
  redisUsPerTask: number;
}

/** One run: fresh db, tasks queued, system started, polled until every fork is queued. */
export async function routerBulkRun(o: BulkOptions): Promise<BulkFigures> {
  const s = services();
  const redis = adminRedis(s);
  await redis.flushdb();
  const binds = makeBinds(o.layout);
  await registerBinds(redis, binds);
  const identities = binds.map((b) => b.identity);
  const tasks: ReturnType<typeof makeTask>[] = [];
  let expectedForks = 0;
  for (let i = 0; i < o.tasks; i++) {
    tasks.push(
      makeTask({ i, layout: o.layout, bytes: o.bytes, bucket: "karton", resourceUid: `res-${i % 100}` }),
    );
  }
  for (let i = 0; i < o.tasks; i++) {
    expectedForks += binds.filter((b) => b.filters[0]?.group === tasks[i]?.task.headers.group).length;
  }
  await queueUnrouted(redis, tasks);

  const dir = scratchDir("bulk");
  const ini = writeIni(dir, s, {
    bucket: "karton",
    extra: ["[logging]", `level = ${o.logLevel}`],
  });
  // The bucket is not used by the router but karton-system checks it exists.
  const objects = new S3ObjectStore({
    address: s.s3.address,
    accessKey: s.s3.accessKey,
    secretKey: s.s3.secretKey,
  });
  if (!(await objects.bucketExists("karton"))) await objects.createBucket("karton");
  objects.close();

  const system = await startSystem(ini, ["--disable-gc"], {
    nodeArgs: profileArgs("router-bulk"),
    waitStarted: false,
  });
  const poll = redis.duplicate();
  let t0 = 0;
  let cpu0 = 0;
  let t1 = 0;
  let cpu1 = 0;
  let redis0 = 0;
  let redis1 = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`router-bulk: not finished after 300 s:\n${system.tail}`);
    if (t0 === 0) {
      const left = await poll.llen("karton.tasks");
      if (left < o.tasks) {
        t0 = wallMs();
        cpu0 = procFigures(system.pid)?.cpuSeconds ?? 0;
        redis0 = await redisCpuSeconds(poll);
      } else {
        await sleep(1);
        continue;
      }
    }
    const queued = await queuedForks(poll, identities);
    if (queued >= expectedForks) {
      t1 = wallMs();
      cpu1 = procFigures(system.pid)?.cpuSeconds ?? 0;
      redis1 = await redisCpuSeconds(poll);
      break;
    }
    await sleep(2);
  }
  const peak = procFigures(system.pid)?.peakRssMb ?? Number.NaN;
  await system.stop();
  poll.disconnect();
  redis.disconnect();
  const seconds = (t1 - t0) / 1000;
  return {
    tasksPerSecond: o.tasks / seconds,
    forksPerSecond: expectedForks / seconds,
    seconds,
    cpuSeconds: cpu1 - cpu0,
    cpuPercent: ((cpu1 - cpu0) / seconds) * 100,
    peakRssMb: peak,
    redisCpuPercent: ((redis1 - redis0) / seconds) * 100,
    cpuUsPerTask: ((cpu1 - cpu0) / o.tasks) * 1e6,
    redisUsPerTask: ((redis1 - redis0) / o.tasks) * 1e6,
  };
}

export async function routerBulk(o: BulkOptions, runs: number, title?: string): Promise<BulkFigures> {
  const results: BulkFigures[] = [];
  for (let r = 0; r < runs; r++) results.push(await routerBulkRun(o));
  return report(
    title ??
      `Router, bulk: ${o.tasks} tasks, ${o.layout.binds} binds (${o.layout.matches} match each task), ${o.bytes} B documents, log level ${o.logLevel}`,
    [
      { key: "tasksPerSecond", label: "tasks/s" },
      { key: "forksPerSecond", label: "forks/s" },
      { key: "seconds", label: "seconds", digits: 2 },
      { key: "cpuSeconds", label: "CPU s", digits: 2 },
      { key: "cpuPercent", label: "CPU %" },
      { key: "peakRssMb", label: "peak RSS MB", digits: 0 },
      { key: "redisCpuPercent", label: "Redis CPU %" },
    ],
    results,
  );
}

export function bulkOptionsFromEnv(): BulkOptions {
  const env = process.env;
  return {
    tasks: Number(env.KARTON_BENCH_TASKS ?? 10_000),
    layout: { binds: Number(env.KARTON_BENCH_BINDS ?? 20), matches: Number(env.KARTON_BENCH_MATCHES ?? 2) },
    bytes: Number(env.KARTON_BENCH_BYTES ?? 1024),
    logLevel: env.KARTON_BENCH_LOG_LEVEL ?? "INFO",
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await routerBulk(bulkOptionsFromEnv(), runsWanted(5));
  process.exit(0);
}

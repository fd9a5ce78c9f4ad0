/**
 * Workload 4 — garbage collection, with the real `karton-system` (router disabled, or enabled for
 * the routing-during-GC part).
 *
 * a. N Finished tasks (default 200,000, ~1 KB each) in Redis, each referencing an S3 object of the
 *    default bucket: one GC pass (`--disable-router --gc-interval 1`): its duration (the pass's own
 *    figure, logged as "GC: pass done in X s") and the system's peak RSS. Every task is deleted,
 *    then every object (unreferenced once the tasks are gone).
 * b. N Spawned tasks: nothing may be deleted; duration and peak RSS.
 * c. Router and GC in one process (20 binds, 2 match each task) at a steady 100 tasks/s while a pass
 *    over N Finished tasks runs: routing latency (send → fork popped) before, during and after the
 *    pass.
 *
 * Creating one S3 object per task on Ceph is slow, so the tasks reference K real objects (default
 * 1,000, KARTON_BENCH_GC_OBJECTS) many times each. Options (env): KARTON_BENCH_RUNS (3),
 * KARTON_BENCH_GC_TASKS (200000), KARTON_BENCH_GC_OBJECTS (1000), KARTON_BENCH_PROFILE=<dir>.
 *
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/gc.js
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { S3ObjectStore } from "../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../src/config/config.js";
import { Producer } from "../src/service/producer.js";
import { TaskState } from "../src/task/enums.js";
import {
  adminRedis,
  BENCH_DB,
  DIST,
  NodeChild,
  paced,
  procFigures,
  profileArgs,
  runsWanted,
  type Services,
  scratchDir,
  services,
  sleep,
  startSystem,
  wallMs,
  writeIni,
} from "./lib/env.js";
import { latency, report } from "./lib/stats.js";
import { BENCH_ORIGIN, makeBinds, makeTask, registerBinds } from "./lib/workload.js";

const BUCKET = "karton-bench-gc";

function objectStore(s: Services): S3ObjectStore {
  return new S3ObjectStore({ address: s.s3.address, accessKey: s.s3.accessKey, secretKey: s.s3.secretKey });
}

/** An empty bucket with `count` small objects `obj-<i>`. */
async function prepareBucket(s: Services, count: number): Promise<void> {
  const objects = objectStore(s);
  if (await objects.bucketExists(BUCKET)) {
    const versions = await objects.listObjectVersions(BUCKET);
    const entries = [...versions].flatMap(([key, ids]) => ids.map((versionId) => ({ key, versionId })));
    if (entries.length > 0) await objects.deleteObjects(BUCKET, entries);
  } else {
    await objects.createBucket(BUCKET);
  }
  let next = 0;
  const body = Buffer.alloc(1024, 7);
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) await objects.putObject(BUCKET, `obj-${next++}`, body);
    }),
  );
  objects.close();
}

async function countObjects(s: Services): Promise<number> {
  const objects = objectStore(s);
  const n = (await objects.listObjectVersions(BUCKET)).size;
  objects.close();
  return n;
}

/** Stores `count` task documents of the given status, each referencing one of the K objects. */
async function storeTasks(
  redis: ReturnType<typeof adminRedis>,
  count: number,
  status: TaskState,
  objects: number,
) {
  const layout = { binds: 1, matches: 1 };
  for (let i = 0; i < count; i += 1000) {
    const args: string[] = [];
    for (let j = i; j < Math.min(count, i + 1000); j++) {
      const { task, doc } = makeTask({
        i: j,
        layout,
        bytes: 1024,
        bucket: BUCKET,
        resourceUid: `obj-${j % objects}`,
        status,
      });
      args.push(`karton.task:${task.uid}`, doc);
    }
    await redis.mset(...args);
  }
}

/** "[<ISO time>][INFO] GC: pass done in 1.234 s: ..." → end time (ms) and duration (s). */
function passDone(line: string): { endMs: number; seconds: number; line: string } {
  const time = /^\[([^\]]+)\]/.exec(line)?.[1] as string;
  const seconds = Number(/pass done in ([\d.]+) s/.exec(line)?.[1]);
  return { endMs: Date.parse(time), seconds, line };
}

export interface GcPassFigures extends Record<string, number> {
  seconds: number;
  tasksPerSecond: number;
  peakRssMb: number;
  tasksLeft: number;
  objectsLeft: number;
}

export async function gcPassRun(
  status: TaskState,
  tasks: number,
  objectCount: number,
): Promise<GcPassFigures> {
  const s = services();
  const redis = adminRedis(s);
  await redis.flushdb();
  await prepareBucket(s, objectCount);
  await storeTasks(redis, tasks, status, objectCount);
  const dir = scratchDir("gc");
  const ini = writeIni(dir, s, { bucket: BUCKET, system: { gc_interval: 1 } });
  const system = await startSystem(ini, ["--disable-router"], { nodeArgs: profileArgs(`gc-${status}`) });
  const done = passDone(await system.waitFor(/GC: pass done in/, 600_000));
  const peak = procFigures(system.pid)?.peakRssMb ?? Number.NaN;
  await system.stop();
  const tasksLeft = (await redis.keys("karton.task:*")).length;
  redis.disconnect();
  return {
    seconds: done.seconds,
    tasksPerSecond: tasks / done.seconds,
    peakRssMb: peak,
    tasksLeft,
    objectsLeft: await countObjects(s),
  };
}

export interface GcRoutingFigures extends Record<string, number> {
  gcSeconds: number;
  beforeP50: number;
  beforeP99: number;
  beforeMax: number;
  duringN: number;
  duringP50: number;
  duringP99: number;
  duringMax: number;
  afterP50: number;
  afterP99: number;
  afterMax: number;
  peakRssMb: number;
}

export async function gcRoutingRun(
  tasks: number,
  objectCount: number,
  rate = 100,
): Promise<GcRoutingFigures> {
  const s = services();
  const redis = adminRedis(s);
  await redis.flushdb();
  await prepareBucket(s, objectCount);
  await storeTasks(redis, tasks, TaskState.Finished, objectCount);
  const layout = { binds: 20, matches: 2 };
  const binds = makeBinds(layout);
  await registerBinds(redis, binds);
  const dir = scratchDir("gc-routing");
  const gcInterval = 4;
  const ini = writeIni(dir, s, { bucket: BUCKET, system: { gc_interval: gcInterval } });
  const system = await startSystem(ini, [], { nodeArgs: profileArgs("gc-routing") });
  const queues = binds.map((b) => `karton.queue.normal:${b.identity}`);
  const popper = new NodeChild([
    join(DIST, "bench", "lib", "fork-popper.js"),
    s.redis.host,
    String(s.redis.port),
    String(BENCH_DB),
    "1000000000",
    ...queues,
  ]);
  await popper.waitFor(/^ready$/);
  const producer = new Producer({ config: KartonConfig.load({ path: ini }), identity: BENCH_ORIGIN });
  await producer.connect();
  const sent = new Map<number, number>();
  let stop = false;
  const send = async (i: number) => {
    const { task } = makeTask({
      i,
      layout,
      bytes: 1024,
      bucket: BUCKET,
      resourceUid: `obj-${i % objectCount}`,
    });
    const at = wallMs();
    task.payload.bench_sent_ms = at;
    sent.set(i, at);
    await producer.sendTask(task);
  };
  // Send until the pass is over, then 3 s more.
  const sending = (async () => {
    let i = 0;
    while (!stop) {
      await paced(rate, 1, (j) => send(i + j));
      i += rate;
    }
  })();
  const done = passDone(await system.waitFor(/GC: pass done in/, 600_000));
  await sleep(3000);
  stop = true;
  await sending;
  await sleep(500);
  popper.proc.kill("SIGINT");
  const line = await popper.waitFor(/latencies/, 30_000);
  const peak = procFigures(system.pid)?.peakRssMb ?? Number.NaN;
  await system.stop();
  await producer.close();
  redis.disconnect();
  // Each fork is classified by its task's send time against the pass [start, end].
  const { latencies, sentAt } = JSON.parse(line) as { latencies: number[]; sentAt: number[] };
  const startMs = done.endMs - done.seconds * 1000;
  const before: number[] = [];
  const during: number[] = [];
  const after: number[] = [];
  latencies.forEach((l, k) => {
    const t = sentAt[k] as number;
    if (t < startMs) before.push(l);
    else if (t <= done.endMs) during.push(l);
    else after.push(l);
  });
  const b = latency(before);
  const d = latency(during);
  const a = latency(after);
  return {
    gcSeconds: done.seconds,
    beforeP50: b.p50,
    beforeP99: b.p99,
    beforeMax: b.max,
    duringN: d.n,
    duringP50: d.p50,
    duringP99: d.p99,
    duringMax: d.max,
    afterP50: a.p50,
    afterP99: a.p99,
    afterMax: a.max,
    peakRssMb: peak,
  };
}

export async function gc(runs: number, tasks: number, objectCount: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const status of [TaskState.Finished, TaskState.Spawned]) {
    const results: GcPassFigures[] = [];
    for (let r = 0; r < runs; r++) results.push(await gcPassRun(status, tasks, objectCount));
    const med = report(
      `GC pass, ${tasks} ${status} tasks referencing ${objectCount} S3 objects, router disabled`,
      [
        { key: "seconds", label: "pass s", digits: 2 },
        { key: "tasksPerSecond", label: "tasks/s" },
        { key: "peakRssMb", label: "peak RSS MB", digits: 0 },
        { key: "tasksLeft", label: "tasks left", digits: 0 },
        { key: "objectsLeft", label: "objects left", digits: 0 },
      ],
      results,
    );
    out[`seconds ${status}`] = med.seconds;
    out[`peakRssMb ${status}`] = med.peakRssMb;
  }
  const routing: GcRoutingFigures[] = [];
  for (let r = 0; r < runs; r++) routing.push(await gcRoutingRun(tasks, objectCount));
  const med = report(
    `Routing at 100 tasks/s while a GC pass over ${tasks} Finished tasks runs (send → fork popped, ms)`,
    [
      { key: "gcSeconds", label: "pass s", digits: 2 },
      { key: "beforeP50", label: "before p50", digits: 2 },
      { key: "beforeP99", label: "before p99", digits: 2 },
      { key: "duringN", label: "forks during", digits: 0 },
      { key: "duringP50", label: "during p50", digits: 2 },
      { key: "duringP99", label: "during p99", digits: 2 },
      { key: "duringMax", label: "during max", digits: 1 },
      { key: "afterP50", label: "after p50", digits: 2 },
      { key: "afterP99", label: "after p99", digits: 2 },
      { key: "peakRssMb", label: "peak RSS MB", digits: 0 },
    ],
    routing,
  );
  Object.assign(out, { duringP99: med.duringP99, duringMax: med.duringMax });
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const env = process.env;
  await gc(
    runsWanted(3),
    Number(env.KARTON_BENCH_GC_TASKS ?? 200_000),
    Number(env.KARTON_BENCH_GC_OBJECTS ?? 1000),
  );
  process.exit(0);
}

/**
 * Workload 2 — router, steady: tasks sent at a steady rate (default 200/s for 10 s, after 15 s of
 * warm-up: see steadyWarmupSeconds) to `karton-system --disable-gc`, 20 binds of which 2 match each
 * task. The producer (the real Producer) writes its send time into the payload just before
 * Producer.sendTask; a helper process pops the forks (BLPOP) and notes when. Latency = pop time −
 * send time, for every fork, also split at the router's planning time (the fork's last_update):
 * send → plan, plan → pop.
 * For reference, the same run measures one Redis hop at the same rate (SET + RPUSH from this
 * process, BLPOP in the helper): the floor of each of the two hops a routed task makes.
 *
 * Options (env): KARTON_BENCH_RUNS (3), KARTON_BENCH_RATE (200), KARTON_BENCH_SECONDS (10),
 * KARTON_BENCH_WARMUP (15), KARTON_BENCH_LOG_LEVEL (INFO), KARTON_BENCH_PROFILE=<dir>.
 *
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/router-steady.js
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { S3ObjectStore } from "../src/backend/s3/s3-object-store.js";
import { KartonConfig } from "../src/config/config.js";
import { Producer } from "../src/service/producer.js";
import {
  adminRedis,
  BENCH_DB,
  DIST,
  NodeChild,
  paced,
  profileArgs,
  runsWanted,
  scratchDir,
  services,
  startSystem,
  steadyWarmupSeconds,
  wallMs,
  writeIni,
} from "./lib/env.js";
import { latency, report } from "./lib/stats.js";
import { BENCH_ORIGIN, type BindLayout, makeBinds, makeTask, registerBinds } from "./lib/workload.js";

export interface SteadyOptions {
  rate: number;
  seconds: number;
  warmupSeconds: number;
  layout: BindLayout;
  logLevel: string;
}

export interface SteadyFigures extends Record<string, number> {
  forks: number;
  p50: number;
  p99: number;
  max: number;
  /** Send → planned by the router (the fork's last_update). */
  planP50: number;
  planP99: number;
  /** Planned → fork popped. */
  popP50: number;
  popP99: number;
  /** One Redis hop at the same rate, for reference. */
  hopP50: number;
  hopP99: number;
}

async function ensureBucket(bucket: string): Promise<void> {
  const s = services();
  const objects = new S3ObjectStore({
    address: s.s3.address,
    accessKey: s.s3.accessKey,
    secretKey: s.s3.secretKey,
  });
  if (!(await objects.bucketExists(bucket))) await objects.createBucket(bucket);
  objects.close();
}

export async function routerSteadyRun(o: SteadyOptions): Promise<SteadyFigures> {
  const s = services();
  const redis = adminRedis(s);
  await redis.flushdb();
  const binds = makeBinds(o.layout);
  await registerBinds(redis, binds);
  await ensureBucket("karton");
  const dir = scratchDir("steady");
  const ini = writeIni(dir, s, { bucket: "karton", extra: ["[logging]", `level = ${o.logLevel}`] });
  const system = await startSystem(ini, ["--disable-gc"], { nodeArgs: profileArgs("router-steady") });

  const producer = new Producer({ config: KartonConfig.load({ path: ini }), identity: BENCH_ORIGIN });
  await producer.connect();
  const send = async (i: number, measured: boolean) => {
    const { task } = makeTask({
      i,
      layout: o.layout,
      bytes: 1024,
      bucket: "karton",
      resourceUid: `res-${i % 100}`,
    });
    if (measured) task.payload.bench_sent_ms = wallMs();
    await producer.sendTask(task);
  };
  // Warm-up (not measured): forks are left in the queues and cleared before the measured part.
  await paced(o.rate, o.warmupSeconds, (i) => send(i, false));
  await new Promise((r) => setTimeout(r, 300));
  for (const b of binds) await redis.del(`karton.queue.normal:${b.identity}`);

  const total = Math.round(o.rate * o.seconds);
  const queues = binds.map((b) => `karton.queue.normal:${b.identity}`);
  const line = await popWhile(queues, total * o.layout.matches, () =>
    paced(o.rate, o.seconds, (i) => send(i + 1_000_000, true)),
  );
  const { latencies, planned } = JSON.parse(line) as { latencies: number[]; planned: number[] };
  // KARTON_BENCH_DUMP=<file>: the raw figures (latencies and send times), for a closer look.
  if (process.env.KARTON_BENCH_DUMP) writeFileSync(process.env.KARTON_BENCH_DUMP, line);
  await system.stop();
  await producer.close();

  // The floor, in the same run: one Redis hop at the same rate (a write that wakes a BLPOP in
  // another process). Routing a task takes two (producer → router, router → consumer).
  const hopLine = await popWhile(["bench.hop"], total, () =>
    paced(o.rate, o.seconds, async (i) => {
      const doc = `{"payload": {"bench_sent_ms": ${wallMs()}}, "last_update": 0}`;
      await redis.pipeline().set(`karton.task:hop-${i}`, doc).rpush("bench.hop", `hop-${i}`).exec();
    }),
  );
  const hop = latency((JSON.parse(hopLine) as { latencies: number[] }).latencies);
  redis.disconnect();
  const l = latency(latencies);
  const toPlan = latency(planned);
  const afterPlan = latency(latencies.map((total, k) => total - (planned[k] as number)));
  return {
    forks: l.n,
    p50: l.p50,
    p99: l.p99,
    max: l.max,
    planP50: toPlan.p50,
    planP99: toPlan.p99,
    popP50: afterPlan.p50,
    popP99: afterPlan.p99,
    hopP50: hop.p50,
    hopP99: hop.p99,
  };
}

/** Runs `send` while a helper process pops `expected` items from `queues`; its JSON report. */
async function popWhile(queues: string[], expected: number, send: () => Promise<void>): Promise<string> {
  const s = services();
  const popper = new NodeChild([
    join(DIST, "bench", "lib", "fork-popper.js"),
    s.redis.host,
    String(s.redis.port),
    String(BENCH_DB),
    String(expected),
    ...queues,
  ]);
  await popper.waitFor(/^ready$/);
  await send();
  // The popper exits by itself once everything was popped; SIGINT makes it report what it has.
  const timer = setTimeout(() => popper.proc.kill("SIGINT"), 10_000);
  const line = await popper.waitFor(/latencies/, 15_000);
  clearTimeout(timer);
  return line;
}

export async function routerSteady(o: SteadyOptions, runs: number): Promise<SteadyFigures> {
  const results: SteadyFigures[] = [];
  for (let r = 0; r < runs; r++) results.push(await routerSteadyRun(o));
  return report(
    `Router, steady: ${o.rate} tasks/s for ${o.seconds} s, ${o.layout.binds} binds (${o.layout.matches} match), send → fork popped (ms)`,
    [
      { key: "forks", label: "forks", digits: 0 },
      { key: "p50", label: "p50 ms", digits: 2 },
      { key: "p99", label: "p99 ms", digits: 2 },
      { key: "max", label: "max ms", digits: 1 },
      { key: "planP50", label: "send→plan p50", digits: 2 },
      { key: "planP99", label: "send→plan p99", digits: 2 },
      { key: "popP50", label: "plan→pop p50", digits: 2 },
      { key: "popP99", label: "plan→pop p99", digits: 2 },
      { key: "hopP50", label: "Redis hop p50", digits: 2 },
      { key: "hopP99", label: "Redis hop p99", digits: 2 },
    ],
    results,
  );
}

export function steadyOptionsFromEnv(): SteadyOptions {
  const env = process.env;
  return {
    rate: Number(env.KARTON_BENCH_RATE ?? 200),
    seconds: Number(env.KARTON_BENCH_SECONDS ?? 10),
    warmupSeconds: steadyWarmupSeconds(),
    layout: { binds: 20, matches: 2 },
    logLevel: env.KARTON_BENCH_LOG_LEVEL ?? "INFO",
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await routerSteady(steadyOptionsFromEnv(), runsWanted(3));
  process.exit(0);
}

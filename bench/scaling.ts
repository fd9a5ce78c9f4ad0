/**
 * How the router's cost grows with the number of tasks, of binds and with the payload size: the
 * router-bulk measurement (bench/router-bulk.ts) over a grid, one table per dimension, with the
 * karton-system and Redis CPU time per task.
 *
 * Options (env): KARTON_BENCH_RUNS (3).
 * Run: npm run build && bash scripts/services.sh run -- node dist/bench/scaling.js
 */
import { pathToFileURL } from "node:url";
import { runsWanted } from "./lib/env.js";
import { fmt, median, table } from "./lib/stats.js";
import { type BulkFigures, type BulkOptions, routerBulkRun } from "./router-bulk.js";

async function measure(o: BulkOptions, runs: number): Promise<BulkFigures> {
  const results: BulkFigures[] = [];
  for (let r = 0; r < runs; r++) results.push(await routerBulkRun(o));
  const out: Record<string, number> = {};
  for (const key of Object.keys(results[0] as BulkFigures))
    out[key] = median(results.map((x) => x[key] as number));
  return out as BulkFigures;
}

function row(label: string, f: BulkFigures): string[] {
  return [
    label,
    fmt(f.tasksPerSecond, 0),
    fmt(f.forksPerSecond, 0),
    fmt(f.cpuUsPerTask, 0),
    fmt(f.redisUsPerTask, 0),
    fmt(f.peakRssMb, 0),
  ];
}

const HEADER = ["", "tasks/s", "forks/s", "system CPU µs/task", "Redis CPU µs/task", "peak RSS MB"];

export async function scaling(runs: number): Promise<void> {
  const base: BulkOptions = {
    tasks: 10_000,
    layout: { binds: 20, matches: 2 },
    bytes: 1024,
    logLevel: "INFO",
  };

  const byTasks: string[][] = [];
  for (const tasks of [1_000, 10_000, 40_000]) {
    byTasks.push(row(`${fmt(tasks, 0)} tasks`, await measure({ ...base, tasks }, runs)));
  }
  console.log("\n### Router cost by number of queued tasks (20 binds, 2 match, 1 KB)\n");
  console.log(table(HEADER, byTasks));

  const byBinds: string[][] = [];
  for (const [binds, matches] of [
    [1, 1],
    [20, 2],
    [100, 2],
    [100, 10],
  ] as const) {
    const f = await measure({ ...base, layout: { binds, matches } }, runs);
    byBinds.push(row(`${binds} bind${binds > 1 ? "s" : ""}, ${matches} matching each task`, f));
  }
  console.log("\n### Router cost by number of binds (10,000 tasks, 1 KB)\n");
  console.log(table(HEADER, byBinds));

  const bySize: string[][] = [];
  for (const [bytes, tasks] of [
    [1024, 10_000],
    [100 * 1024, 2_000],
  ] as const) {
    const f = await measure({ ...base, bytes, tasks }, runs);
    bySize.push(row(`${bytes / 1024} KB documents (${fmt(tasks, 0)} tasks)`, f));
  }
  console.log("\n### Router cost by document size (20 binds, 2 match)\n");
  console.log(table(HEADER, bySize));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await scaling(runsWanted(3));
  process.exit(0);
}

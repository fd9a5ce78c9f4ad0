/**
 * Every benchmark in turn, then a summary against the targets and Python karton-core 5.9.1's
 * figures (`npm run bench`). Each figure is the median of KARTON_BENCH_RUNS runs (default 3).
 * KARTON_BENCH_ONLY=name[,name] runs a subset (router-bulk, router-steady, e2e, gc, resources,
 * scaling); KARTON_BENCH_JSON=<file> also writes the medians as JSON.
 *
 * Run: npm run bench   (= npm run build && scripts/services.sh run -- node dist/bench/run-all.js)
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { e2e } from "./e2e.js";
import { gc } from "./gc.js";
import { runsWanted } from "./lib/env.js";
import { fmt, table } from "./lib/stats.js";
import { resources } from "./resources.js";
import { bulkOptionsFromEnv, routerBulk } from "./router-bulk.js";
import { routerSteady, steadyOptionsFromEnv } from "./router-steady.js";
import { scaling } from "./scaling.js";

const runs = runsWanted(3);
const only = new Set((process.env.KARTON_BENCH_ONLY ?? "").split(",").filter((x) => x !== ""));
const wanted = (name: string) => only.size === 0 || only.has(name);
const rows: string[][] = [];
const results: Record<string, Record<string, number>> = {};
const started = Date.now();

console.log(
  `# karton-ts benchmarks (${runs} runs each, medians; load average at start ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")})`,
);

if (wanted("router-bulk")) {
  const r = await routerBulk(
    { ...bulkOptionsFromEnv(), tasks: 10_000, layout: { binds: 20, matches: 2 } },
    runs,
  );
  results.routerBulk = r;
  rows.push(["1. Router bulk, tasks/s", "≥ 10,000", fmt(r.tasksPerSecond, 0), "~920"]);
  rows.push(["1. Router bulk, peak RSS", "–", `${fmt(r.peakRssMb, 0)} MB`, "57 MB"]);
}
if (wanted("router-steady")) {
  const r = await routerSteady(steadyOptionsFromEnv(), runs);
  results.routerSteady = r;
  rows.push([
    "2. Router steady 200/s, p50 / p99",
    "≤ 1 / ≤ 3 ms",
    `${fmt(r.p50, 2)} / ${fmt(r.p99, 2)} ms`,
    "1.3 / 2.6 ms",
  ]);
}
if (wanted("e2e")) {
  const r = await e2e(runs, 3000, 200, 10);
  results.e2e = r;
  const best = Math.max(
    r["tasksPerSecond 1 process"] ?? 0,
    r["tasksPerSecond 4 processes"] ?? 0,
    r["tasksPerSecond 1 process, concurrency 16"] ?? 0,
  );
  rows.push([
    "3. End to end, tasks/s (1 proc / 4 procs / 1 proc ×16)",
    "best ≥ 5,000",
    `${fmt(r["tasksPerSecond 1 process"] ?? Number.NaN, 0)} / ${fmt(r["tasksPerSecond 4 processes"] ?? Number.NaN, 0)} / ${fmt(r["tasksPerSecond 1 process, concurrency 16"] ?? Number.NaN, 0)} (best ${fmt(best, 0)})`,
    "~960–1,140",
  ]);
  rows.push([
    "3. End to end 200/s, p50 / p99",
    "≤ 1 / ≤ 3 ms",
    `${fmt(r.p50 ?? Number.NaN, 2)} / ${fmt(r.p99 ?? Number.NaN, 2)} ms`,
    "–",
  ]);
}
if (wanted("gc")) {
  const r = await gc(runs, 200_000, 1000);
  results.gc = r;
  rows.push([
    "4. GC pass, 200k Finished: duration / peak RSS",
    "≤ 5 s / ≤ 150 MB",
    `${fmt(r["seconds Finished"] ?? Number.NaN, 2)} s / ${fmt(r["peakRssMb Finished"] ?? Number.NaN, 0)} MB`,
    "9.4 s / 904 MB",
  ]);
  rows.push([
    "4. GC pass, 200k Spawned: duration / peak RSS",
    "– / ≤ 150 MB",
    `${fmt(r["seconds Spawned"] ?? Number.NaN, 2)} s / ${fmt(r["peakRssMb Spawned"] ?? Number.NaN, 0)} MB`,
    "–",
  ]);
  rows.push([
    "4. Routing during a GC pass, p99 / max",
    "≤ 20 / ≤ 100 ms",
    `${fmt(r.duringP99 ?? Number.NaN, 1)} / ${fmt(r.duringMax ?? Number.NaN, 1)} ms`,
    "stops for the pass",
  ]);
}
if (wanted("resources")) {
  const r = await resources(runs, Number(process.env.KARTON_BENCH_RESOURCE_MB ?? 1024));
  results.resources = r;
  rows.push([
    "5. Resource 1 GiB, upload / download vs plain SDK",
    "≥ 80%",
    `${fmt(r.uploadRatio * 100, 0)}% / ${fmt(r.downloadRatio * 100, 0)}% (${fmt(r.uploadMBps, 0)} / ${fmt(r.downloadMBps, 0)} MB/s)`,
    "–",
  ]);
  rows.push([
    "5. Resource 1 GiB, peak RSS producer / consumer",
    "≤ 200 MB",
    `${fmt(r.producerRssMb, 0)} / ${fmt(r.consumerRssMb, 0)} MB`,
    "–",
  ]);
}
if (wanted("scaling")) await scaling(runs);

console.log(`\n## Summary (medians of ${runs} runs; ${((Date.now() - started) / 60000).toFixed(1)} min)\n`);
console.log(table(["Workload", "Target", "karton-ts", "Python 5.9.1"], rows));
if (process.env.KARTON_BENCH_JSON)
  writeFileSync(process.env.KARTON_BENCH_JSON, `${JSON.stringify(results, null, 2)}\n`);
process.exit(0);

/**
 * Prints the top frames of a V8 CPU profile (`node --cpu-prof`), by self time and by total time.
 *
 *   node dist/bench/profile-top.js <file.cpuprofile> [count=30] [filter-substring]
 *
 * Benchmarks write profiles of karton-system when KARTON_BENCH_PROFILE=<dir> is set.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function topFrames(path: string, count = 30, filter?: string): string {
  const profile = JSON.parse(readFileSync(path, "utf8")) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Self time per node from the samples and their time deltas (microseconds).
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  });
  const totalUs = profile.endTime - profile.startTime;
  const label = (n: ProfileNode) => {
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\//, "").replace(/.*\/(node_modules\/|dist\/|src\/)/, "$1");
    return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id) as ProfileNode;
    const key = label(node);
    self.set(key, (self.get(key) ?? 0) + us);
    // Inclusive time: every distinct frame on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur) as ProfileNode);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const fmt = (entries: Map<string, number>) =>
    [...entries]
      .filter(([k]) => filter === undefined || k.includes(filter))
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(
        ([k, us]) =>
          `${(us / 1000).toFixed(1).padStart(9)} ms ${((us / totalUs) * 100).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join("\n");
  return [
    `${path}: ${(totalUs / 1e6).toFixed(2)} s profiled`,
    "-- self time --",
    fmt(self),
    "-- total time --",
    fmt(total),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [path, count, filter] = process.argv.slice(2);
  if (!path) {
    console.error("usage: profile-top <file.cpuprofile> [count] [filter]");
    process.exit(2);
  }
  console.log(topFrames(path, Number(count ?? 30), filter));
}

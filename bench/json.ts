/**
 * Throughput of src/json (parse / stringify) against the built-in JSON.parse / JSON.stringify.
 *
 * Run (Node 20 cannot run TypeScript directly, so compile first):
 *
 *   npx tsc --outDir /tmp/karton-bench --module nodenext --target es2022 --rootDir . bench/json.ts \
 *     && node /tmp/karton-bench/bench/json.js
 *
 * Prints MB/s (1 MB = 10^6 bytes of JSON text, per second of CPU time) for a typical ~2 KB task document, a task with a ~100 KB
 * payload and a ~1 MB string-heavy document. The built-ins are not lossless (no big ints, no 1.0, no NaN),
 * so they only give a reference speed on the same text.
 */
import { writeFileSync } from "node:fs";
import { parse, stringify } from "../src/json/index.js";

function uuid(i: number): string {
  const h = (n: number) => (n >>> 0).toString(16).padStart(8, "0");
  const a = h(i * 2654435761);
  const b = h(i * 40503 + 7);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-8${a.slice(1, 4)}-${h(i * 97)}${b.slice(0, 4)}`;
}

function resource(i: number, name: string): object {
  const sha = `${uuid(i).replace(/-/g, "")}${uuid(i + 1).replace(/-/g, "")}`;
  return {
    __karton_resource__: {
      bucket: "karton",
      flags: [],
      metadata: { sha256: sha },
      name,
      sha256: sha,
      size: 1000 + i,
      uid: uuid(i + 2),
    },
  };
}

/** About 2 KB, shaped like a routed fork (see tasks/02 in the fixtures). */
function typicalTask(): string {
  const root = uuid(1);
  const headers = {
    kind: "runnable",
    origin: "karton.classifier",
    platform: "win32",
    receiver: "karton.yara-matcher",
    stage: "recognized",
    type: "sample",
    extension: "exe",
  };
  const doc = {
    error: null,
    headers,
    headers_persistent: { campaign: "fixture-campaign" },
    last_update: 1795904839.2089353,
    orig_uid: `{${root}}:${uuid(2)}`,
    parent_uid: `{${root}}:${uuid(3)}`,
    payload: {
      sample: resource(10, "sample.exe"),
      extraction: resource(20, "extracted-config.bin"),
      tags: ["emotet", "banker", "packed:upx", "ransomware:żółć"],
      attributes: { family: "emotet", confidence: 0.87, first_seen: 1700000000, ports: [80, 443, 8080] },
      comments: ["Sample classified as PE32 executable (GUI) Intel 80386, for MS Windows"],
    },
    payload_persistent: { __headers_persistent: { campaign: "fixture-campaign" }, tag: "persisted-value" },
    priority: "normal",
    root_uid: root,
    status: "Spawned",
    uid: `{${root}}:${uuid(4)}`,
  };
  return stringify(doc);
}

/** A task whose payload holds ~100 KB of mixed analysis results. */
function largeTask(targetBytes: number): string {
  const results: object[] = [];
  for (let i = 0; results.length === 0 || JSON.stringify(results).length < targetBytes; i++) {
    for (let k = 0; k < 50; k++, i++) {
      results.push({
        offset: i * 4096,
        rule: `rule_${i % 37}_${uuid(i).slice(0, 8)}`,
        score: (i % 100) / 7,
        matched: i % 3 === 0,
        strings: [`$s${i % 5}`, `MZ\u0090\u0000 header ${i}`, "C:\\Windows\\System32\\cmd.exe /c whoami"],
        meta: { author: "CERT.PL", ref: `https://example.org/${i}`, date: "2024-01-01", note: null },
      });
    }
  }
  const doc = JSON.parse(typicalTask()) as { payload: Record<string, unknown> };
  doc.payload.results = results;
  return stringify(doc);
}

/** ~1 MB dominated by long strings (decoded configs, strings dumps). */
function stringHeavy(targetBytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < targetBytes; i++) {
    const s = `line ${i}: ${"lorem ipsum dolor sit amet ".repeat(8)}${i % 10 === 0 ? 'tab\there "quoted"' : ""}`;
    lines.push(s);
    size += s.length + 4;
  }
  return stringify({ payload: { strings: lines }, uid: uuid(1) });
}

/** CPU time of this process in nanoseconds: less disturbed than wall time when the machine is busy. */
function cpuNanos(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function measure(label: string, bytes: number, fn: () => unknown): number {
  // Warm up, then run for about one second of CPU time.
  let sink: unknown;
  for (let i = 0; i < 200; i++) sink = fn();
  let iterations = 0;
  const start = cpuNanos();
  let elapsed = 0;
  let batch = 1;
  while (elapsed < 1e9) {
    for (let i = 0; i < batch; i++) sink = fn();
    iterations += batch;
    elapsed = cpuNanos() - start;
    batch = Math.min(batch * 2, 1024);
  }
  if (sink === Symbol.for("never")) console.log(sink);
  const mbps = (bytes * iterations) / (elapsed / 1e9) / 1e6;
  console.log(`  ${label.padEnd(26)} ${mbps.toFixed(0).padStart(6)} MB/s  (${iterations} runs)`);
  return mbps;
}

function run(name: string, text: string): void {
  const bytes = Buffer.byteLength(text, "utf8");
  // JSON_BENCH_DUMP=<dir> saves the documents, e.g. for profiling with node --cpu-prof.
  const dump = process.env.JSON_BENCH_DUMP;
  if (dump) writeFileSync(`${dump}/${name.replace(/\W+/g, "-")}.json`, text);
  console.log(`${name}: ${bytes} bytes`);
  if (stringify(parse(text)) !== text) throw new Error(`${name}: round trip is not exact`);
  const ours = parse(text);
  const builtin = JSON.parse(text) as unknown;
  const p = measure("parse", bytes, () => parse(text));
  const jp = measure("JSON.parse", bytes, () => JSON.parse(text));
  const s = measure("stringify", bytes, () => stringify(ours));
  const su = measure("stringify sortKeys:false", bytes, () => stringify(ours, { sortKeys: false }));
  // JSON.stringify writes non-ASCII raw and no spaces, so its output is shorter; MB/s is per input text.
  const js = measure("JSON.stringify", bytes, () => JSON.stringify(builtin));
  console.log(
    `  parse ${(p / jp).toFixed(2)}x JSON.parse, stringify ${(s / js).toFixed(2)}x JSON.stringify` +
      ` (unsorted ${(su / js).toFixed(2)}x)`,
  );
}

run("typical task", typicalTask());
run("task with 100 KB payload", largeTask(100_000));
run("1 MB string-heavy document", stringHeavy(1_000_000));

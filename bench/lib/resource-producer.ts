/**
 * Producer of the resource benchmark: sends one task `{type: "bench-big"}` with a file resource
 * through the real Producer (karton.ini from --config-file). Hashing (LocalResource.prepare) is
 * timed apart from sending (sendTask: document, upload, queueing). Prints one JSON line.
 *
 *   node dist/bench/lib/resource-producer.js <karton.ini> <file>
 */
import { writeSync } from "node:fs";
import { KartonConfig } from "../../src/config/config.js";
import { Resource } from "../../src/resource/local-resource.js";
import { Producer } from "../../src/service/producer.js";
import { Task } from "../../src/task/task.js";
import { procFigures } from "./env.js";

const [ini, file] = process.argv.slice(2) as [string, string];
const producer = new Producer({ config: KartonConfig.load({ path: ini }), identity: "bench.big-producer" });
const resource = Resource.fromFile("big.bin", file);
const task = new Task({ type: "bench-big" }, { payload: { big: resource } });
const t0 = performance.now();
await resource.prepare();
const t1 = performance.now();
await producer.sendTask(task);
const t2 = performance.now();
await producer.close();
writeSync(
  1,
  `${JSON.stringify({
    hashSeconds: (t1 - t0) / 1000,
    uploadSeconds: (t2 - t1) / 1000,
    sha256: resource.sha256,
    uid: resource.uid,
    peakRssMb: procFigures(process.pid)?.peakRssMb,
  })}\n`,
);
process.exit(0);

/**
 * Consumer of the resource benchmark (`bench.big-consumer`, bound to `{type: "bench-big"}`): downloads
 * the `big` resource to a file in <dir> (timed), then checks its sha256 against the resource's own
 * (timed apart), prints one JSON line and deletes the file.
 *
 *   node dist/bench/lib/resource-consumer.js --config-file <karton.ini>   (env BENCH_DOWNLOAD_DIR)
 */
import { createHash } from "node:crypto";
import { createReadStream, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Consumer } from "../../src/service/consumer.js";
import type { Task } from "../../src/task/task.js";
import { procFigures } from "./env.js";

class BigConsumer extends Consumer {
  static override identity = "bench.big-consumer";
  static override filters = [{ type: "bench-big" }];

  async process(task: Task): Promise<void> {
    const resource = task.getResource("big");
    const path = join(process.env.BENCH_DOWNLOAD_DIR ?? "/tmp", `download-${process.pid}.bin`);
    const t0 = performance.now();
    await resource.downloadToFile(path);
    const t1 = performance.now();
    const hash = createHash("sha256");
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), hash);
    const sha256 = hash.digest("hex");
    const t2 = performance.now();
    rmSync(path, { force: true });
    writeSync(
      1,
      `RESULT ${JSON.stringify({
        downloadSeconds: (t1 - t0) / 1000,
        checkSeconds: (t2 - t1) / 1000,
        verified: sha256 === resource.sha256,
        size: resource.size,
        peakRssMb: procFigures(process.pid)?.peakRssMb,
      })}\n`,
    );
  }
}

void BigConsumer.main();

/**
 * The consumer of the end-to-end benchmark: a real karton-ts Consumer (identity `bench.noop`, bound
 * to `{type: "sample"}`) whose process() does nothing but note, for tasks carrying `bench_sent_ms`
 * in their payload, how long after the send it started. At exit it prints one line
 * `latencies [...]` (ms) on stdout.
 *
 *   node dist/bench/lib/noop-consumer.js --config-file karton.ini [--concurrency N]
 */
import { writeSync } from "node:fs";
import { Consumer } from "../../src/service/consumer.js";
import type { Task } from "../../src/task/task.js";

const latencies: number[] = [];

class NoopConsumer extends Consumer {
  static override identity = "bench.noop";
  static override filters = [{ type: "sample" }];

  process(task: Task): void {
    const sent = task.getPayload("bench_sent_ms");
    if (typeof sent === "number") latencies.push(performance.timeOrigin + performance.now() - sent);
  }
}

process.on("exit", () => {
  writeSync(1, `latencies ${JSON.stringify(latencies)}\n`);
});
void NoopConsumer.main();

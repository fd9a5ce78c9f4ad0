/**
 * Helper process of the latency benchmarks: pops fork uids from the given queues (BLPOP, as a
 * Python consumer does; one connection per queue), notes the time of each pop, then reads the forks' documents to find the
 * send time the producer put in the payload (`bench_sent_ms`). Prints one JSON line with the
 * latencies (ms) and the send times when it receives SIGINT or has popped `expected` forks.
 *
 *   node dist/bench/lib/fork-popper.js <host> <port> <db> <expected> <queue>...
 */
import { Redis } from "ioredis";
import { parse } from "../../src/json/index.js";

const [host, port, db, expectedText, ...queues] = process.argv.slice(2);
const expected = Number(expectedText);
// One connection per queue, as the consumers of those queues would have: a fork is popped the
// moment it is pushed, whatever happens on the other queues.
const pops = queues.map(() => new Redis({ host, port: Number(port), db: Number(db) }));
const read = new Redis({ host, port: Number(port), db: Number(db) });
const popped: { uid: string; at: number }[] = [];
let stopping = false;

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

async function finish(): Promise<void> {
  stopping = true;
  const latencies: number[] = [];
  const sentAt: number[] = [];
  // Send → routed: the router writes its planning time as the fork's last_update.
  const planned: number[] = [];
  for (let i = 0; i < popped.length; i += 500) {
    const chunk = popped.slice(i, i + 500);
    const docs = await read.mget(...chunk.map((p) => `karton.task:${p.uid}`));
    chunk.forEach((p, j) => {
      const raw = docs[j];
      if (!raw) return;
      const doc = parse(raw) as { payload: { bench_sent_ms?: number }; last_update?: number };
      const sent = doc.payload.bench_sent_ms;
      if (typeof sent === "number") {
        latencies.push(p.at - sent);
        sentAt.push(sent);
        planned.push(Number(doc.last_update) * 1000 - sent);
      }
    });
  }
  process.stdout.write(`${JSON.stringify({ latencies, sentAt, planned })}\n`);
  for (const pop of pops) pop.disconnect();
  read.disconnect();
  process.exit(0);
}

process.on("SIGINT", () => void finish());
// Connected (and the first BLPOPs about to be sent) before saying ready.
await Promise.all([...pops, read].map((r) => r.ping()));
process.stdout.write("ready\n");
await Promise.all(
  queues.map(async (queue, i) => {
    const pop = pops[i] as Redis;
    while (!stopping) {
      const res = await pop.blpop(queue, 1).catch(() => null);
      if (res === null) continue;
      popped.push({ uid: res[1], at: wallMs() });
      if (popped.length >= expected && !stopping) await finish();
    }
  }),
);

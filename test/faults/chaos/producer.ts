// Chaos run producer (node --import tsx producer.ts): sends CHAOS_TASKS tasks with a random sample
// each, paced to CHAOS_RATE tasks per second; a failed send is retried with the same task (same uid,
// same resource key). Records SENT lines; exits 0 when every task was sent.
import { randomBytes } from "node:crypto";
import { Resource } from "../../../src/resource/index.js";
import { Producer } from "../../../src/service/producer.js";
import { Task } from "../../../src/task/task.js";
import { record, retrying, sha256, sleep } from "./common.js";

const total = Number(process.env.CHAOS_TASKS ?? 10);
const rate = Number(process.env.CHAOS_RATE ?? 10);
const producer = new Producer({ identity: "chaos.producer" });
producer.setupLogger();
const started = Date.now();
for (let n = 1; n <= total; n++) {
  const data = randomBytes(512 + Math.floor(Math.random() * 4096));
  const task = new Task(
    { type: "chaos", stage: "1" },
    { payload: { n, sample: Resource.fromBytes(`sample-${n}.bin`, data), sha256: sha256(data) } },
  );
  await retrying(
    `sending task n=${n}`,
    () => producer.sendTask(task),
    (m) => producer.log.warning(m),
  );
  record("producer", "SENT", 0, n, task.uid);
  const due = started + (n * 1000) / rate;
  if (due > Date.now()) await sleep(due - Date.now());
}
producer.log.info(`sent ${total} tasks`);
await producer.close();
process.exit(0);

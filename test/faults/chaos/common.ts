/**
 * Shared by the chaos-run processes (producer, stage 1 and stage 2 consumers): the record file each
 * process appends to, and the retry policy for storage outages.
 *
 * Records are lines `<ms since epoch> <KIND> <stage> <n> <task uid>` appended synchronously to
 * `$CHAOS_RECORDS_DIR/<name>-<pid>.log`, so a line is on disk before the next step runs and survives
 * a SIGKILL. KINDs: SENT (producer), START and DONE (consumers, around process()).
 */
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.CHAOS_RECORDS_DIR;

export function record(
  name: string,
  kind: "SENT" | "START" | "DONE",
  stage: number,
  n: number,
  uid: string,
): void {
  if (!dir) return;
  appendFileSync(join(dir, `${name}-${process.pid}.log`), `${Date.now()} ${kind} ${stage} ${n} ${uid}\n`);
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What a service does about storage outages: S3 or Redis unreachable while process() reads a
 * resource or sends a task is retried (0.25 s doubling to 2 s) for up to `CHAOS_RETRY_SECONDS`
 * (default 120 s); data errors (a missing object, a bad checksum) are not.
 */
export async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  warn: (message: string) => void,
  signal?: AbortSignal,
): Promise<T> {
  const limitMs = Number(process.env.CHAOS_RETRY_SECONDS ?? 120) * 1000;
  const end = Date.now() + limitMs;
  let delay = 250;
  let failures = 0;
  for (;;) {
    try {
      const result = await fn();
      if (failures > 0) warn(`${what} succeeded after ${failures} failed attempt(s)`);
      return result;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "RESOURCE_NOT_FOUND" || code === "INVALID_RESOURCE" || signal?.aborted) throw error;
      if (Date.now() + delay > end) throw error;
      failures++;
      if (failures === 1 || failures % 10 === 0)
        warn(`${what} failed (${(error as Error).message}); retrying`);
      await sleep(delay);
      delay = Math.min(2000, delay * 2);
    }
  }
}

/**
 * Recovery of tasks claimed by dead processes (a karton-ts extension, see docs/reliability.md).
 *
 * karton-ts consumers and routers take uids into a per-instance claim list and refresh a heartbeat.
 * When a heartbeat expires, the process died without releasing its claims; karton-system then:
 *
 * - router claims: returns the taken uids to the head of `karton.tasks` (they are routed again —
 *   the dead router's batch was never applied, since a batch is applied atomically);
 * - consumer claims, per uid: a missing, Finished or Crashed document → the claim is dropped; else if
 *   the task was already recovered `task_max_attempts - 1` times → Crashed with a reason naming the
 *   consumer; else → Spawned again, back at its queue (and the attempt counted).
 *
 * Every step is idempotent across concurrent karton-system instances (the backend operations report
 * whether they did the work); once all claims of an instance are handled, its registration is removed.
 */
import type { AbandonedClaims, KartonBackend } from "../backend/backend.js";
import type { QuarantineRecord } from "../backend/types.js";
import type { Logger } from "../service/logging.js";
import { parseTask } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import { nowSeconds } from "../task/task.js";
import type { QuarantineReporter } from "./quarantine.js";
import { errorMessage } from "./route.js";

export type RecoveryBackend = Pick<
  KartonBackend,
  | "abandonedClaims"
  | "getRawTasks"
  | "getAttempts"
  | "requeueAbandoned"
  | "crashAbandoned"
  | "forgetAbandoned"
  | "returnAbandonedUnrouted"
  | "forgetInstance"
>;

export interface RecoveryOptions {
  /** `[system] task_max_attempts`: hand-outs of a task before it is crashed (≥ 1). */
  maxAttempts: number;
  /** Identity written as `reporter` of quarantine records. */
  reporter: string;
  now?: () => number;
}

/** What one recovery run did. */
export interface RecoveryStats {
  instances: number;
  requeued: number;
  crashed: number;
  forgotten: number;
  returnedUnrouted: number;
}

/** The error line of a task crashed because its consumers kept dying. */
export function deadConsumerReason(identity: string, instanceId: string, times: number): string {
  return `consumer ${identity} instance ${instanceId} died while processing this task ${times} times`;
}

export class Recovery {
  readonly #backend: RecoveryBackend;
  readonly #log: Logger;
  readonly #quarantine: QuarantineReporter;
  readonly #maxAttempts: number;
  readonly #reporter: string;
  readonly #now: () => number;

  constructor(
    backend: RecoveryBackend,
    log: Logger,
    quarantine: QuarantineReporter,
    options: RecoveryOptions,
  ) {
    if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) {
      throw new RangeError(`task_max_attempts must be an integer ≥ 1, got ${options.maxAttempts}`);
    }
    this.#backend = backend;
    this.#log = log;
    this.#quarantine = quarantine;
    this.#maxAttempts = options.maxAttempts;
    this.#reporter = options.reporter;
    this.#now = options.now ?? nowSeconds;
  }

  /** Recovers every abandoned claim found now. */
  async run(): Promise<RecoveryStats> {
    const stats: RecoveryStats = { instances: 0, requeued: 0, crashed: 0, forgotten: 0, returnedUnrouted: 0 };
    const abandoned = await this.#backend.abandonedClaims();
    for (const claims of abandoned) {
      stats.instances++;
      try {
        if (claims.kind === "router") await this.#recoverRouter(claims, stats);
        else await this.#recoverConsumer(claims, stats);
        await this.#backend.forgetInstance(claims.instanceId);
      } catch (error) {
        this.#log.exception(
          `Recovery of ${claims.kind} ${claims.identity} instance ${claims.instanceId} failed; retrying later`,
          error,
        );
      }
    }
    return stats;
  }

  async #recoverRouter(claims: AbandonedClaims, stats: RecoveryStats): Promise<void> {
    const returned = await this.#backend.returnAbandonedUnrouted(claims.instanceId);
    stats.returnedUnrouted += returned;
    if (returned > 0 || claims.uids.length > 0) {
      this.#log.warning(
        `Router ${claims.identity} instance ${claims.instanceId} died: ${returned} taken tasks returned to karton.tasks` +
          (claims.uids.length > 0 ? ` (${claims.uids.join(", ")})` : ""),
      );
    }
  }

  async #recoverConsumer(claims: AbandonedClaims, stats: RecoveryStats): Promise<void> {
    const { instanceId, identity, uids } = claims;
    if (uids.length === 0) return;
    const raws = await this.#backend.getRawTasks(uids);
    for (let i = 0; i < uids.length; i++) {
      const uid = uids[i] as string;
      const raw = raws[i] ?? null;
      if (raw === null) {
        await this.#backend.forgetAbandoned(instanceId, uid);
        stats.forgotten++;
        this.#log.info(`Recovery: task ${uid} claimed by dead ${identity} instance ${instanceId} is gone`);
        continue;
      }
      let task: ReturnType<typeof parseTask>;
      try {
        task = parseTask(raw, { decodeResources: false });
      } catch (error) {
        const record: QuarantineRecord = {
          subject: uid,
          kind: "task",
          reason: `task ${uid} claimed by dead ${identity} instance ${instanceId} cannot be read: ${errorMessage(error)}`,
          raw,
          at: this.#now(),
          reporter: this.#reporter,
        };
        this.#log.error(`Recovery: ${record.reason}; claim dropped`);
        await this.#quarantine.report([record]).catch((err: unknown) => {
          this.#log.exception("Recovery: cannot record the task in the quarantine", err);
        });
        await this.#backend.forgetAbandoned(instanceId, uid);
        stats.forgotten++;
        continue;
      }
      if (task.status === TaskState.Finished || task.status === TaskState.Crashed) {
        await this.#backend.forgetAbandoned(instanceId, uid);
        stats.forgotten++;
        this.#log.info(
          `Recovery: task ${uid} claimed by dead ${identity} instance ${instanceId} is already ${task.status}`,
        );
        continue;
      }
      const attempts = await this.#backend.getAttempts(uid);
      const times = attempts + 1;
      if (times >= this.#maxAttempts) {
        task.status = TaskState.Crashed;
        task.lastUpdate = this.#now();
        task.error = [`${deadConsumerReason(identity, instanceId, times)}\n`];
        if (await this.#backend.crashAbandoned(instanceId, task, identity)) {
          stats.crashed++;
          this.#log.warning(
            `Recovery: task ${uid} crashed: ${deadConsumerReason(identity, instanceId, times)} (task_max_attempts = ${this.#maxAttempts})`,
          );
        }
      } else {
        task.status = TaskState.Spawned;
        task.lastUpdate = this.#now();
        if (await this.#backend.requeueAbandoned(instanceId, task, identity)) {
          stats.requeued++;
          this.#log.warning(
            `Recovery: task ${uid} requeued for ${identity}: instance ${instanceId} died while processing it (attempt ${times} of ${this.#maxAttempts})`,
          );
        }
      }
    }
  }
}

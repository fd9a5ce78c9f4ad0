/**
 * The garbage collector's per-task rule table (wire-protocol spec §6.1), as a pure function.
 *
 * First matching rule wins:
 * 1. `receiver` header names a consumer whose non-persistent bind was cleared in this pass → delete
 *    (any status)
 * 2. Declared, not waiting to be routed, older than `task_dispatched_timeout` → delete
 * 3. Started, older than `task_started_timeout` → crash (with `crash_started_tasks_on_timeout`) or delete
 * 4. Finished → delete
 * 5. Crashed, older than `task_crashed_timeout` → delete
 * 6. otherwise keep — including every Spawned task, whatever its age
 *
 * "Older than T" means `now > last_update + T` (strictly greater), as in Python.
 */
import { TaskState } from "../task/enums.js";

/** Error line written into tasks crashed by the started-timeout rule; Python's text, typo included. */
export const STARTED_TIMEOUT_ERROR =
  "This task was STARTED too long (TASK_STARTED_TIMEOUT), so status was changes to CRASHED.";

/** The fields of a task the rules look at. */
export interface GcTaskView {
  uid: string;
  status: TaskState;
  /** Unix time in float seconds. */
  lastUpdate: number;
  /** The `receiver` header, or null when absent (unrouted tasks). */
  receiver: string | null;
}

export interface GcContext {
  /** Unix time in float seconds. */
  now: number;
  /** Identities whose non-persistent binds were removed in this pass. */
  cleared: ReadonlySet<string>;
  /** Uids waiting to be routed (`karton.tasks` and every router's taken list). */
  unrouted: { has(uid: string): boolean };
  /** Seconds (`[system] task_dispatched_timeout`). */
  dispatchedTimeout: number;
  /** Seconds (`[system] task_started_timeout`). */
  startedTimeout: number;
  /** Seconds (`[system] task_crashed_timeout`). */
  crashedTimeout: number;
  /** `[system] crash_started_tasks_on_timeout`. */
  crashStartedOnTimeout: boolean;
}

export type GcAction = "keep" | "delete" | "crash";

/** Which rule of the table decided (1-6, see the module comment). */
export type GcRule = 1 | 2 | 3 | 4 | 5 | 6;

export interface GcDecision {
  action: GcAction;
  rule: GcRule;
}

const KEEP: GcDecision = Object.freeze({ action: "keep", rule: 6 }) as GcDecision;

/** Applies the rule table to one task. */
export function gcDecision(task: GcTaskView, ctx: GcContext): GcDecision {
  if (task.receiver !== null && ctx.cleared.has(task.receiver)) return { action: "delete", rule: 1 };
  switch (task.status) {
    case TaskState.Declared:
      if (isDispatchedOrphanCandidate(task, ctx) && !ctx.unrouted.has(task.uid)) {
        return { action: "delete", rule: 2 };
      }
      return KEEP;
    case TaskState.Started:
      if (ctx.now > task.lastUpdate + ctx.startedTimeout) {
        return { action: ctx.crashStartedOnTimeout ? "crash" : "delete", rule: 3 };
      }
      return KEEP;
    case TaskState.Finished:
      return { action: "delete", rule: 4 };
    case TaskState.Crashed:
      if (ctx.now > task.lastUpdate + ctx.crashedTimeout) return { action: "delete", rule: 5 };
      return KEEP;
    default:
      return KEEP;
  }
}

/**
 * True for a Declared task past the dispatched timeout (rule 2 before its "not waiting to be
 * routed" check) — lets the collector fetch the unrouted snapshot only when some task needs it.
 */
export function isDispatchedOrphanCandidate(
  task: GcTaskView,
  ctx: Pick<GcContext, "now" | "dispatchedTimeout">,
): boolean {
  return task.status === TaskState.Declared && ctx.now > task.lastUpdate + ctx.dispatchedTimeout;
}

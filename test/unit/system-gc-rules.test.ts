import { describe, expect, it } from "vitest";
import {
  type GcContext,
  type GcTaskView,
  gcDecision,
  isDispatchedOrphanCandidate,
  STARTED_TIMEOUT_ERROR,
} from "../../src/system/gc-rules.js";
import { TaskState } from "../../src/task/enums.js";

const NOW = 1_800_000_000;
const DAY = 86400;

function ctx(overrides: Partial<GcContext> = {}): GcContext {
  return {
    now: NOW,
    cleared: new Set(),
    unrouted: new Set<string>(),
    dispatchedTimeout: DAY,
    startedTimeout: DAY,
    crashedTimeout: 3 * DAY,
    crashStartedOnTimeout: false,
    ...overrides,
  };
}

function task(status: TaskState, age: number, receiver: string | null = "c", uid = "{r}:t"): GcTaskView {
  return { uid, status, lastUpdate: NOW - age, receiver };
}

describe("gcDecision (spec §6.1)", () => {
  it("rule 1: tasks of a cleared non-persistent consumer are deleted whatever their status and age", () => {
    const c = ctx({ cleared: new Set(["gone"]) });
    for (const status of Object.values(TaskState)) {
      expect(gcDecision(task(status, 0, "gone"), c)).toEqual({ action: "delete", rule: 1 });
    }
    // Other receivers are judged by the other rules.
    expect(gcDecision(task(TaskState.Spawned, 0, "other"), c)).toEqual({ action: "keep", rule: 6 });
  });

  it("rule 1 wins over the crash of rule 3", () => {
    const c = ctx({ cleared: new Set(["gone"]), crashStartedOnTimeout: true });
    expect(gcDecision(task(TaskState.Started, 10 * DAY, "gone"), c).action).toBe("delete");
  });

  it("rule 2: Declared tasks not waiting to be routed are deleted after task_dispatched_timeout", () => {
    const c = ctx();
    expect(gcDecision(task(TaskState.Declared, DAY + 1, null), c)).toEqual({ action: "delete", rule: 2 });
    // Exactly at the timeout: kept (strictly greater, as Python).
    expect(gcDecision(task(TaskState.Declared, DAY, null), c).action).toBe("keep");
    expect(gcDecision(task(TaskState.Declared, 5, null), c).action).toBe("keep");
  });

  it("rule 2: Declared tasks still in karton.tasks or taken by a router are kept at any age", () => {
    const c = ctx({ unrouted: new Set(["{r}:queued"]) });
    expect(gcDecision(task(TaskState.Declared, 30 * DAY, null, "{r}:queued"), c)).toEqual({
      action: "keep",
      rule: 6,
    });
  });

  it("rule 2 honours a custom timeout", () => {
    const c = ctx({ dispatchedTimeout: 10 });
    expect(gcDecision(task(TaskState.Declared, 11, null), c).action).toBe("delete");
    expect(isDispatchedOrphanCandidate(task(TaskState.Declared, 11, null), c)).toBe(true);
    expect(isDispatchedOrphanCandidate(task(TaskState.Declared, 9, null), c)).toBe(false);
    expect(isDispatchedOrphanCandidate(task(TaskState.Started, 11, null), c)).toBe(false);
  });

  it("rule 3: Started tasks past task_started_timeout are deleted, or crashed with the option", () => {
    expect(gcDecision(task(TaskState.Started, DAY + 1), ctx())).toEqual({ action: "delete", rule: 3 });
    expect(gcDecision(task(TaskState.Started, DAY + 1), ctx({ crashStartedOnTimeout: true }))).toEqual({
      action: "crash",
      rule: 3,
    });
    expect(gcDecision(task(TaskState.Started, DAY - 1), ctx({ crashStartedOnTimeout: true })).action).toBe(
      "keep",
    );
  });

  it("the started-timeout crash text is Python's, typo included", () => {
    expect(STARTED_TIMEOUT_ERROR).toBe(
      "This task was STARTED too long (TASK_STARTED_TIMEOUT), so status was changes to CRASHED.",
    );
  });

  it("rule 4: Finished tasks are deleted immediately", () => {
    expect(gcDecision(task(TaskState.Finished, 0), ctx())).toEqual({ action: "delete", rule: 4 });
    expect(gcDecision(task(TaskState.Finished, -100), ctx())).toEqual({ action: "delete", rule: 4 });
  });

  it("rule 5: Crashed tasks are deleted after task_crashed_timeout", () => {
    expect(gcDecision(task(TaskState.Crashed, 3 * DAY + 1), ctx())).toEqual({ action: "delete", rule: 5 });
    expect(gcDecision(task(TaskState.Crashed, 3 * DAY), ctx()).action).toBe("keep");
    expect(gcDecision(task(TaskState.Crashed, 1), ctx({ crashedTimeout: 0 })).action).toBe("delete");
  });

  it("rule 6: Spawned tasks never expire", () => {
    const c = ctx({ dispatchedTimeout: 0, startedTimeout: 0, crashedTimeout: 0 });
    expect(gcDecision(task(TaskState.Spawned, 365 * DAY), c)).toEqual({ action: "keep", rule: 6 });
    expect(gcDecision(task(TaskState.Spawned, 365 * DAY, null), c).action).toBe("keep");
  });

  it("defaults: zero timeouts delete anything older than now", () => {
    const c = ctx({ dispatchedTimeout: 0, startedTimeout: 0, crashedTimeout: 0 });
    expect(gcDecision(task(TaskState.Declared, 0.001, null), c).action).toBe("delete");
    expect(gcDecision(task(TaskState.Started, 0.001), c).action).toBe("delete");
    expect(gcDecision(task(TaskState.Crashed, 0.001), c).action).toBe("delete");
  });
});

/**
 * The chaos run, shortened for CI (the full run is `bench/chaos.ts`, N = 1000): real processes —
 * producer, karton-system, two consumer kinds × two replicas — while consumers, karton-system and
 * Redis are SIGKILLed and S3 is unavailable for a few seconds. See test/faults/chaos/run.ts.
 */
import { describe, expect, it } from "vitest";
import { formatReport, runChaos } from "./chaos/run.js";

describe("chaos run (short)", () => {
  it("every task reaches a terminal state, none is lost, GC leaves no orphan, no process crashes", async () => {
    const report = await runChaos({
      tasks: Number(process.env.KARTON_CHAOS_TASKS ?? 60),
      consumerKills: 2,
      systemKills: 1,
      redisRestarts: 1,
      s3OutageSeconds: 6,
      claimTimeout: 3,
      gcInterval: 3,
      dispatchedTimeout: 15,
      slotSeconds: 6,
      ...(process.env.KARTON_CHAOS_SEED ? { seed: Number(process.env.KARTON_CHAOS_SEED) } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(`${formatReport(report)}\n`);
    expect(report.sent).toBe(report.options.tasks);
    expect(report.lost).toEqual([]);
    expect(report.completed + new Set(report.crashed.map((c) => c.n)).size).toBeGreaterThanOrEqual(
      report.options.tasks,
    );
    expect(report.nonTerminalAfterGc).toBe(0);
    expect(report.orphanedObjects).toEqual([]);
    expect(report.unexpectedExits).toEqual([]);
    expect(
      Object.values(report.finalExitCodes).every((code) => code === 0),
      JSON.stringify(report.finalExitCodes),
    ).toBe(true);
    for (const fault of report.faults) {
      for (const held of fault.held ?? []) {
        expect(held.requeuedAfterMs, `${fault.target}: ${held.uid}`).not.toBeNull();
        expect(held.requeuedAfterMs as number).toBeLessThanOrEqual(report.claimRecoveryBoundMs);
        expect(held.recoveredAfterMs, `${fault.target}: ${held.uid} processed again`).not.toBeNull();
      }
    }
  }, 240_000);
});

/**
 * The full chaos run (docs/reliability.md): N = 1000 tasks through a two-stage pipeline of real
 * processes while consumers, karton-system and Redis are SIGKILLed and S3 is unavailable for 30 s.
 *
 *   bash scripts/services.sh run -- node --import tsx bench/chaos.ts [--tasks N] [--seed S] [--keep]
 *
 * Prints the figures and exits 1 when a guarantee was broken (a task lost, a task left non-terminal,
 * an orphaned object, a process crashed, a claim recovered later than its bound).
 */
import { parseArgs } from "node:util";
import { formatReport, runChaos } from "../test/faults/chaos/run.js";

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "1000" },
    seed: { type: "string" },
    keep: { type: "boolean", default: false },
    "s3-outage": { type: "string", default: "30" },
  },
});

const report = await runChaos({
  tasks: Number(values.tasks),
  consumerKills: 8,
  systemKills: 3,
  redisRestarts: 3,
  s3OutageSeconds: Number(values["s3-outage"]),
  claimTimeout: 5,
  gcInterval: 5,
  dispatchedTimeout: 45,
  slotSeconds: 10,
  ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
  keep: values.keep,
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`${formatReport(report)}\n`);
const broken =
  report.lost.length > 0 ||
  report.nonTerminalAfterGc > 0 ||
  report.orphanedObjects.length > 0 ||
  report.unexpectedExits.length > 0 ||
  Object.values(report.finalExitCodes).some((code) => code !== 0) ||
  (report.maxClaimRecoveryMs ?? 0) > report.claimRecoveryBoundMs ||
  report.faults.some((f) =>
    (f.held ?? []).some((h) => h.requeuedAfterMs === null || h.recoveredAfterMs === null),
  );
process.exit(broken ? 1 : 0);

/**
 * `karton queues [--json]`: per consumer: replicas online, queue depth per priority, pending and
 * crashed task counts; receivers of stored tasks without a bind are listed too. Costs one scan of
 * every task document (see KartonState).
 */
import { type KartonQueue, KartonState } from "../../inspect/state.js";
import type { CliContext } from "../context.js";
import { EXIT_OK, type ExitCode } from "../errors.js";
import { table } from "../format.js";
import type { Registrar } from "../program.js";

export interface QueuesOptions {
  json?: boolean;
}

export const registerQueues: Registrar = (program, act) => {
  program
    .command("queues")
    .description("Show queue depths, pending and crashed counts and replicas per consumer")
    .option("--json", "JSON output")
    .action(act((ctx, options: QueuesOptions) => runQueues(ctx, options)));
};

function queueJson(queue: KartonQueue): Record<string, unknown> {
  return {
    identity: queue.identity,
    bind: queue.bind === null ? (queue.invalidBind === null ? "missing" : "invalid") : "ok",
    version: queue.bind?.version ?? null,
    service_version: queue.bind?.serviceVersion ?? null,
    persistent: queue.bind?.persistent ?? null,
    replicas: queue.replicas,
    queues: queue.lengths,
    pending: queue.pendingTasks.length,
    crashed: queue.crashedTasks.length,
    last_update: queue.lastUpdate,
  };
}

export async function runQueues(ctx: CliContext, options: QueuesOptions): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    const state = await KartonState.load(backend);
    const queues = [...state.queues.values(), ...state.unboundQueues.values()];
    if (options.json) {
      ctx.json({
        queues: queues.map(queueJson),
        unparsable_tasks: state.unparsableTasks.map((u) => ({ uid: u.uid, reason: u.reason })),
      });
      return EXIT_OK;
    }
    const legacy = queues.some((q) => (q.lengths?.bare ?? 0) > 0);
    const header = [
      "IDENTITY",
      "REPLICAS",
      "HIGH",
      "NORMAL",
      "LOW",
      ...(legacy ? ["LEGACY"] : []),
      "PENDING",
      "CRASHED",
    ];
    const rows = [header];
    for (const q of queues) {
      const note = q.bind !== null ? "" : q.invalidBind !== null ? " (unreadable bind)" : " (no bind)";
      const n = (v: number | undefined) => (v === undefined ? "-" : String(v));
      rows.push([
        q.identity + note,
        String(q.replicas),
        n(q.lengths?.high),
        n(q.lengths?.normal),
        n(q.lengths?.low),
        ...(legacy ? [n(q.lengths?.bare)] : []),
        String(q.pendingTasks.length),
        String(q.crashedTasks.length),
      ]);
    }
    for (const line of table(rows)) ctx.out(line);
    if (state.unparsableTasks.length > 0) {
      ctx.err(
        `warning: ${state.unparsableTasks.length} task documents could not be parsed (karton task <uid> shows why)`,
      );
    }
    return EXIT_OK;
  });
}

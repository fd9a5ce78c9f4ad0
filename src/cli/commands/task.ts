/**
 * `karton task <uid> [--json]`: one task document: status, priority, ids, headers, payloads
 * (resources summarised), error trace. An unreadable document is shown raw with the reason (exit 1).
 */
import { findTask } from "../../inspect/find.js";
import { receiverOf } from "../../inspect/tasks.js";
import type { JsonValue } from "../../json/index.js";
import { parse } from "../../json/index.js";
import { taskToDocument } from "../../task/document.js";
import type { Task } from "../../task/task.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, type ExitCode } from "../errors.js";
import { inlineValue, isoTime, listResources, prettyPayload, table } from "../format.js";
import type { Registrar } from "../program.js";

export interface TaskOptions {
  json?: boolean;
}

export const registerTask: Registrar = (program, act) => {
  program
    .command("task")
    .description("Show one task: status, ids, headers, payload, error")
    .argument("<uid>", "full task uid ({root}:uuid, or a legacy bare uuid)")
    .option("--json", "the stored document and its resources as JSON")
    .action(act((ctx, uid: string, options: TaskOptions) => runTask(ctx, uid, options)));
};

/** The resources of a task with their payload paths. */
export function taskResources(task: Task): { path: string; resource: JsonValue }[] {
  const out: { path: string; resource: JsonValue }[] = [];
  listResources(task.payload as JsonValue, "payload", out);
  listResources(task.payloadPersistent as JsonValue, "payload_persistent", out);
  return out;
}

export async function runTask(ctx: CliContext, uid: string, options: TaskOptions): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    const found = await findTask(backend, uid);
    if (found === null) throw new CliError(EXIT_FAILED, `task ${uid} not found`);
    if (found.task === null) {
      if (options.json) ctx.json({ uid: found.uid, error: found.reason, raw: found.raw });
      else {
        ctx.out(`Task ${found.uid}: unreadable document`);
        ctx.out(`  reason: ${found.reason}`);
        ctx.out(`  raw:    ${found.raw.length > 2000 ? `${found.raw.slice(0, 2000)}…` : found.raw}`);
      }
      return EXIT_FAILED;
    }
    const task = found.task;
    if (options.json) {
      let document: unknown;
      try {
        document = parse(found.raw);
      } catch {
        document = taskToDocument(task);
      }
      ctx.json({ uid: task.uid, task: document, resources: taskResources(task) });
      return EXIT_OK;
    }
    renderTask(ctx, task);
    return EXIT_OK;
  });
}

function renderTask(ctx: CliContext, task: Task): void {
  ctx.out(`Task ${task.uid}`);
  const rows: string[][] = [
    ["status:", task.status],
    ["priority:", task.priority],
    ["receiver:", receiverOf(task) ?? "- (unrouted)"],
    ["origin:", typeof task.headers.origin === "string" ? task.headers.origin || '""' : "-"],
    ["last update:", `${isoTime(task.lastUpdate)} (${task.lastUpdate})`],
    ["root uid:", task.rootUid],
    ["parent uid:", task.parentUid ?? "-"],
    ["orig uid:", task.origUid ?? "-"],
  ];
  for (const line of table(rows)) ctx.out(`  ${line}`);
  ctx.out("Headers:");
  const headerRows = Object.entries(task.headers).map(([key, value]) => [
    `${key}:`,
    inlineValue(value) + (task.isHeaderPersistent(key) ? "  (persistent)" : ""),
  ]);
  if (headerRows.length === 0) ctx.out("  (none)");
  for (const line of table(headerRows)) ctx.out(`  ${line}`);
  ctx.out(`Payload: ${prettyPayload(task.payload as JsonValue, {}, "")}`);
  ctx.out(`Persistent payload: ${prettyPayload(task.payloadPersistent as JsonValue, {}, "")}`);
  if (task.error && task.error.length > 0) {
    ctx.out("Error:");
    for (const line of task.error.join("").replace(/\n$/, "").split("\n")) ctx.out(`  ${line}`);
  }
}

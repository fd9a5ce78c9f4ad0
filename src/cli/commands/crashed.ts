/**
 * `karton crashed <identity> [--json]`: the Crashed tasks routed to a consumer, oldest first, with
 * the last line of their error. One scan of every task document.
 */
import type { KartonBackend } from "../../backend/backend.js";
import { queueTasks } from "../../inspect/actions.js";
import { isCrashed, lastErrorLine } from "../../inspect/tasks.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, type ExitCode } from "../errors.js";
import { headersSummary, isoTime, table } from "../format.js";
import type { Registrar } from "../program.js";

export interface CrashedOptions {
  json?: boolean;
}

export const registerCrashed: Registrar = (program, act) => {
  program
    .command("crashed")
    .description("List the crashed tasks of a consumer with their last error line")
    .argument("<identity>", "consumer identity")
    .option("--json", "JSON output")
    .action(act((ctx, identity: string, options: CrashedOptions) => runCrashed(ctx, identity, options)));
};

/** Whether `karton.binds` has an entry (readable or not) for the identity. */
export async function bindExists(backend: KartonBackend, identity: string): Promise<boolean> {
  const { binds, invalid } = await backend.getBinds();
  return binds.some((b) => b.identity === identity) || invalid.some((b) => b.identity === identity);
}

/**
 * Fails with exit 1 when nothing is known of `identity`: no bind and no stored task routed to it
 * (a typo, most likely). `routed` = tasks of any status already seen for it, if known.
 */
export async function requireKnownIdentity(
  backend: KartonBackend,
  identity: string,
  routed?: number,
): Promise<void> {
  if ((routed ?? 0) > 0 || (await bindExists(backend, identity))) return;
  if (routed === undefined && (await queueTasks(backend, identity, () => true)).length > 0) return;
  throw new CliError(EXIT_FAILED, `unknown consumer ${identity}: no bind and no tasks routed to it`);
}

export async function runCrashed(
  ctx: CliContext,
  identity: string,
  options: CrashedOptions,
): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    const routed = await queueTasks(backend, identity, () => true);
    await requireKnownIdentity(backend, identity, routed.length);
    const tasks = routed.filter(isCrashed);
    if (options.json) {
      ctx.json(
        tasks.map((task) => ({
          uid: task.uid,
          root_uid: task.rootUid,
          priority: task.priority,
          last_update: task.lastUpdate,
          headers: task.headers,
          error: lastErrorLine(task),
        })),
      );
      return EXIT_OK;
    }
    if (tasks.length === 0) {
      ctx.out(`No crashed tasks for ${identity}.`);
      return EXIT_OK;
    }
    const rows = [["UID", "LAST UPDATE", "HEADERS", "ERROR"]];
    for (const task of tasks) {
      rows.push([
        task.uid,
        isoTime(task.lastUpdate),
        headersSummary(task.headers, ["receiver", "origin"]),
        lastErrorLine(task) ?? "-",
      ]);
    }
    for (const line of table(rows)) ctx.out(line);
    ctx.out(`${tasks.length} crashed task${tasks.length === 1 ? "" : "s"} for ${identity}.`);
    return EXIT_OK;
  });
}

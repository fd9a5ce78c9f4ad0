/**
 * `karton cancel <uid>` / `--all-crashed <identity>` / `--all-pending <identity>`: sets tasks
 * Finished, as the dashboard's cancel buttons (spec §12).
 */
import { type CancelResult, cancelCrashed, cancelPending, cancelTask } from "../../inspect/actions.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_OK, EXIT_USAGE, type ExitCode } from "../errors.js";
import type { Registrar } from "../program.js";
import { requireKnownIdentity } from "./crashed.js";
import { reportBulk } from "./restart.js";

export interface CancelOptions {
  allCrashed?: string;
  allPending?: string;
  json?: boolean;
}

export const registerCancel: Registrar = (program, act) => {
  program
    .command("cancel")
    .description("Cancel (set Finished) a task, or every crashed or pending task of a consumer")
    .argument("[uid]", "full uid of the task to cancel")
    .option("--all-crashed <identity>", "cancel every crashed task of this consumer")
    .option(
      "--all-pending <identity>",
      "cancel every pending (not finished, not crashed) task of this consumer",
    )
    .option("--json", "JSON output")
    .action(act((ctx, uid: string | undefined, options: CancelOptions) => runCancel(ctx, uid, options)));
};

function describe(result: CancelResult): string {
  return result.changed
    ? `Cancelled ${result.uid} (was ${result.previousStatus})`
    : `Task ${result.uid} is already Finished`;
}

export async function runCancel(
  ctx: CliContext,
  uid: string | undefined,
  options: CancelOptions,
): Promise<ExitCode> {
  const given = [uid, options.allCrashed, options.allPending].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new CliError(
      EXIT_USAGE,
      "give exactly one of: a task uid, --all-crashed <identity>, --all-pending <identity>",
    );
  }
  return await ctx.withBackend(async (backend) => {
    if (uid !== undefined) {
      const result = await cancelTask(backend, uid);
      if (options.json) ctx.json(result);
      else ctx.out(describe(result));
      return EXIT_OK;
    }
    const crashed = options.allCrashed !== undefined;
    const identity = (options.allCrashed ?? options.allPending) as string;
    const result = crashed ? await cancelCrashed(backend, identity) : await cancelPending(backend, identity);
    if (result.done.length + result.failed.length === 0) await requireKnownIdentity(backend, identity);
    return reportBulk(
      ctx,
      result,
      options.json === true,
      describe,
      "cancelled",
      crashed ? "crashed" : "pending",
    );
  });
}

/**
 * `karton restart <uid>` / `karton restart --all-crashed <identity>`: restarts routed tasks the way
 * the dashboard does (spec §2.7): a new Spawned fork in the consumer's queue, the old task Finished.
 */
import { type BulkResult, type RestartResult, restartCrashed, restartTask } from "../../inspect/actions.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type ExitCode } from "../errors.js";
import type { Registrar } from "../program.js";
import { requireKnownIdentity } from "./crashed.js";

export interface RestartOptions {
  allCrashed?: string;
  json?: boolean;
}

export const registerRestart: Registrar = (program, act) => {
  program
    .command("restart")
    .description("Restart a routed task, or every crashed task of a consumer")
    .argument("[uid]", "full uid of the task to restart")
    .option("--all-crashed <identity>", "restart every crashed task of this consumer")
    .option("--json", "JSON output")
    .action(act((ctx, uid: string | undefined, options: RestartOptions) => runRestart(ctx, uid, options)));
};

function describe(result: RestartResult): string {
  return (
    `Restarted ${result.oldUid} (was ${result.previousStatus}) as ${result.newUid} ` +
    `for ${result.identity} (priority ${result.priority})`
  );
}

export async function runRestart(
  ctx: CliContext,
  uid: string | undefined,
  options: RestartOptions,
): Promise<ExitCode> {
  if ((uid === undefined) === (options.allCrashed === undefined)) {
    throw new CliError(EXIT_USAGE, "give either a task uid or --all-crashed <identity>");
  }
  return await ctx.withBackend(async (backend) => {
    if (uid !== undefined) {
      const result = await restartTask(backend, uid);
      if (options.json) ctx.json(result);
      else ctx.out(describe(result));
      return EXIT_OK;
    }
    const identity = options.allCrashed as string;
    const result = await restartCrashed(backend, identity);
    if (result.done.length + result.failed.length === 0) await requireKnownIdentity(backend, identity);
    return reportBulk(ctx, result, options.json === true, describe, "restarted", "crashed");
  });
}

/** Prints a bulk result; exit 1 when some tasks failed. */
export function reportBulk<R>(
  ctx: CliContext,
  result: BulkResult<R>,
  json: boolean,
  describeOne: (r: R) => string,
  verb: string,
  what: string,
): ExitCode {
  if (json) ctx.json(result);
  else {
    for (const done of result.done) ctx.out(describeOne(done));
    for (const failed of result.failed) ctx.err(`error: ${failed.uid}: ${failed.reason}`);
    const n = result.done.length;
    ctx.out(
      n === 0 && result.failed.length === 0
        ? `No ${what} tasks for ${result.identity}.`
        : `${n} ${what} task${n === 1 ? "" : "s"} of ${result.identity} ${verb}` +
            (result.failed.length > 0 ? `, ${result.failed.length} failed.` : "."),
    );
  }
  return result.failed.length > 0 ? EXIT_FAILED : EXIT_OK;
}

/**
 * `karton delete <identity> [--yes]`: unregisters a consumer the way Python's CLI does (spec §4.3,
 * §10.4): after confirmation, and only when the bind exists and no replica is online, its bind is
 * replaced by a non-persistent one with no filters; the next karton-system garbage collection then
 * removes the bind, its queues and its tasks.
 */
import type { Bind } from "../../bind/bind.js";
import { LIBRARY_VERSION } from "../../version.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, type ExitCode } from "../errors.js";
import type { Registrar } from "../program.js";

export interface DeleteOptions {
  yes?: boolean;
}

export const registerDelete: Registrar = (program, act) => {
  program
    .command("delete")
    .description("Delete an unused karton bind")
    .argument("<identity>", "karton identity to delete")
    .option("-y, --yes", "do not ask for confirmation (scripts)")
    .action(act((ctx, identity: string, options: DeleteOptions) => runDelete(ctx, identity, options)));
};

/** The bind `karton delete` registers: non-persistent, no filters (GC then drops it). */
export function deletionBind(identity: string): Bind {
  return {
    identity,
    filters: [],
    info: null,
    version: LIBRARY_VERSION,
    persistent: false,
    serviceVersion: null,
    isAsync: false,
  };
}

export async function runDelete(
  ctx: CliContext,
  identity: string,
  options: DeleteOptions,
): Promise<ExitCode> {
  ctx.config();
  if (!options.yes) {
    ctx.out(`Are you sure you want to remove binds for karton ${identity}?`);
    ctx.out("Type in the karton name to confirm");
    const answer = await ctx.reader.readLine();
    if (answer === null || answer.trim() !== identity) throw new CliError(EXIT_FAILED, "Aborted.");
  }
  return await ctx.withBackend(async (backend) => {
    const { binds, invalid } = await backend.getBinds();
    const exists = binds.some((b) => b.identity === identity) || invalid.some((b) => b.identity === identity);
    if (!exists)
      throw new CliError(EXIT_FAILED, `Trying to delete a karton bind that doesn't exist: ${identity}`);
    const replicas = (await backend.onlineClients()).filter((c) => c.identity === identity).length;
    if (replicas > 0) {
      throw new CliError(
        EXIT_FAILED,
        `This bind has active replicas that need to be downscaled before it can be deleted ` +
          `(${identity}: ${replicas} online)`,
      );
    }
    await backend.registerBind(deletionBind(identity));
    ctx.out(
      `Bind ${identity} is now non-persistent with no filters: the next karton-system garbage collection ` +
        "removes it with its queues and tasks.",
    );
    return EXIT_OK;
  });
}

/**
 * `karton quarantine [--limit N] [--json]`: what karton-system set aside (unreadable task documents
 * and binds), newest first.
 */
import { InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { EXIT_OK, type ExitCode } from "../errors.js";
import { isoTime } from "../format.js";
import type { Registrar } from "../program.js";

export interface QuarantineOptions {
  limit: number;
  json?: boolean;
  raw?: boolean;
}

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError("expected a positive integer");
  return Number(value);
}

export const registerQuarantine: Registrar = (program, act) => {
  program
    .command("quarantine")
    .description("Show what karton-system set aside (unreadable tasks and binds), newest first")
    .option("--limit <n>", "at most this many records", positiveInt, 100)
    .option("--raw", "also print the offending values")
    .option("--json", "JSON output (offending values included)")
    .action(act((ctx, options: QuarantineOptions) => runQuarantine(ctx, options)));
};

export async function runQuarantine(ctx: CliContext, options: QuarantineOptions): Promise<ExitCode> {
  return await ctx.withBackend(async (backend) => {
    const records = await backend.listQuarantine(options.limit);
    if (options.json) {
      ctx.json(records);
      return EXIT_OK;
    }
    if (records.length === 0) {
      ctx.out("The quarantine is empty.");
      return EXIT_OK;
    }
    for (const r of records) {
      ctx.out(`${isoTime(r.at)}  ${r.kind} ${r.subject}  (${r.reporter || "?"}): ${r.reason}`);
      if (options.raw && r.raw !== null) ctx.out(`    ${r.raw}`);
    }
    return EXIT_OK;
  });
}

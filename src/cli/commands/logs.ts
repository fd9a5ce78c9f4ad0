/**
 * `karton logs [--filter IDENTITY] [--level LEVEL] [--json]`: streams the log records every service
 * publishes (spec §8), like Python's `karton logs`: a log consumer named
 * `karton.cli-logger?karton_version=…` subscribed to `karton.log.*.<IDENTITY or *>`, printing
 * `[<levelname>] <name>: <message>` for records with `type == "log"`. Runs until SIGINT/SIGTERM.
 */
import type { LogMessage } from "../../backend/types.js";
import { LIBRARY_VERSION } from "../../version.js";
import type { CliContext } from "../context.js";
import { CliError, EXIT_OK, EXIT_USAGE, type ExitCode } from "../errors.js";
import { colourByLevel, colourEnabled } from "../io.js";
import type { Registrar } from "../program.js";

/** Identity of the CLI's log consumer (as Python's). */
export const CLI_LOGGER_IDENTITY = "karton.cli-logger";

const LEVELS: Record<string, number> = {
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  WARN: 30,
  ERROR: 40,
  CRITICAL: 50,
  FATAL: 50,
};

export interface LogsOptions {
  filter?: string;
  level?: string;
  json?: boolean;
}

export const registerLogs: Registrar = (program, act) => {
  program
    .command("logs")
    .description("Start streaming logs")
    .option("--filter <identity>", "only records of this service identity (Redis glob patterns allowed)")
    .option("--level <level>", "only records at this level or above (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    .option("--json", "print every record as one JSON object per line")
    .action(act((ctx, options: LogsOptions) => runLogs(ctx, options)));
};

/** Minimum level number of `--level` (names or numbers); undefined = every record. */
export function parseMinLevel(level: string | undefined): number | undefined {
  if (level === undefined) return undefined;
  const text = level.trim().toUpperCase();
  if (/^\d+$/.test(text)) return Number(text);
  const value = LEVELS[text];
  if (value === undefined) {
    throw new CliError(
      EXIT_USAGE,
      `unknown log level ${JSON.stringify(level)} (expected DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)`,
    );
  }
  return value;
}

function levelOf(body: Record<string, unknown>): number | undefined {
  if (typeof body.levelno === "number") return body.levelno;
  if (typeof body.levelname === "string") return LEVELS[body.levelname.toUpperCase()];
  return undefined;
}

/** The line Python's CLI prints for a record. */
export function formatLogLine(body: Record<string, unknown>): string {
  return `[${String(body.levelname)}] ${String(body.name)}: ${String(body.message)}`;
}

export async function runLogs(ctx: CliContext, options: LogsOptions): Promise<ExitCode> {
  const minLevel = parseMinLevel(options.level);
  const colour = !options.json && colourEnabled(ctx.stdout, ctx.env);
  const clientName = `${CLI_LOGGER_IDENTITY}?${new URLSearchParams({ karton_version: LIBRARY_VERSION })}`;
  const onMessage = ({ body }: LogMessage): void => {
    if (body.type !== "log") return;
    if (minLevel !== undefined && (levelOf(body) ?? 0) < minLevel) return;
    if (options.json) {
      ctx.json(body);
      return;
    }
    const line = formatLogLine(body);
    ctx.out(colour ? colourByLevel(line, String(body.levelname)) : line);
  };
  return await ctx.withBackend(async (backend) => {
    const filter = options.filter === undefined ? {} : { identity: options.filter };
    const stop = stopSignal(ctx);
    const subscription = await backend.subscribeLogs(filter, onMessage, { clientName });
    ctx.debug(`subscribed to the logs of ${options.filter ?? "every service"} as ${clientName}`);
    try {
      await stop.promise;
    } finally {
      stop.dispose();
      await subscription.close();
    }
    return EXIT_OK;
  });
}

/** Resolves on the context's abort signal, or on SIGINT/SIGTERM when there is none. */
function stopSignal(ctx: CliContext): { promise: Promise<void>; dispose: () => void } {
  let dispose = () => {};
  const promise = new Promise<void>((resolve) => {
    const signal = ctx.signal;
    if (signal) {
      if (signal.aborted) return resolve();
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      dispose = () => signal.removeEventListener("abort", onAbort);
      return;
    }
    const onSignal = () => resolve();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    dispose = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    };
  });
  return { promise, dispose };
}

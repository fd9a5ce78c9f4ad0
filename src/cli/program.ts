/**
 * The `karton` command: argument parsing (commander), dispatch to the sub-commands, error → exit
 * code mapping. {@link runCli} runs it in-process with injectable streams.
 */
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/errors.js";
import { InspectError } from "../inspect/errors.js";
import { LIBRARY_VERSION } from "../version.js";
import { registerAnalysis } from "./commands/analysis.js";
import { registerCancel } from "./commands/cancel.js";
import { registerConfigure } from "./commands/configure.js";
import { registerCrashed } from "./commands/crashed.js";
import { registerDelete } from "./commands/delete.js";
import { registerList } from "./commands/list.js";
import { registerLogs } from "./commands/logs.js";
import { registerQuarantine } from "./commands/quarantine.js";
import { registerQueues } from "./commands/queues.js";
import { registerRestart } from "./commands/restart.js";
import { registerTask } from "./commands/task.js";
import { CliContext, type CliEnvironment, configError, errorText, type GlobalOptions } from "./context.js";
import {
  CliError,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  type ExitCode,
  isUnreachableError,
} from "./errors.js";

/** A sub-command implementation: gets the context and commander's action arguments. */
// biome-ignore lint/suspicious/noExplicitAny: commander passes positional arguments and options untyped
export type CommandRunner<A extends any[]> = (ctx: CliContext, ...args: A) => Promise<ExitCode>;

/** Wraps a runner into a commander action that records its exit code. */
// biome-ignore lint/suspicious/noExplicitAny: see CommandRunner
export type ActFactory = <A extends any[]>(runner: CommandRunner<A>) => (...args: unknown[]) => Promise<void>;

/** Adds one sub-command to the program. */
export type Registrar = (program: Command, act: ActFactory) => void;

const REGISTRARS: Registrar[] = [
  registerList,
  registerLogs,
  registerDelete,
  registerConfigure,
  registerTask,
  registerCrashed,
  registerRestart,
  registerCancel,
  registerAnalysis,
  registerQueues,
  registerQuarantine,
];

/** Options of {@link runCli}: the streams and hooks of {@link CliEnvironment}. */
export type RunCliOptions = CliEnvironment;

/**
 * Runs the `karton` command with `argv` (the arguments after the program name, e.g.
 * `["list", "-o", "json"]`) and returns the exit code (0 ok, 1 failed or not found, 2 usage or
 * configuration error, 3 Redis/S3 unreachable). Never throws and never exits the process.
 */
export async function runCli(argv: readonly string[], options: RunCliOptions = {}): Promise<number> {
  const ctx = new CliContext(options);
  let exitCode: ExitCode = EXIT_OK;
  const program = new Command()
    .name("karton")
    .description("Your red pill to the karton-verse")
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    .exitOverride()
    .showHelpAfterError("(add --help for additional information)")
    .version(LIBRARY_VERSION, "--version", "show program's version number and exit")
    .option("-c, --config-file <path>", "Alternative configuration path")
    .option("-v, --verbose", "More verbose log output")
    .helpOption("-h, --help", "show this help message and exit")
    .helpCommand("help [command]", "show help for a command");

  const act: ActFactory =
    (runner) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      ctx.setGlobals(command.optsWithGlobals() as GlobalOptions);
      ctx.debug(`karton-ts ${LIBRARY_VERSION}, command ${command.name()}`);
      const run = runner as (ctx: CliContext, ...rest: unknown[]) => Promise<ExitCode>;
      exitCode = await run(ctx, ...args.slice(0, -1));
    };
  for (const register of REGISTRARS) register(program, act);

  // No sub-command: the help text on stdout, exit 0 (as the reference); an unknown one: usage error.
  program
    .command("__default", { isDefault: true, hidden: true })
    .argument("[words...]")
    .allowUnknownOption(false)
    .action(async (words: string[]) => {
      if (words.length > 0) {
        ctx.stderr.write(`error: unknown command '${words[0]}'\n`);
        ctx.stderr.write("(run karton --help for the list of commands)\n");
        exitCode = EXIT_USAGE;
        return;
      }
      ctx.stdout.write(program.helpInformation());
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    return report(ctx, error);
  }
}

/** Prints an error (secrets redacted) and returns its exit code. */
function report(ctx: CliContext, error: unknown): ExitCode {
  if (error instanceof CommanderError) {
    // help and version exit 0; every parsing problem (already printed by commander) is a usage error
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof CliError) {
    if (error.message !== "") ctx.err(`error: ${error.message}`);
    if (ctx.verbose && error.cause !== undefined) ctx.err(describeCause(error.cause));
    return error.exitCode;
  }
  if (error instanceof ConfigError) return report(ctx, configError(error));
  if (error instanceof InspectError) {
    ctx.err(`error: ${error.message}`);
    return EXIT_FAILED;
  }
  if (isUnreachableError(error)) {
    ctx.err(`error: cannot reach the store: ${errorText(error)}`);
    return EXIT_UNREACHABLE;
  }
  ctx.err(`error: ${errorText(error)}`);
  if (ctx.verbose) ctx.err(describeCause(error));
  return EXIT_FAILED;
}

function describeCause(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

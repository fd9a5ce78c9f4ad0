/** The `karton` command as a library: run it in-process (tests, embedding). */
export { type BackendFactory, CliContext, type CliEnvironment, type GlobalOptions } from "./context.js";
export { CliError, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, type ExitCode } from "./errors.js";
export { type RunCliOptions, runCli } from "./program.js";

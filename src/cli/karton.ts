#!/usr/bin/env node
/**
 * `karton`: the operator command of karton-ts (list, logs, delete, configure, task, crashed,
 * restart, cancel, analysis, queues, quarantine). See `karton --help` and docs/cli.md.
 */

// The AWS SDK warns on every start under Node 20 that future releases need Node 22: noise for a
// command-line tool (the library's own requirement stays Node >= 20). Filter that one warning
// before the SDK is loaded, hence the dynamic import below.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = warning instanceof Error ? `${warning.name}: ${warning.message}` : String(warning);
  if (text.startsWith("NodeVersionSupportWarning")) return;
  emitWarning(warning, ...rest);
}) as typeof process.emitWarning;

process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  // `karton logs | head`: the reader went away
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const { runCli } = await import("./program.js");
const code = await runCli(process.argv.slice(2));
process.exit(code);

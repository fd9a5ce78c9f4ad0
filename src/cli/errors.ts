/**
 * Exit codes of the `karton` command (stable; documented in docs/cli.md) and the error that
 * carries one.
 */

/** Success. */
export const EXIT_OK = 0;
/** The operation failed or what it names does not exist (task, bind, analysis), or was aborted. */
export const EXIT_FAILED = 1;
/** Bad command line or configuration (missing karton.ini, invalid option...). */
export const EXIT_USAGE = 2;
/** Redis or S3 cannot be reached (connection refused, timeout, authentication rejected). */
export const EXIT_UNREACHABLE = 3;

/** One of the EXIT_* codes. */
export type ExitCode = number;

/** Ends the command with `exitCode`, printing `message` (when not empty) as `error: <message>`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CliError";
  }
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "REDIS_AUTH_FAILED",
]);

/** True when the error (or one of its causes) is a connection failure to Redis or S3. */
export function isUnreachableError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && current !== undefined; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    const message = current instanceof Error ? current.message : "";
    if (/Connection is closed|is not reachable|ECONNREFUSED|ETIMEDOUT|ENOTFOUND/.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

import { displayValue } from "./redact.js";

/** Where a configuration problem was found; every field is optional. */
export interface ConfigErrorDetails {
  /** INI section (or `[section]` derived from an environment variable / argument). */
  section?: string;
  /** Option name inside {@link ConfigErrorDetails.section}. */
  option?: string;
  /** Configuration file the problem was found in. */
  file?: string;
  /** 1-based line in {@link ConfigErrorDetails.file}. */
  line?: number;
  /** Underlying error (I/O error, JSON parse error...). */
  cause?: unknown;
}

/**
 * Any problem with the Karton configuration: unreadable or malformed files, bad INI syntax,
 * bad interpolation, missing sections, options with invalid values.
 *
 * Messages name the section, option, offending value and where the value came from (file and
 * line, environment variable or argument). Values of secret options (passwords, secret keys,
 * tokens) are never included.
 */
export class ConfigError extends Error {
  /** Stable error code, for `catch` blocks that do not want `instanceof`. */
  readonly code = "CONFIG_ERROR" as const;
  readonly section: string | undefined;
  readonly option: string | undefined;
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(message: string, details: ConfigErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ConfigError";
    this.section = details.section;
    this.option = details.option;
    this.file = details.file;
    this.line = details.line;
  }
}

/**
 * The error for an option whose value cannot be used: names the option, the expectation, the value
 * (hidden for secret options, URL passwords masked) and where it came from.
 */
export function invalidValueError(
  section: string,
  option: string,
  value: unknown,
  source: string,
  expected: string,
): ConfigError {
  return new ConfigError(
    `Invalid value for [${section}] ${option}: expected ${expected}, got ${displayValue(section, option, value)} (from ${source})`,
    { section, option },
  );
}

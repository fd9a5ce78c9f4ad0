/** Where configuration values came from, for error messages and debugging. */

/** The origin of one configuration value. */
export type ConfigSource =
  /** An INI file; `fromDefault` when the section inherited the option from `[DEFAULT]`. */
  | { kind: "file"; file: string; line: number; fromDefault: boolean }
  /** An environment variable (`KARTON_*`, or `AWS_*` for the S3 fall-backs). */
  | { kind: "env"; name: string }
  /** `args` of {@link KartonConfig.load} (command-line arguments). */
  | { kind: "arg" }
  /** `loadFromDict()` / `fromDict()`. */
  | { kind: "dict" }
  /** `set()`. */
  | { kind: "set" }
  /** Copied from the deprecated `[minio]` section into `[s3]`. */
  | { kind: "minio"; option: string; original: ConfigSource; schemeAdded?: string }
  /** Not configured: a built-in default. */
  | { kind: "default" };

/** One-line human description of a source, e.g. `file /etc/karton/karton.ini, line 3`. */
export function describeConfigSource(source: ConfigSource): string {
  switch (source.kind) {
    case "file":
      return `file ${source.file}, line ${source.line}${source.fromDefault ? " ([DEFAULT] section)" : ""}`;
    case "env":
      return `environment variable ${source.name}`;
    case "arg":
      return "command-line arguments";
    case "dict":
      return "loadFromDict()";
    case "set":
      return "set()";
    case "minio": {
      const added = source.schemeAdded ? `, "${source.schemeAdded}" prepended` : "";
      return `[minio] ${source.option} mapped to [s3]${added}, from ${describeConfigSource(source.original)}`;
    }
    case "default":
      return "built-in default";
  }
}

/** What happened to one configuration file location during {@link KartonConfig.load}. */
export interface ConfigFileStatus {
  path: string;
  /** `read`: merged; `missing`: skipped (default locations only); `unreadable`: skipped, see `reason`. */
  status: "read" | "missing" | "unreadable";
  /** Why the file could not be read (`unreadable` only). */
  reason?: string;
  /** How the location was chosen. */
  origin: "default" | "KARTON_CONFIG_FILE" | "--config-file";
}

/** Summary of the sources {@link KartonConfig.load} consulted. */
export interface ConfigLoadReport {
  /** Every file location, in reading order. */
  files: ConfigFileStatus[];
  /** Names of the `KARTON_*` environment variables that set an option. */
  envVars: string[];
  /** `[section] option` for every argument that set an option. */
  args: string[];
}

/** An empty report (configurations built from dictionaries). */
export function emptyLoadReport(): ConfigLoadReport {
  return { files: [], envVars: [], args: [] };
}

/** Human summary of a load report, used by "missing section" errors. */
export function describeLoadReport(report: ConfigLoadReport): string {
  const parts: string[] = [];
  const read = report.files.filter((f) => f.status === "read").map((f) => f.path);
  parts.push(read.length > 0 ? `files read: ${read.join(", ")}` : "no configuration file was read");
  const missing = report.files.filter((f) => f.status === "missing").map((f) => f.path);
  if (missing.length > 0) parts.push(`not found: ${missing.join(", ")}`);
  for (const f of report.files) {
    if (f.status === "unreadable") parts.push(`unreadable: ${f.path} (${f.reason ?? "unknown error"})`);
  }
  parts.push(
    report.envVars.length > 0
      ? `environment variables used: ${report.envVars.join(", ")}`
      : "no KARTON_<SECTION>_<OPTION> environment variables",
  );
  if (report.args.length > 0) parts.push(`command-line arguments: ${report.args.join(", ")}`);
  return parts.join("; ");
}

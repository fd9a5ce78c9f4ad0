/**
 * Karton configuration, read exactly like Python karton-core 5.9.1's `Config` so that one
 * `karton.ini` serves Python and TypeScript services (wire-protocol spec §10).
 *
 * Sources, later ones overriding earlier ones option by option:
 * 1. INI files: `/etc/karton/karton.ini`, `~/.config/karton/karton.ini`, `./karton.ini` (each skipped
 *    when missing), then the file named by `KARTON_CONFIG_FILE`, then the explicit `path`
 *    (`--config-file`); those two must exist. All files are read as one Python `configparser`
 *    document (see {@link IniDocument}), so `[DEFAULT]` and `%(name)s` work across files.
 * 2. Environment variables `KARTON_<SECTION>_<OPTION>` (see {@link parseEnvName}); not interpolated.
 * 3. Arguments (`args`), only values that are not `undefined`/`null`.
 *
 * Then a deprecated `[minio]` section is copied to `[s3]` when `[s3]` does not exist, and (unless
 * `checkRequired: false`) `[s3]` and `[redis]` must exist.
 *
 * **Quirk (as in Python):** a section only exists if it has at least one option; an empty `[redis]`
 * counts as missing. When the files have a non-empty `[DEFAULT]`, a `DEFAULT` section is listed too.
 */
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { resolve as resolvePath } from "node:path";
import { inspect } from "node:util";
import { type ConfigValue, toBoolean, toFloat, toInteger, valueToString } from "./convert.js";
import { ConfigError, invalidValueError } from "./errors.js";
import { IniDocument } from "./ini-parser.js";
import {
  type DashboardOptions,
  type KartonOptions,
  type LoggingOptions,
  type RedisOptions,
  readDashboardOptions,
  readKartonOptions,
  readLoggingOptions,
  readMaxTaskSize,
  readRedisOptions,
  readS3Options,
  readSignalingOptions,
  readSystemOptions,
  type S3Options,
  type SignalingOptions,
  type SystemOptions,
} from "./options.js";
import { isSecretOption, maskUrlCredentials, REDACTED } from "./redact.js";
import {
  type ConfigFileStatus,
  type ConfigLoadReport,
  type ConfigSource,
  describeConfigSource,
  describeLoadReport,
  emptyLoadReport,
} from "./sources.js";

/** Section → option → value, as accepted by `loadFromDict` (null/undefined values are skipped). */
export type ConfigDict = Record<string, Record<string, ConfigValue | null | undefined>>;

/** Arguments given to {@link KartonConfig.load}; `undefined` means "flag not given". */
export type ConfigArgs = Record<string, Record<string, string | number | boolean | null | undefined>>;

/** Options of {@link KartonConfig.load}. */
export interface ConfigLoadOptions {
  /** Explicit configuration file (`--config-file`); must exist. Relative to `cwd`. */
  path?: string;
  /** Environment to read `KARTON_*` (and `HOME`, `AWS_*`) from. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Command-line arguments, applied last. */
  args?: ConfigArgs;
  /** Require `[s3]` and `[redis]` sections (default true). */
  checkRequired?: boolean;
  /** Home directory for `~/.config/karton/karton.ini`. Default: `env.HOME` if not empty, else `os.homedir()`. */
  homeDir?: string;
  /** Directory of `./karton.ini` and base of relative paths. Default: `process.cwd()`. */
  cwd?: string;
  /** Directory holding `karton/karton.ini` as the global file. Default: `/etc`. */
  etcDir?: string;
}

interface Entry {
  value: ConfigValue;
  source: ConfigSource;
}

const ENV_NAME = /^KARTON_([A-Z0-9.-]+)_([A-Z0-9_]+)$/;

/**
 * Splits `KARTON_<SECTION>_<OPTION>` into lower-case section and option, or returns undefined when
 * the variable is not a configuration variable. The section is `[A-Z0-9.-]+` and ends at the first
 * `_`; the option is `[A-Z0-9_]+`; names with lower-case letters never match.
 */
export function parseEnvName(name: string): { section: string; option: string } | undefined {
  const match = ENV_NAME.exec(name);
  if (!match) return undefined;
  return { section: (match[1] as string).toLowerCase(), option: (match[2] as string).toLowerCase() };
}

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/** A Karton configuration: sections of options with their values and their origins. */
export class KartonConfig {
  readonly #sections = new Map<string, Map<string, Entry>>();
  readonly #env: NodeJS.ProcessEnv;
  readonly #report: ConfigLoadReport;

  private constructor(env: NodeJS.ProcessEnv, report: ConfigLoadReport) {
    this.#env = env;
    this.#report = report;
  }

  /** Reads files, environment and arguments as described in the module documentation. */
  static load(options: ConfigLoadOptions = {}): KartonConfig {
    const env = options.env ?? process.env;
    const cwd = options.cwd ?? process.cwd();
    const home = options.homeDir ?? (env.HOME || homedir());
    const etc = options.etcDir ?? "/etc";
    const config = new KartonConfig(env, emptyLoadReport());
    const report = config.#report;

    const locations: { path: string; origin: ConfigFileStatus["origin"] }[] = [
      { path: resolvePath(etc, "karton", "karton.ini"), origin: "default" },
      { path: resolvePath(home, ".config", "karton", "karton.ini"), origin: "default" },
      { path: resolvePath(cwd, "karton.ini"), origin: "default" },
    ];
    const fromEnv = env.KARTON_CONFIG_FILE;
    if (fromEnv) {
      const path = resolvePath(cwd, fromEnv);
      if (!isFile(path)) {
        throw new ConfigError(
          `Configuration file not found: KARTON_CONFIG_FILE is set to "${fromEnv}" but ${path} does not exist or is not a file`,
        );
      }
      locations.push({ path, origin: "KARTON_CONFIG_FILE" });
    }
    if (options.path !== undefined) {
      const path = resolvePath(cwd, options.path);
      if (!isFile(path)) {
        throw new ConfigError(
          `Configuration file not found: --config-file "${options.path}" (${path}) does not exist or is not a file`,
        );
      }
      locations.push({ path, origin: "--config-file" });
    }

    const doc = new IniDocument();
    for (const { path, origin } of locations) {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (origin === "default" && (code === "ENOENT" || code === "ENOTDIR")) {
          report.files.push({ path, origin, status: "missing" });
          continue;
        }
        const reason = error instanceof Error ? error.message : String(error);
        if (origin !== "default") {
          throw new ConfigError(`Cannot read configuration file ${path} (from ${origin}): ${reason}`, {
            file: path,
            cause: error,
          });
        }
        // Python's configparser silently skips files it cannot open; we skip too but report it.
        report.files.push({ path, origin, status: "unreadable", reason });
        continue;
      }
      doc.read(text, path);
      report.files.push({ path, origin, status: "read" });
    }
    for (const [section, values] of doc.resolve()) {
      for (const [option, v] of values) {
        config.#put(section, option, v.value, {
          kind: "file",
          file: v.location.file,
          line: v.location.line,
          fromDefault: v.fromDefault,
        });
      }
    }

    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) continue;
      const parsed = parseEnvName(name);
      if (!parsed) continue;
      config.#put(parsed.section, parsed.option, value, { kind: "env", name });
      report.envVars.push(name);
    }
    report.envVars.sort();

    for (const [section, values] of Object.entries(options.args ?? {})) {
      for (const [option, value] of Object.entries(values)) {
        if (value === undefined || value === null) continue;
        config.#put(section, option, value, { kind: "arg" });
        report.args.push(`[${section}] ${option}`);
      }
    }

    config.#mapMinioToS3();
    if (options.checkRequired ?? true) config.checkRequiredSections();
    return config;
  }

  /**
   * A configuration holding only `dict` (no files, no `KARTON_*` environment, no `[minio]` mapping,
   * no required sections). `env` is only used for the `AWS_*` fall-backs of {@link s3Options}.
   */
  static fromDict(dict: ConfigDict, options: { env?: NodeJS.ProcessEnv } = {}): KartonConfig {
    const config = new KartonConfig(options.env ?? process.env, emptyLoadReport());
    config.loadFromDict(dict);
    return config;
  }

  /**
   * Sets every non-null value of `dict` (Python's `load_from_dict`). With `fromArgs`, error messages
   * name "command-line arguments" as the source of these values.
   */
  loadFromDict(dict: ConfigDict, options: { fromArgs?: boolean } = {}): void {
    const source: ConfigSource = options.fromArgs ? { kind: "arg" } : { kind: "dict" };
    for (const [section, values] of Object.entries(dict)) {
      for (const [option, value] of Object.entries(values)) {
        if (value === undefined || value === null) continue;
        this.#put(section, option, value, source);
      }
    }
  }

  /**
   * Throws a {@link ConfigError} unless `[s3]` and `[redis]` exist, listing what was read. The
   * embedded backend (`[karton] backend = embedded`) needs neither.
   */
  checkRequiredSections(): void {
    if (this.get("karton", "backend")?.trim().toLowerCase() === "embedded") return;
    const missing = ["s3", "redis"].filter((s) => !this.hasSection(s));
    if (missing.length === 0) return;
    const names = missing.map((s) => `[${s}]`).join(" and ");
    throw new ConfigError(
      `Missing ${names} configuration section${missing.length > 1 ? "s" : ""} ` +
        `(sources: ${describeLoadReport(this.#report)}). ` +
        `Create a karton.ini (e.g. with "karton configure"), set KARTON_CONFIG_FILE or pass --config-file.`,
      { section: missing[0] },
    );
  }

  /** Sets a value (Python's `Config.set`); names are used verbatim. */
  set(section: string, option: string, value: ConfigValue): void {
    this.#put(section, option, value, { kind: "set" });
  }

  /** The value as text, or `fallback` when the option is not set. Booleans read `true`/`false`. */
  get(section: string, option: string): string | undefined;
  get(section: string, option: string, fallback: string): string;
  get(section: string, option: string, fallback?: string): string | undefined {
    const entry = this.#entry(section, option);
    return entry ? valueToString(entry.value) : fallback;
  }

  /** The value as stored: text, or the native value given in arguments / dictionaries. */
  getRaw(section: string, option: string): ConfigValue | undefined {
    return this.#entry(section, option)?.value;
  }

  /** The value as an integer (Python `int()`), or `fallback` when unset; throws when not an integer. */
  getInt(section: string, option: string): number | undefined;
  getInt(section: string, option: string, fallback: number): number;
  getInt(section: string, option: string, fallback?: number): number | undefined {
    const entry = this.#entry(section, option);
    if (!entry) return fallback;
    const result = toInteger(entry.value);
    if (result === undefined) throw this.invalid(section, option, "an integer");
    return result;
  }

  /** The value as a number (Python `float()`), or `fallback` when unset; throws when not a number. */
  getFloat(section: string, option: string): number | undefined;
  getFloat(section: string, option: string, fallback: number): number;
  getFloat(section: string, option: string, fallback?: number): number | undefined {
    const entry = this.#entry(section, option);
    if (!entry) return fallback;
    const result = toFloat(entry.value);
    if (result === undefined) throw this.invalid(section, option, "a number");
    return result;
  }

  /**
   * The value as a boolean (`1/yes/true/on`, `0/no/false/off`, any case), or `fallback` when unset;
   * throws a {@link ConfigError} for anything else.
   */
  getBoolean(section: string, option: string): boolean | undefined;
  getBoolean(section: string, option: string, fallback: boolean): boolean;
  getBoolean(section: string, option: string, fallback?: boolean): boolean | undefined {
    const entry = this.#entry(section, option);
    if (!entry) return fallback;
    const result = toBoolean(entry.value);
    if (result === undefined) {
      throw this.invalid(section, option, "a boolean (1/yes/true/on or 0/no/false/off)");
    }
    return result;
  }

  /** True when the option is set (even to an empty value). */
  has(section: string, option: string): boolean {
    return this.#entry(section, option) !== undefined;
  }

  /** True when the section has at least one option. */
  hasSection(section: string): boolean {
    return this.#sections.has(section);
  }

  /** Section names, in order of first appearance. */
  sections(): string[] {
    return [...this.#sections.keys()];
  }

  /** Option names of a section (empty when the section does not exist). */
  options(section: string): string[] {
    return [...(this.#sections.get(section)?.keys() ?? [])];
  }

  /** All values, unredacted — handle with care. See {@link redacted} for something printable. */
  toDict(): Record<string, Record<string, ConfigValue>> {
    const out: Record<string, Record<string, ConfigValue>> = {};
    for (const [section, options] of this.#sections) {
      const target: Record<string, ConfigValue> = {};
      for (const [option, entry] of options) target[option] = entry.value;
      out[section] = target;
    }
    return out;
  }

  /**
   * All values with secrets (passwords, secret keys, tokens, see {@link isSecretOption}) replaced by
   * `***` and passwords inside URLs masked. Empty secrets stay empty.
   */
  redacted(): Record<string, Record<string, ConfigValue>> {
    const out = this.toDict();
    for (const [section, options] of Object.entries(out)) {
      for (const [option, value] of Object.entries(options)) {
        if (isSecretOption(section, option)) {
          if (value !== "") options[option] = REDACTED;
        } else if (typeof value === "string") {
          options[option] = maskUrlCredentials(value);
        }
      }
    }
    return out;
  }

  /** Where the value of an option came from (file and line, variable...), or undefined when unset. */
  describeSource(section: string, option: string): string | undefined {
    const entry = this.#entry(section, option);
    return entry ? describeConfigSource(entry.source) : undefined;
  }

  /** The structured origin of an option, or undefined when unset. */
  sourceOf(section: string, option: string): ConfigSource | undefined {
    return this.#entry(section, option)?.source;
  }

  /** Which files, variables and arguments {@link load} used. */
  get loadReport(): ConfigLoadReport {
    return structuredClone(this.#report);
  }

  /** A value of the environment given at load time (used for the `AWS_*` fall-backs). */
  env(name: string): string | undefined {
    return this.#env[name];
  }

  /**
   * A {@link ConfigError} saying that the current value of an option is not `expected`
   * (value hidden for secrets). For services validating their own options.
   */
  invalid(section: string, option: string, expected: string): ConfigError {
    const entry = this.#entry(section, option);
    return invalidValueError(
      section,
      option,
      entry?.value,
      entry ? describeConfigSource(entry.source) : "built-in default",
      expected,
    );
  }

  /** `[redis]` connection options, validated (defaults in {@link CONFIG_DEFAULTS}). */
  redisOptions(): RedisOptions {
    return readRedisOptions(this);
  }

  /** `[s3]` endpoint, credentials and bucket, validated; `AWS_*` environment fall-backs. */
  s3Options(): S3Options {
    return readS3Options(this);
  }

  /** `[karton]` service options. */
  kartonOptions(): KartonOptions {
    return readKartonOptions(this);
  }

  /** `[logging]` options. */
  loggingOptions(): LoggingOptions {
    return readLoggingOptions(this);
  }

  /** `[signaling]` options. */
  signalingOptions(): SignalingOptions {
    return readSignalingOptions(this);
  }

  /** `[system]` options of karton-system (router and garbage collector). */
  systemOptions(): SystemOptions {
    return readSystemOptions(this);
  }

  /** `[system] max_task_size` (bytes, 0 = no limit), without validating the rest of `[system]`. */
  maxTaskSize(): number {
    return readMaxTaskSize(this);
  }

  /** `[dashboard]` options. */
  dashboardOptions(): DashboardOptions {
    return readDashboardOptions(this);
  }

  /** Redacted one-line description; secrets never appear. */
  toString(): string {
    return `KartonConfig ${JSON.stringify(this.redacted())}`;
  }

  /** `JSON.stringify(config)` gives the redacted values. */
  toJSON(): Record<string, Record<string, ConfigValue>> {
    return this.redacted();
  }

  [inspect.custom](): string {
    return this.toString();
  }

  #entry(section: string, option: string): Entry | undefined {
    return this.#sections.get(section)?.get(option);
  }

  #put(section: string, option: string, value: ConfigValue, source: ConfigSource): void {
    let options = this.#sections.get(section);
    if (!options) {
      options = new Map();
      this.#sections.set(section, options);
    }
    options.set(option, { value, source });
  }

  /** Karton 4.x layout: `[minio]` without `[s3]` becomes `[s3]`, `secure` deciding the scheme. */
  #mapMinioToS3(): void {
    const minio = this.#sections.get("minio");
    if (!minio || this.#sections.has("s3")) return;
    for (const [option, entry] of minio) {
      this.#put("s3", option, entry.value, { kind: "minio", option, original: entry.source });
    }
    const address = minio.get("address");
    if (address && typeof address.value === "string" && !HAS_SCHEME.test(address.value)) {
      const scheme = this.getBoolean("minio", "secure", true) ? "https://" : "http://";
      this.#put("s3", "address", scheme + address.value, {
        kind: "minio",
        option: "address",
        original: address.source,
        schemeAdded: scheme,
      });
    }
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * `karton configure [-f] [flags]`: the configuration wizard of Python's CLI (spec §10.4): asks for
 * the S3 access key, secret key, address and bucket, then the Redis host, port and optional
 * password; tests both connections; writes `[s3]` and `[redis]` to the `-c` path or ./karton.ini
 * and refuses to overwrite an existing file without `--force`. Values given as flags are not
 * asked; with every value given (or stdin not a terminal: defaults at end of input) it runs
 * unattended. Secrets are read without echo on a terminal and never printed.
 */
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { KartonConfig } from "../../config/config.js";
import type { CliContext } from "../context.js";
import { errorText, withTimeout } from "../context.js";
import { CliError, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE, type ExitCode } from "../errors.js";
import type { Registrar } from "../program.js";

export interface ConfigureOptions {
  force?: boolean;
  test?: boolean;
  s3Address?: string;
  s3AccessKey?: string;
  s3SecretKey?: string;
  s3Bucket?: string;
  redisHost?: string;
  redisPort?: string;
  redisPassword?: string;
}

/** The answers of the wizard. */
export interface ConfigureAnswers {
  s3: { accessKey: string; secretKey: string; address: string; bucket: string };
  redis: { host: string; port: string; password: string };
}

/** Defaults of the reference wizard. */
export const CONFIGURE_DEFAULTS: ConfigureAnswers = {
  s3: {
    accessKey: "minioadmin",
    secretKey: "minioadmin",
    address: "http://localhost:9000",
    bucket: "karton",
  },
  redis: { host: "localhost", port: "6379", password: "" },
};

export const registerConfigure: Registrar = (program, act) => {
  program
    .command("configure")
    .description("Create a new configuration file")
    .option("-f, --force", "overwrite an existing configuration file")
    .option("--s3-address <url>", "S3 endpoint URL (http:// or https://)")
    .option("--s3-access-key <key>", "S3 access key")
    .option("--s3-secret-key <key>", "S3 secret key (visible in the process list: prefer the prompt)")
    .option("--s3-bucket <name>", "S3 bucket")
    .option("--redis-host <host>", "Redis host")
    .option("--redis-port <port>", "Redis port")
    .option("--redis-password <password>", "Redis password (visible in the process list: prefer the prompt)")
    .option("--no-test", "do not test the S3 and Redis connections before writing")
    .action(act((ctx, options: ConfigureOptions) => runConfigure(ctx, options)));
};

type Check = (value: string) => string | null;

const checks: { address: Check; port: Check; nonEmpty: Check; any: Check } = {
  address: (v) => (/^https?:\/\/[^\s/]/.test(v) ? null : "must be an http:// or https:// URL"),
  port: (v) =>
    /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? null : "must be a port number (1-65535)",
  nonEmpty: (v) => (v === "" ? "must not be empty" : null),
  any: () => null,
};

export async function runConfigure(ctx: CliContext, options: ConfigureOptions): Promise<ExitCode> {
  const path = resolve(ctx.cwd, ctx.globals.configFile ?? "karton.ini");
  if (existsSync(path) && !options.force) {
    throw new CliError(EXIT_FAILED, `There's already a config file at ${path}, use --force to overwrite it`);
  }
  const interactive = ctx.stdin.isTTY === true;
  const test = options.test !== false;
  for (const secret of [options.s3SecretKey, options.redisPassword]) ctx.addSecret(secret);

  const answers: ConfigureAnswers = structuredClone(CONFIGURE_DEFAULTS);
  const given = {
    accessKey: options.s3AccessKey,
    secretKey: options.s3SecretKey,
    address: options.s3Address,
    bucket: options.s3Bucket,
    host: options.redisHost,
    port: options.redisPort,
    password: options.redisPassword,
  };
  let ask: (value: string | undefined) => boolean = (value) => value === undefined;

  let bucketExists: boolean | null = null;
  for (;;) {
    ctx.err("Configuring S3");
    const s3 = answers.s3;
    s3.accessKey = await field(
      ctx,
      "Enter the S3 access key",
      given.accessKey,
      s3.accessKey,
      ask,
      checks.nonEmpty,
    );
    s3.secretKey = await field(
      ctx,
      "Enter the S3 secret key",
      given.secretKey,
      s3.secretKey,
      ask,
      checks.nonEmpty,
      true,
    );
    s3.address = await field(ctx, "Enter the S3 address", given.address, s3.address, ask, checks.address);
    s3.bucket = await field(ctx, "Enter the S3 bucket to use", given.bucket, s3.bucket, ask, checks.nonEmpty);
    ctx.addSecret(s3.secretKey);
    if (!test) break;
    ctx.err("Testing S3 connection...");
    try {
      bucketExists = await testS3(ctx, answers);
      break;
    } catch (error) {
      ctx.err(`Cannot connect to S3 at ${s3.address}: ${errorText(error)}`);
      if (!(interactive && (await confirm(ctx, "Do you want to try with different settings?", true)))) {
        throw new CliError(
          EXIT_UNREACHABLE,
          "S3 connection test failed; nothing was written (--no-test skips the tests)",
        );
      }
      ask = () => true;
    }
  }

  ask = (value) => value === undefined;
  for (;;) {
    ctx.err("Configuring Redis");
    const redis = answers.redis;
    redis.host = await field(ctx, "Enter the Redis host", given.host, redis.host, ask, checks.nonEmpty);
    redis.port = await field(ctx, "Enter the Redis port", given.port, redis.port, ask, checks.port);
    redis.password = await field(
      ctx,
      "Enter the Redis password (leave blank for no password)",
      given.password,
      redis.password,
      ask,
      checks.any,
      true,
    );
    ctx.addSecret(redis.password);
    if (!test) break;
    ctx.err("Testing Redis connection...");
    try {
      await testRedis(ctx, answers);
      break;
    } catch (error) {
      ctx.err(`Cannot connect to Redis at ${redis.host}:${redis.port}: ${errorText(error)}`);
      if (!(interactive && (await confirm(ctx, "Do you want to try with different settings?", true)))) {
        throw new CliError(
          EXIT_UNREACHABLE,
          "Redis connection test failed; nothing was written (--no-test skips the tests)",
        );
      }
      ask = () => true;
    }
  }

  if (bucketExists === false) {
    ctx.err(
      `Bucket ${answers.s3.bucket} does not exist yet: create it, or start karton-system once with ` +
        "--setup-bucket (karton-system --setup-bucket)",
    );
  }
  try {
    writeFileSync(path, renderIni(answers), { mode: 0o600 });
    chmodSync(path, 0o600);
  } catch (error) {
    throw new CliError(EXIT_FAILED, `cannot write ${path}: ${errorText(error)}`);
  }
  ctx.err(`Saved the new configuration file in ${path}`);
  return EXIT_OK;
}

/** One answer: the flag value (checked), else the prompt's (re-asked when invalid), else `current`. */
async function field(
  ctx: CliContext,
  prompt: string,
  flag: string | undefined,
  current: string,
  ask: (flag: string | undefined) => boolean,
  check: Check,
  secret = false,
): Promise<string> {
  if (!ask(flag)) {
    const value = (flag as string).trim();
    const problem = check(value) ?? lineProblem(value);
    if (problem !== null) throw new CliError(EXIT_USAGE, `${prompt.replace(/^Enter the /, "")} ${problem}`);
    return value;
  }
  const defaultValue = current;
  const shown = secret && defaultValue !== "" && defaultValue !== "minioadmin" ? "hidden" : defaultValue;
  for (let attempt = 1; ; attempt++) {
    ctx.stdout.write(shown === "" ? `${prompt}: ` : `${prompt} [${shown}]: `);
    const line = await ctx.reader.readLine({ secret });
    if (secret && ctx.stdin.isTTY === true) ctx.stdout.write("\n");
    const value = line === null || line.trim() === "" ? defaultValue : line.trim();
    const problem = check(value) ?? lineProblem(value);
    if (problem === null) return value;
    if (line === null || attempt >= 3) {
      throw new CliError(EXIT_USAGE, `${prompt.replace(/^Enter the /, "")} ${problem}`);
    }
    ctx.err(`The value ${problem}, try again.`);
  }
}

function lineProblem(value: string): string | null {
  return /[\r\n]/.test(value) ? "must be a single line" : null;
}

async function confirm(ctx: CliContext, question: string, defaultYes: boolean): Promise<boolean> {
  ctx.stdout.write(`${question} ${defaultYes ? "[Y/n]" : "[y/N]"} `);
  const line = await ctx.reader.readLine();
  const answer = (line ?? "").trim().toLowerCase();
  if (answer === "") return defaultYes;
  return answer === "y" || answer === "yes";
}

/** The configuration the answers describe (for the connection tests). */
function answersConfig(answers: ConfigureAnswers): KartonConfig {
  return KartonConfig.fromDict(
    {
      s3: {
        address: answers.s3.address,
        access_key: answers.s3.accessKey,
        secret_key: answers.s3.secretKey,
        bucket: answers.s3.bucket,
      },
      redis: {
        host: answers.redis.host,
        port: answers.redis.port,
        password: answers.redis.password || undefined,
      },
    },
    { env: {} },
  );
}

/** Whether the bucket exists; throws when S3 cannot be reached or refuses the credentials. */
async function testS3(ctx: CliContext, answers: ConfigureAnswers): Promise<boolean> {
  const backend = ctx.createBackend(answersConfig(answers));
  try {
    return await withTimeout(
      backend.objects.bucketExists(answers.s3.bucket),
      ctx.connectTimeoutMs,
      "S3 did not answer",
    );
  } finally {
    await backend.close().catch(() => undefined);
  }
}

async function testRedis(ctx: CliContext, answers: ConfigureAnswers): Promise<void> {
  const backend = ctx.createBackend(answersConfig(answers));
  try {
    await ctx.connect(backend);
  } catch (error) {
    throw error instanceof CliError && error.cause !== undefined ? error.cause : error;
  } finally {
    await backend.close().catch(() => undefined);
  }
}

/** `%` is doubled: the INI readers (Python configparser, ours) interpolate `%(name)s`. */
function iniValue(value: string): string {
  return value.replaceAll("%", "%%");
}

/** The file as Python's configparser writes it: `key = value`, a blank line after each section. */
export function renderIni(answers: ConfigureAnswers): string {
  const lines = [
    "[s3]",
    `access_key = ${iniValue(answers.s3.accessKey)}`,
    `secret_key = ${iniValue(answers.s3.secretKey)}`,
    `address = ${iniValue(answers.s3.address)}`,
    `bucket = ${iniValue(answers.s3.bucket)}`,
    "",
    "[redis]",
    `host = ${iniValue(answers.redis.host)}`,
    `port = ${iniValue(answers.redis.port)}`,
  ];
  if (answers.redis.password !== "") lines.push(`password = ${iniValue(answers.redis.password)}`);
  lines.push("", "");
  return lines.join("\n");
}

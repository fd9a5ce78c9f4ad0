import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type ConfigDict, KartonConfig } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/errors.js";
import { CONFIG_DEFAULTS } from "../../src/config/options.js";

const root = mkdtempSync(join(tmpdir(), "karton-options-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

/** A config from a dictionary with no environment (no AWS_* fall-backs). */
function dict(d: ConfigDict, env: NodeJS.ProcessEnv = {}): KartonConfig {
  return KartonConfig.fromDict(d, { env });
}

/** A config loaded from one explicit file plus environment, nothing else. */
function fromFile(text: string, env: NodeJS.ProcessEnv = {}): { config: KartonConfig; path: string } {
  const path = join(root, `karton-${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(path, text);
  const empty = join(root, "empty");
  const config = KartonConfig.load({
    path,
    env,
    etcDir: empty,
    homeDir: empty,
    cwd: empty,
    checkRequired: false,
  });
  return { config, path };
}

describe("redisOptions", () => {
  it("applies the defaults", () => {
    expect(dict({ redis: { host: "localhost" } }).redisOptions()).toEqual({
      host: "localhost",
      port: 6379,
      db: 0,
      ssl: false,
      socketTimeout: 30,
    });
  });

  it("reads every option", () => {
    const config = dict({
      redis: {
        host: "h",
        port: "6380",
        db: "3",
        ssl: "yes",
        username: "u",
        password: "p",
        socket_timeout: "0",
      },
    });
    expect(config.redisOptions()).toEqual({
      host: "h",
      port: 6380,
      db: 3,
      ssl: true,
      username: "u",
      password: "p",
      socketTimeout: 0,
    });
  });

  it("treats empty username and password as unset", () => {
    const options = dict({ redis: { host: "h", username: "", password: "" } }).redisOptions();
    expect(options).not.toHaveProperty("username");
    expect(options).not.toHaveProperty("password");
  });

  it("with url, ignores host/port/db/ssl (even invalid ones) but keeps credentials", () => {
    const options = dict({
      redis: {
        url: "rediss://r:6390/2",
        port: "bad",
        db: "-1",
        ssl: "maybe",
        password: "pw",
        socket_timeout: 5,
      },
    }).redisOptions();
    expect(options).toEqual({
      url: "rediss://r:6390/2",
      port: 6379,
      db: 0,
      ssl: false,
      password: "pw",
      socketTimeout: 5,
    });
  });

  it.each(["redis://localhost", "rediss://u:p@h:1/0", "unix:///run/redis.sock"])("accepts url %s", (url) => {
    expect(dict({ redis: { url } }).redisOptions().url).toBe(url);
  });

  it("treats an empty url as unset", () => {
    expect(dict({ redis: { url: "", host: "h" } }).redisOptions()).toMatchObject({ host: "h" });
  });

  it("rejects a url that does not parse or has another scheme, masking its password", () => {
    const bad = errorOf(() => dict({ redis: { url: "not a url" } }).redisOptions());
    expect(bad.message).toBe(
      'Invalid value for [redis] url: expected a URL starting with redis://, rediss:// or unix://, got "not a url" (from loadFromDict())',
    );
    expect(bad).toMatchObject({ section: "redis", option: "url" });
    const http = errorOf(() => dict({ redis: { url: "http://u:s3cr3t@h" } }).redisOptions());
    expect(http.message).toContain('got "http://u:***@h"');
    expect(http.message).not.toContain("s3cr3t");
  });

  it("requires host without url", () => {
    const error = errorOf(() => dict({ redis: { port: "1" } }).redisOptions());
    expect(error.message).toContain("Missing [redis] host (or [redis] url)");
    expect(error.message).toContain("KARTON_REDIS_HOST");
    expect(error).toMatchObject({ section: "redis", option: "host" });
    expect(errorOf(() => dict({ redis: { host: "" } }).redisOptions()).option).toBe("host");
  });

  it.each([
    ["0", "an integer from 1 to 65535"],
    ["65536", "an integer from 1 to 65535"],
    ["abc", "an integer from 1 to 65535"],
    ["6379.0", "an integer from 1 to 65535"],
  ])("rejects port %s", (port, expected) => {
    const error = errorOf(() => dict({ redis: { host: "h", port } }).redisOptions());
    expect(error.message).toBe(
      `Invalid value for [redis] port: expected ${expected}, got ${JSON.stringify(port)} (from loadFromDict())`,
    );
    expect(error).toMatchObject({ code: "CONFIG_ERROR", section: "redis", option: "port" });
  });

  it("accepts the port range bounds", () => {
    expect(dict({ redis: { host: "h", port: "1" } }).redisOptions().port).toBe(1);
    expect(dict({ redis: { host: "h", port: 65535 } }).redisOptions().port).toBe(65535);
  });

  it("rejects a negative or non-integer db, a bad ssl and a negative socket_timeout", () => {
    expect(errorOf(() => dict({ redis: { host: "h", db: "-1" } }).redisOptions()).message).toContain(
      "[redis] db: expected an integer >= 0",
    );
    expect(errorOf(() => dict({ redis: { host: "h", db: "x" } }).redisOptions()).option).toBe("db");
    expect(errorOf(() => dict({ redis: { host: "h", ssl: "tls" } }).redisOptions()).message).toContain(
      "[redis] ssl: expected a boolean",
    );
    expect(
      errorOf(() => dict({ redis: { host: "h", socket_timeout: "-5" } }).redisOptions()).message,
    ).toContain("[redis] socket_timeout: expected an integer >= 0");
  });

  it("names the file and line of a bad value", () => {
    const { config, path } = fromFile("[redis]\nhost = h\nport = 99999\n");
    expect(errorOf(() => config.redisOptions()).message).toBe(
      `Invalid value for [redis] port: expected an integer from 1 to 65535, got "99999" (from file ${path}, line 3)`,
    );
  });

  it("names the environment variable of a bad value", () => {
    const { config } = fromFile("[redis]\nhost = h\n", { KARTON_REDIS_PORT: "http" });
    expect(errorOf(() => config.redisOptions()).message).toContain(
      '"http" (from environment variable KARTON_REDIS_PORT)',
    );
  });

  it("never puts the password in errors", () => {
    const config = dict({ redis: { password: "pw-secret-1", port: "x" } });
    expect(errorOf(() => config.redisOptions()).message).not.toContain("pw-secret-1");
  });
});

describe("s3Options", () => {
  const s3 = { address: "http://s3:9000", access_key: "ak", secret_key: "sk" };

  it("reads the options with iam_auth defaulting to false", () => {
    expect(dict({ s3: { ...s3, bucket: "karton" } }).s3Options()).toEqual({
      address: "http://s3:9000",
      accessKey: "ak",
      secretKey: "sk",
      bucket: "karton",
      iamAuth: false,
    });
    expect(dict({ s3 }).s3Options()).not.toHaveProperty("bucket");
    expect(dict({ s3: { ...s3, bucket: "" } }).s3Options()).not.toHaveProperty("bucket");
  });

  it("requires an address", () => {
    const error = errorOf(() => dict({ s3: { access_key: "a", secret_key: "s" } }).s3Options());
    expect(error.message).toContain("Missing [s3] address");
    expect(error.message).toContain("AWS_ENDPOINT_URL");
    expect(error).toMatchObject({ section: "s3", option: "address" });
  });

  it.each(["localhost:9000", "s3.example.com", "ftp://s3", "::"])("rejects address %s", (address) => {
    const error = errorOf(() => dict({ s3: { ...s3, address } }).s3Options());
    expect(error.message).toBe(
      `Invalid value for [s3] address: expected a URL starting with http:// or https://, got ${JSON.stringify(address)} (from loadFromDict())`,
    );
  });

  it("requires both keys unless iam_auth", () => {
    const noSecret = errorOf(() => dict({ s3: { address: "http://s3", access_key: "a" } }).s3Options());
    expect(noSecret.message).toContain("Missing [s3] secret_key (or env AWS_SECRET_ACCESS_KEY)");
    expect(noSecret.message).toContain("iam_auth");
    expect(noSecret.option).toBe("secret_key");
    const none = errorOf(() => dict({ s3: { address: "http://s3" } }).s3Options());
    expect(none.message).toContain("[s3] access_key (or env AWS_ACCESS_KEY_ID) and [s3] secret_key");
    expect(dict({ s3: { address: "http://s3", iam_auth: "true" } }).s3Options()).toEqual({
      address: "http://s3",
      iamAuth: true,
    });
  });

  it("falls back to AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", () => {
    const env = { AWS_ENDPOINT_URL: "https://aws", AWS_ACCESS_KEY_ID: "eak", AWS_SECRET_ACCESS_KEY: "esk" };
    expect(dict({ s3: { bucket: "b" } }, env).s3Options()).toEqual({
      address: "https://aws",
      accessKey: "eak",
      secretKey: "esk",
      bucket: "b",
      iamAuth: false,
    });
    expect(dict({ s3 }, env).s3Options()).toMatchObject({ address: "http://s3:9000", accessKey: "ak" });
    expect(dict({ s3: { ...s3, address: "" } }, env).s3Options().address).toBe("https://aws");
  });

  it("names AWS_ENDPOINT_URL as the source of a bad fall-back address", () => {
    const error = errorOf(() => dict({ s3: { bucket: "b" } }, { AWS_ENDPOINT_URL: "s3:9000" }).s3Options());
    expect(error.message).toContain("(from environment variable AWS_ENDPOINT_URL)");
  });

  it("loads AWS_* from the environment given to load()", () => {
    const { config } = fromFile("[s3]\nbucket = b\n", {
      AWS_ENDPOINT_URL: "http://e",
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "s",
    });
    expect(config.s3Options().address).toBe("http://e");
  });

  it("rejects a bad iam_auth and never shows the secret key", () => {
    const config = dict({ s3: { ...s3, secret_key: "sk-secret-2", iam_auth: "sometimes" } });
    const error = errorOf(() => config.s3Options());
    expect(error.message).toContain("[s3] iam_auth: expected a boolean");
    expect(error.message).not.toContain("sk-secret-2");
    const missing = errorOf(() => dict({ s3: { secret_key: "sk-secret-2" } }).s3Options());
    expect(missing.message).not.toContain("sk-secret-2");
  });
});

describe("kartonOptions", () => {
  it("applies the defaults", () => {
    expect(dict({}).kartonOptions()).toEqual({ debug: false, concurrencyLimit: 1 });
  });

  it("reads every option", () => {
    expect(
      dict({
        karton: {
          identity: "karton.x",
          persistent: "false",
          debug: "on",
          task_timeout: "60",
          concurrency_limit: 4,
        },
      }).kartonOptions(),
    ).toEqual({ identity: "karton.x", persistent: false, debug: true, taskTimeout: 60, concurrencyLimit: 4 });
  });

  it("treats task_timeout 0 and empty identity as unset", () => {
    expect(dict({ karton: { task_timeout: "0", identity: "" } }).kartonOptions()).toEqual({
      debug: false,
      concurrencyLimit: 1,
    });
  });

  it("validates", () => {
    expect(errorOf(() => dict({ karton: { identity: "a b" } }).kartonOptions()).message).toBe(
      `Invalid value for [karton] identity: expected an identity without spaces and without '?', got "a b" (from loadFromDict())`,
    );
    expect(errorOf(() => dict({ karton: { identity: "a?b" } }).kartonOptions()).option).toBe("identity");
    expect(errorOf(() => dict({ karton: { persistent: "x" } }).kartonOptions()).option).toBe("persistent");
    expect(errorOf(() => dict({ karton: { debug: "x" } }).kartonOptions()).option).toBe("debug");
    expect(errorOf(() => dict({ karton: { task_timeout: "-1" } }).kartonOptions()).message).toContain(
      "[karton] task_timeout: expected an integer >= 0",
    );
    expect(errorOf(() => dict({ karton: { task_timeout: "1.5" } }).kartonOptions()).option).toBe(
      "task_timeout",
    );
    expect(errorOf(() => dict({ karton: { concurrency_limit: "0" } }).kartonOptions()).message).toContain(
      "[karton] concurrency_limit: expected an integer >= 1",
    );
  });
});

describe("loggingOptions", () => {
  it("applies the defaults", () => {
    expect(dict({}).loggingOptions()).toEqual({ level: "INFO", levelNumber: 20, enablePublish: true });
  });

  it.each([
    ["DEBUG", "DEBUG", 10],
    ["debug", "DEBUG", 10],
    ["WARN", "WARNING", 30],
    ["FATAL", "CRITICAL", 50],
    ["NOTSET", "NOTSET", 0],
    ["40", "ERROR", 40],
    [15, "Level 15", 15],
  ])("accepts level %s", (level, name, number) => {
    expect(dict({ logging: { level } }).loggingOptions()).toMatchObject({ level: name, levelNumber: number });
  });

  it("rejects unknown levels and bad enable_publish", () => {
    const error = errorOf(() => dict({ logging: { level: "verbose" } }).loggingOptions());
    expect(error.message).toContain("[logging] level: expected a level name (CRITICAL, ERROR, WARNING, INFO");
    expect(error.message).toContain('got "verbose"');
    expect(errorOf(() => dict({ logging: { level: "-1" } }).loggingOptions()).option).toBe("level");
    expect(dict({ logging: { enable_publish: "0" } }).loggingOptions().enablePublish).toBe(false);
    expect(errorOf(() => dict({ logging: { enable_publish: "nah" } }).loggingOptions()).option).toBe(
      "enable_publish",
    );
  });
});

describe("signalingOptions", () => {
  it("defaults to status false and validates", () => {
    expect(dict({}).signalingOptions()).toEqual({ status: false });
    expect(dict({ signaling: { status: "yes" } }).signalingOptions()).toEqual({ status: true });
    expect(errorOf(() => dict({ signaling: { status: "?" } }).signalingOptions()).message).toContain(
      "[signaling] status: expected a boolean",
    );
  });
});

describe("systemOptions", () => {
  it("applies the Python defaults plus the karton-ts extensions", () => {
    expect(dict({}).systemOptions()).toEqual({
      gcInterval: 180,
      taskDispatchedTimeout: 86400,
      taskStartedTimeout: 86400,
      taskCrashedTimeout: 259200,
      enableGc: true,
      enableRouter: true,
      crashStartedTasksOnTimeout: false,
      enableNullVersionDeletion: false,
      enableTaskTracking: true,
      taskTrackingTtl: 2592000,
      taskClaimTimeout: 60,
      taskMaxAttempts: 3,
      maxTaskSize: 16777216,
    });
    expect(dict({}).systemOptions()).toEqual(CONFIG_DEFAULTS.system);
  });

  it("reads every option", () => {
    const config = dict({
      system: {
        gc_interval: "10",
        task_dispatched_timeout: "11",
        task_started_timeout: "12",
        task_crashed_timeout: "13",
        enable_gc: "no",
        enable_router: "off",
        crash_started_tasks_on_timeout: "yes",
        enable_null_version_deletion: "1",
        enable_task_tracking: "false",
        task_tracking_ttl: "14",
        task_claim_timeout: "15",
        task_max_attempts: "16",
        max_task_size: "17",
      },
    });
    expect(config.systemOptions()).toEqual({
      gcInterval: 10,
      taskDispatchedTimeout: 11,
      taskStartedTimeout: 12,
      taskCrashedTimeout: 13,
      enableGc: false,
      enableRouter: false,
      crashStartedTasksOnTimeout: true,
      enableNullVersionDeletion: true,
      enableTaskTracking: false,
      taskTrackingTtl: 14,
      taskClaimTimeout: 15,
      taskMaxAttempts: 16,
      maxTaskSize: 17,
    });
  });

  it.each([
    ["gc_interval", "0", "an integer >= 1"],
    ["task_dispatched_timeout", "-1", "an integer >= 0"],
    ["task_started_timeout", "x", "an integer >= 0"],
    ["task_crashed_timeout", "1.5", "an integer >= 0"],
    ["task_tracking_ttl", "0", "an integer >= 1"],
    ["task_claim_timeout", "0", "an integer >= 1"],
    ["task_max_attempts", "0", "an integer >= 1"],
    ["max_task_size", "-1", "an integer >= 0"],
    ["enable_gc", "2", "a boolean (1/yes/true/on or 0/no/false/off)"],
    ["enable_router", "x", "a boolean (1/yes/true/on or 0/no/false/off)"],
    ["crash_started_tasks_on_timeout", "x", "a boolean (1/yes/true/on or 0/no/false/off)"],
    ["enable_null_version_deletion", "x", "a boolean (1/yes/true/on or 0/no/false/off)"],
    ["enable_task_tracking", "x", "a boolean (1/yes/true/on or 0/no/false/off)"],
  ])("rejects %s = %s", (option, value, expected) => {
    const error = errorOf(() => dict({ system: { [option]: value } }).systemOptions());
    expect(error.message).toBe(
      `Invalid value for [system] ${option}: expected ${expected}, got ${JSON.stringify(value)} (from loadFromDict())`,
    );
    expect(error).toMatchObject({ section: "system", option });
  });
});

describe("dashboardOptions", () => {
  it("applies the defaults", () => {
    expect(dict({}).dashboardOptions()).toEqual({
      basePath: "",
      xrefs: {},
      listen: { host: "127.0.0.1", port: 5000 },
    });
  });

  it("reads every option", () => {
    const config = dict({
      dashboard: {
        base_path: "/karton",
        xrefs: '{"MWDB": "https://mwdb/?q=karton:{root_uid}"}',
        listen: "0.0.0.0:8080",
        token: "tok",
      },
    });
    expect(config.dashboardOptions()).toEqual({
      basePath: "/karton",
      xrefs: { MWDB: "https://mwdb/?q=karton:{root_uid}" },
      listen: { host: "0.0.0.0", port: 8080 },
      token: "tok",
    });
  });

  it("reads multi-line xrefs from a file", () => {
    const { config } = fromFile(
      '[dashboard]\nxrefs = {\n    "A": "http://a/{root_uid}",\n    "B": "http://b"\n  }\n',
    );
    expect(config.dashboardOptions().xrefs).toEqual({ A: "http://a/{root_uid}", B: "http://b" });
  });

  it.each([
    ["[::1]:9000", { host: "::1", port: 9000 }],
    ["8000", { host: "127.0.0.1", port: 8000 }],
    ["localhost:0", { host: "localhost", port: 0 }],
  ])("accepts listen %s", (listen, expected) => {
    expect(dict({ dashboard: { listen } }).dashboardOptions().listen).toEqual(expected);
  });

  it.each(["", "host", "host:", ":80", "h:70000", "h:x", "::1:80"])("rejects listen %j", (listen) => {
    const error = errorOf(() => dict({ dashboard: { listen } }).dashboardOptions());
    expect(error.message).toContain("[dashboard] listen: expected host:port");
    expect(error.option).toBe("listen");
  });

  it("treats an empty token as unset", () => {
    expect(dict({ dashboard: { token: "" } }).dashboardOptions()).not.toHaveProperty("token");
  });

  it("rejects xrefs that are not JSON, naming the JSON problem", () => {
    const { config, path } = fromFile("[dashboard]\nxrefs = {'a': 'b'}\n");
    const error = errorOf(() => config.dashboardOptions());
    expect(error.message).toContain("Invalid value for [dashboard] xrefs: expected a JSON object");
    expect(error.message).toContain("JSON error:");
    expect(error.message).toContain(`(from file ${path}, line 2)`);
  });

  it.each(['["a"]', '"x"', "null", '{"a": 1}'])("rejects xrefs %s (not an object of strings)", (xrefs) => {
    expect(errorOf(() => dict({ dashboard: { xrefs } }).dashboardOptions()).message).toContain(
      "expected a JSON object mapping labels to URL template strings",
    );
  });

  it("never shows the token in errors", () => {
    const config = dict({ dashboard: { token: "tok-secret-3", listen: "bad" } });
    expect(errorOf(() => config.dashboardOptions()).message).not.toContain("tok-secret-3");
  });
});

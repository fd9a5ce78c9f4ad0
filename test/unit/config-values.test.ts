import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { KartonConfig } from "../../src/config/config.js";
import { toBoolean, toFloat, toInteger } from "../../src/config/convert.js";
import { ConfigError } from "../../src/config/errors.js";
import { isSecretOption, maskUrlCredentials } from "../../src/config/redact.js";

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("fromDict / loadFromDict / set / get", () => {
  it("stores native values, skips null and undefined, keeps names verbatim", () => {
    const config = KartonConfig.fromDict({ Sec: { Opt: "v", n: 5, b: false, none: null, undef: undefined } });
    expect(config.sections()).toEqual(["Sec"]);
    expect(config.options("Sec")).toEqual(["Opt", "n", "b"]);
    expect(config.getRaw("Sec", "n")).toBe(5);
    expect(config.get("Sec", "n")).toBe("5");
    expect(config.get("Sec", "b")).toBe("false");
    expect(config.get("Sec", "opt")).toBeUndefined();
    expect(config.has("Sec", "none")).toBe(false);
    expect(config.describeSource("Sec", "Opt")).toBe("loadFromDict()");
  });

  it("does not require sections nor map [minio]", () => {
    const config = KartonConfig.fromDict({ minio: { address: "m:9000" } });
    expect(config.hasSection("s3")).toBe(false);
  });

  it("loadFromDict overrides and adds; set records its source", () => {
    const config = KartonConfig.fromDict({ a: { x: "1" } });
    config.loadFromDict({ a: { x: "2", y: "3" }, b: { z: 4 } });
    config.set("c", "w", true);
    expect(config.toDict()).toEqual({ a: { x: "2", y: "3" }, b: { z: 4 }, c: { w: true } });
    expect(config.describeSource("c", "w")).toBe("set()");
    expect(config.describeSource("c", "nope")).toBeUndefined();
    expect(config.sourceOf("a", "x")).toEqual({ kind: "dict" });
  });

  it("get returns the fallback only when the option is unset", () => {
    const config = KartonConfig.fromDict({ a: { empty: "" } });
    expect(config.get("a", "empty", "fb")).toBe("");
    expect(config.get("a", "missing", "fb")).toBe("fb");
    expect(config.get("missing", "missing")).toBeUndefined();
  });

  it("has and hasSection", () => {
    const config = KartonConfig.fromDict({ a: { x: "" } });
    expect(config.has("a", "x")).toBe(true);
    expect(config.has("a", "y")).toBe(false);
    expect(config.hasSection("a")).toBe(true);
    expect(config.hasSection("b")).toBe(false);
    expect(config.options("b")).toEqual([]);
  });

  it("toDict returns a copy", () => {
    const config = KartonConfig.fromDict({ a: { x: "1" } });
    const dict = config.toDict();
    (dict.a as Record<string, string>).x = "changed";
    expect(config.get("a", "x")).toBe("1");
  });
});

describe("getInt / getFloat / getBoolean", () => {
  const config = KartonConfig.fromDict({
    v: {
      int: " 42 ",
      neg: "-7",
      under: "1_000",
      lead: "007",
      float: "1.5",
      hexa: "0x10",
      word: "abc",
      empty: "",
      big: "9999999999999999999",
      native: 12,
      yes: "YES",
      on: "On",
      one: "1",
      no: "no",
      off: "OFF",
      zero: "0",
      t: true,
      maybe: "maybe",
      exp: "1e3",
      inf: "-inf",
    },
  });

  it("getInt parses like Python int()", () => {
    expect(config.getInt("v", "int")).toBe(42);
    expect(config.getInt("v", "neg")).toBe(-7);
    expect(config.getInt("v", "under")).toBe(1000);
    expect(config.getInt("v", "lead")).toBe(7);
    expect(config.getInt("v", "native")).toBe(12);
    expect(config.getInt("v", "missing")).toBeUndefined();
    expect(config.getInt("v", "missing", 3)).toBe(3);
  });

  it.each(["float", "hexa", "word", "empty", "big", "t"])("getInt rejects %s", (option) => {
    const error = errorOf(() => config.getInt("v", option));
    expect(error.message).toContain(`Invalid value for [v] ${option}: expected an integer`);
    expect(error.message).toContain("(from loadFromDict())");
    expect(error).toMatchObject({ code: "CONFIG_ERROR", section: "v", option });
  });

  it("getInt error quotes the value", () => {
    expect(errorOf(() => config.getInt("v", "word")).message).toContain('got "abc"');
  });

  it("getFloat parses like Python float()", () => {
    expect(config.getFloat("v", "float")).toBe(1.5);
    expect(config.getFloat("v", "int")).toBe(42);
    expect(config.getFloat("v", "exp")).toBe(1000);
    expect(config.getFloat("v", "inf")).toBe(Number.NEGATIVE_INFINITY);
    expect(config.getFloat("v", "missing", 0.5)).toBe(0.5);
    expect(errorOf(() => config.getFloat("v", "word")).message).toContain("expected a number");
  });

  it("getBoolean accepts 1/yes/true/on and 0/no/false/off in any case", () => {
    for (const option of ["yes", "on", "one", "t"]) expect(config.getBoolean("v", option)).toBe(true);
    for (const option of ["no", "off", "zero"]) expect(config.getBoolean("v", option)).toBe(false);
    expect(config.getBoolean("v", "missing")).toBeUndefined();
    expect(config.getBoolean("v", "missing", true)).toBe(true);
  });

  it("getBoolean rejects anything else, naming section, option, value and source", () => {
    const error = errorOf(() => config.getBoolean("v", "maybe"));
    expect(error.message).toBe(
      'Invalid value for [v] maybe: expected a boolean (1/yes/true/on or 0/no/false/off), got "maybe" (from loadFromDict())',
    );
    expect(errorOf(() => config.getBoolean("v", "empty")).message).toContain('got ""');
  });

  it("getBoolean names set() as the source of a value set programmatically", () => {
    const c = KartonConfig.fromDict({});
    c.set("x", "y", "nope");
    expect(errorOf(() => c.getBoolean("x", "y")).message).toContain("(from set())");
  });
});

describe("conversion helpers", () => {
  it("toBoolean", () => {
    expect(toBoolean("TRUE")).toBe(true);
    expect(toBoolean(" true")).toBeUndefined();
    expect(toBoolean(1)).toBe(true);
    expect(toBoolean(0)).toBe(false);
    expect(toBoolean(2)).toBeUndefined();
  });

  it("toInteger", () => {
    expect(toInteger("+5")).toBe(5);
    expect(toInteger("1__0")).toBeUndefined();
    expect(toInteger("_1")).toBeUndefined();
    expect(toInteger("1.0")).toBeUndefined();
    expect(toInteger(1.5)).toBeUndefined();
    expect(toInteger(false)).toBeUndefined();
  });

  it("toFloat", () => {
    expect(toFloat(".5")).toBe(0.5);
    expect(toFloat("5.")).toBe(5);
    expect(toFloat("1_0.2_5")).toBe(10.25);
    expect(toFloat("NaN")).toBeNaN();
    expect(toFloat("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(toFloat("1e")).toBeUndefined();
    expect(toFloat("")).toBeUndefined();
  });
});

describe("secrets", () => {
  const config = KartonConfig.fromDict({
    redis: { host: "r", password: "redis-pw-123", url: "redis://user:url-pw-456@r:6379/0" },
    s3: { access_key: "AKIA", secret_key: "s3-secret-789" },
    minio: { secret_key: "minio-secret-000" },
    dashboard: { token: "dash-token-abc" },
    mwdb: { api_key: "mwdb-key-def", api_url: "http://mwdb" },
    other: { db_password: "other-pw-ghi", empty_token: "" },
  });
  const secrets = [
    "redis-pw-123",
    "url-pw-456",
    "s3-secret-789",
    "minio-secret-000",
    "dash-token-abc",
    "mwdb-key-def",
    "other-pw-ghi",
  ];

  it("redacted() replaces secret values and URL passwords with ***", () => {
    expect(config.redacted()).toEqual({
      redis: { host: "r", password: "***", url: "redis://user:***@r:6379/0" },
      s3: { access_key: "AKIA", secret_key: "***" },
      minio: { secret_key: "***" },
      dashboard: { token: "***" },
      mwdb: { api_key: "***", api_url: "http://mwdb" },
      other: { db_password: "***", empty_token: "" },
    });
  });

  it("toString, inspect and JSON.stringify never show secrets", () => {
    for (const text of [String(config), inspect(config), `${config}`, inspect({ nested: config })]) {
      expect(text).toContain("KartonConfig");
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
    const json = JSON.stringify({ config });
    expect(JSON.parse(json).config.redis.password).toBe("***");
    for (const secret of secrets) expect(json).not.toContain(secret);
  });

  it("typed-conversion errors never show secret values", () => {
    expect(errorOf(() => config.getInt("redis", "password")).message).toContain("got <hidden>");
    expect(errorOf(() => config.getBoolean("s3", "secret_key")).message).not.toContain("s3-secret-789");
    expect(errorOf(() => config.getFloat("mwdb", "api_key")).message).not.toContain("mwdb-key-def");
  });

  it("isSecretOption", () => {
    expect(isSecretOption("redis", "password")).toBe(true);
    expect(isSecretOption("s3", "secret_key")).toBe(true);
    expect(isSecretOption("s3", "access_key")).toBe(false);
    expect(isSecretOption("dashboard", "token")).toBe(true);
    expect(isSecretOption("x", "API_KEY")).toBe(true);
    expect(isSecretOption("x", "auth-token")).toBe(true);
    expect(isSecretOption("x", "tokens_per_second")).toBe(false);
    expect(isSecretOption("redis", "host")).toBe(false);
  });

  it("maskUrlCredentials", () => {
    expect(maskUrlCredentials("redis://:pw@h:1/0")).toBe("redis://:***@h:1/0");
    expect(maskUrlCredentials("rediss://u:p@ss@h")).toBe("rediss://u:***@h");
    expect(maskUrlCredentials("redis://u@h")).toBe("redis://u@h");
    expect(maskUrlCredentials("redis://h:6379/0")).toBe("redis://h:6379/0");
    expect(maskUrlCredentials("http://h/a:b@c")).toBe("http://h/a:b@c");
  });
});

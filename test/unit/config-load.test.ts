import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ConfigLoadOptions, KartonConfig, parseEnvName } from "../../src/config/config.js";
import { ConfigError } from "../../src/config/errors.js";

const REQUIRED = "[s3]\naddress = http://s3:9000\naccess_key = ak\nsecret_key = sk\n[redis]\nhost = r\n";

interface Layout {
  etc?: string;
  home?: string;
  cwd?: string;
  /** Extra files, relative to the temp root. */
  other?: Record<string, string>;
}

const roots: string[] = [];

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A temp tree with the three default locations; `load` never touches the real /etc or home. */
function tree(layout: Layout) {
  const root = mkdtempSync(join(tmpdir(), "karton-config-"));
  roots.push(root);
  const dirs = { etc: join(root, "etc"), home: join(root, "home"), cwd: join(root, "work") };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const paths = {
    etc: join(dirs.etc, "karton", "karton.ini"),
    home: join(dirs.home, ".config", "karton", "karton.ini"),
    cwd: join(dirs.cwd, "karton.ini"),
  };
  const write = (path: string, text: string) => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
  };
  if (layout.etc !== undefined) write(paths.etc, layout.etc);
  if (layout.home !== undefined) write(paths.home, layout.home);
  if (layout.cwd !== undefined) write(paths.cwd, layout.cwd);
  for (const [name, text] of Object.entries(layout.other ?? {})) write(join(root, name), text);
  const load = (options: ConfigLoadOptions = {}) =>
    KartonConfig.load({
      etcDir: dirs.etc,
      homeDir: dirs.home,
      cwd: dirs.cwd,
      checkRequired: false,
      ...options,
      env: options.env ?? {},
    });
  return { root, dirs, paths, load };
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("KartonConfig.load: files", () => {
  it("reads /etc/karton/karton.ini", () => {
    const t = tree({ etc: "[a]\nx = etc\n" });
    const config = t.load();
    expect(config.get("a", "x")).toBe("etc");
    expect(config.describeSource("a", "x")).toBe(`file ${t.paths.etc}, line 2`);
  });

  it("reads ~/.config/karton/karton.ini", () => {
    const t = tree({ home: "[a]\nx = home\n" });
    expect(t.load().get("a", "x")).toBe("home");
  });

  it("takes the home directory from env HOME when homeDir is not given", () => {
    const t = tree({ home: "[a]\nx = home\n" });
    const config = KartonConfig.load({
      etcDir: t.dirs.etc,
      cwd: t.dirs.cwd,
      env: { HOME: t.dirs.home },
      checkRequired: false,
    });
    expect(config.get("a", "x")).toBe("home");
  });

  it("reads ./karton.ini relative to cwd", () => {
    const t = tree({ cwd: "[a]\nx = cwd\n" });
    expect(t.load().get("a", "x")).toBe("cwd");
  });

  it("merges option by option: /etc < home < ./karton.ini < KARTON_CONFIG_FILE < explicit path", () => {
    const t = tree({
      etc: "[a]\np1 = etc\np2 = etc\np3 = etc\np4 = etc\np5 = etc\n",
      home: "[a]\np2 = home\np3 = home\np4 = home\np5 = home\n",
      cwd: "[a]\np3 = cwd\np4 = cwd\np5 = cwd\n",
      other: { "env.ini": "[a]\np4 = envfile\np5 = envfile\n", "explicit.ini": "[a]\np5 = explicit\n" },
    });
    const config = t.load({
      env: { KARTON_CONFIG_FILE: join(t.root, "env.ini") },
      path: join(t.root, "explicit.ini"),
    });
    expect(config.toDict().a).toEqual({ p1: "etc", p2: "home", p3: "cwd", p4: "envfile", p5: "explicit" });
    expect(config.loadReport.files.map((f) => [f.origin, f.status])).toEqual([
      ["default", "read"],
      ["default", "read"],
      ["default", "read"],
      ["KARTON_CONFIG_FILE", "read"],
      ["--config-file", "read"],
    ]);
    expect(config.describeSource("a", "p4")).toBe(`file ${join(t.root, "env.ini")}, line 2`);
  });

  it("skips missing default files silently and reports them", () => {
    const t = tree({ cwd: "[a]\nx = 1\n" });
    const report = t.load().loadReport;
    expect(report.files).toEqual([
      { path: t.paths.etc, origin: "default", status: "missing" },
      { path: t.paths.home, origin: "default", status: "missing" },
      { path: t.paths.cwd, origin: "default", status: "read" },
    ]);
  });

  it("skips an unreadable default location (like configparser) but reports why", () => {
    const t = tree({});
    mkdirSync(t.paths.cwd); // a directory named karton.ini
    const report = t.load().loadReport;
    expect(report.files[2]).toMatchObject({ path: t.paths.cwd, status: "unreadable" });
    expect(report.files[2]?.reason).toBeTruthy();
  });

  it("resolves KARTON_CONFIG_FILE and the explicit path against cwd", () => {
    const t = tree({ other: { "work/conf/a.ini": "[a]\nx = 1\n", "work/conf/b.ini": "[b]\ny = 2\n" } });
    const config = t.load({ env: { KARTON_CONFIG_FILE: "conf/a.ini" }, path: "conf/b.ini" });
    expect(config.get("a", "x")).toBe("1");
    expect(config.get("b", "y")).toBe("2");
  });

  it("fails when KARTON_CONFIG_FILE names a missing file, naming the variable", () => {
    const t = tree({});
    const error = errorOf(() => t.load({ env: { KARTON_CONFIG_FILE: "/nonexistent/karton.ini" } }));
    expect(error.message).toContain("KARTON_CONFIG_FILE");
    expect(error.message).toContain("/nonexistent/karton.ini");
    expect(error.code).toBe("CONFIG_ERROR");
  });

  it("fails when KARTON_CONFIG_FILE names a directory", () => {
    const t = tree({});
    expect(errorOf(() => t.load({ env: { KARTON_CONFIG_FILE: t.dirs.cwd } })).message).toContain(
      "KARTON_CONFIG_FILE",
    );
  });

  it("ignores an empty KARTON_CONFIG_FILE (as Python does)", () => {
    const t = tree({ cwd: "[a]\nx = 1\n" });
    expect(t.load({ env: { KARTON_CONFIG_FILE: "" } }).get("a", "x")).toBe("1");
  });

  it("fails when the explicit path is missing, naming --config-file", () => {
    const t = tree({});
    const error = errorOf(() => t.load({ path: "missing.ini" }));
    expect(error.message).toContain("--config-file");
    expect(error.message).toContain("missing.ini");
  });

  it("reports INI syntax errors with the file and line", () => {
    const t = tree({ home: "[a]\nx = 1\nx = 2\n" });
    const error = errorOf(() => t.load());
    expect(error.message).toContain(`${t.paths.home}:3`);
    expect(error.file).toBe(t.paths.home);
  });

  it("shares [DEFAULT] and interpolation across files", () => {
    const t = tree({
      etc: "[DEFAULT]\nroot = /srv\n",
      cwd: "[paths]\nbase = %(root)s/karton\n",
    });
    const config = t.load();
    expect(config.get("paths", "base")).toBe("/srv/karton");
    expect(config.hasSection("DEFAULT")).toBe(true);
    expect(config.describeSource("paths", "root")).toBe(`file ${t.paths.etc}, line 2 ([DEFAULT] section)`);
  });

  it("does not create sections without options (Python quirk)", () => {
    const t = tree({ cwd: "[empty]\n[full]\nk = v\n" });
    const config = t.load();
    expect(config.hasSection("empty")).toBe(false);
    expect(config.sections()).toEqual(["full"]);
  });
});

describe("KartonConfig.load: environment", () => {
  it("maps KARTON_<SECTION>_<OPTION>, the section ending at the first underscore", () => {
    const t = tree({});
    const config = t.load({
      env: {
        KARTON_REDIS_SOCKET_TIMEOUT: "5",
        KARTON_S3_SECRET_KEY: "from-env",
        "KARTON_MY.SECTION_OPT": "dotted",
        "KARTON_MY-SECTION_OPT": "dashed",
        KARTON_SECTION9_OPT_2: "digits",
      },
    });
    expect(config.get("redis", "socket_timeout")).toBe("5");
    expect(config.get("s3", "secret_key")).toBe("from-env");
    expect(config.get("my.section", "opt")).toBe("dotted");
    expect(config.get("my-section", "opt")).toBe("dashed");
    expect(config.get("section9", "opt_2")).toBe("digits");
    expect(config.describeSource("redis", "socket_timeout")).toBe(
      "environment variable KARTON_REDIS_SOCKET_TIMEOUT",
    );
  });

  it("ignores names with lower-case letters, without an option, or not starting with KARTON_", () => {
    const t = tree({});
    const config = t.load({
      env: {
        KARTON_redis_HOST: "x",
        KARTON_REDIS_host: "x",
        Karton_REDIS_HOST: "x",
        KARTON_X: "x",
        KARTON_X_: "x",
        KARTON__X: "x",
        MY_KARTON_REDIS_HOST: "x",
        "KARTON_RE DIS_HOST": "x",
      },
    });
    expect(config.sections()).toEqual([]);
    expect(config.loadReport.envVars).toEqual([]);
  });

  it("produces a harmless [config] file option from KARTON_CONFIG_FILE", () => {
    const t = tree({ other: { "c.ini": "[a]\nx = 1\n" } });
    const path = join(t.root, "c.ini");
    const config = t.load({ env: { KARTON_CONFIG_FILE: path } });
    expect(config.get("config", "file")).toBe(path);
  });

  it("overrides files and keeps empty values and % characters verbatim (no interpolation)", () => {
    const t = tree({ cwd: "[redis]\nhost = file\npassword = filepw\n" });
    const config = t.load({ env: { KARTON_REDIS_HOST: "100%(x)s", KARTON_REDIS_PASSWORD: "" } });
    expect(config.get("redis", "host")).toBe("100%(x)s");
    expect(config.get("redis", "password")).toBe("");
  });

  it("does not give DEFAULT options to sections created by the environment", () => {
    const t = tree({ cwd: "[DEFAULT]\nd = 1\n[a]\nx = 1\n" });
    const config = t.load({ env: { KARTON_B_Y: "2" } });
    expect(config.get("a", "d")).toBe("1");
    expect(config.toDict().b).toEqual({ y: "2" });
  });

  it("lists the variables used", () => {
    const t = tree({});
    const config = t.load({ env: { KARTON_REDIS_HOST: "h", KARTON_A_B: "c", PATH: "/bin" } });
    expect(config.loadReport.envVars).toEqual(["KARTON_A_B", "KARTON_REDIS_HOST"]);
  });
});

describe("parseEnvName", () => {
  it("follows the Python pattern", () => {
    expect(parseEnvName("KARTON_REDIS_SOCKET_TIMEOUT")).toEqual({
      section: "redis",
      option: "socket_timeout",
    });
    expect(parseEnvName("KARTON_MY.SECTION_OPT")).toEqual({ section: "my.section", option: "opt" });
    expect(parseEnvName("KARTON_A__B")).toEqual({ section: "a", option: "_b" });
    expect(parseEnvName("KARTON_X")).toBeUndefined();
    expect(parseEnvName("KARTON_REDIS_Host")).toBeUndefined();
    expect(parseEnvName("KARTON_REDIS_HOST\n")).toBeUndefined();
  });
});

describe("KartonConfig.load: arguments", () => {
  it("apply last, over environment and files; undefined and null values do not override", () => {
    const t = tree({
      cwd: "[karton]\nidentity = file\ndebug = no\ntask_timeout = 5\nconcurrency_limit = 2\n",
    });
    const config = t.load({
      env: { KARTON_KARTON_IDENTITY: "env", KARTON_KARTON_DEBUG: "no" },
      args: {
        karton: { identity: "arg", debug: true, task_timeout: undefined, concurrency_limit: null },
        logging: { level: undefined },
      },
    });
    expect(config.get("karton", "identity")).toBe("arg");
    expect(config.getRaw("karton", "debug")).toBe(true);
    expect(config.getBoolean("karton", "debug")).toBe(true);
    expect(config.get("karton", "task_timeout")).toBe("5");
    expect(config.getInt("karton", "concurrency_limit")).toBe(2);
    expect(config.hasSection("logging")).toBe(false);
    expect(config.describeSource("karton", "identity")).toBe("command-line arguments");
    expect(config.loadReport.args).toEqual(["[karton] identity", "[karton] debug"]);
  });

  it("environment beats files", () => {
    const t = tree({ etc: "[a]\nx = etc\n", cwd: "[a]\nx = cwd\n" });
    expect(t.load({ env: { KARTON_A_X: "env" } }).get("a", "x")).toBe("env");
  });
});

describe("KartonConfig.load: [minio] compatibility", () => {
  const redis = "[redis]\nhost = r\n";

  it("copies [minio] to [s3] and prepends https:// to an address without scheme", () => {
    const t = tree({
      cwd: `[minio]\naddress = minio:9000\naccess_key = a\nsecret_key = s\nbucket = b\n${redis}`,
    });
    const config = t.load({ checkRequired: true });
    expect(config.get("s3", "address")).toBe("https://minio:9000");
    expect(config.get("s3", "bucket")).toBe("b");
    expect(config.s3Options()).toMatchObject({ address: "https://minio:9000", accessKey: "a", bucket: "b" });
    expect(config.describeSource("s3", "address")).toBe(
      `[minio] address mapped to [s3], "https://" prepended, from file ${t.paths.cwd}, line 2`,
    );
  });

  it("prepends http:// when [minio] secure is false", () => {
    const t = tree({ cwd: `[minio]\naddress = minio:9000\nsecure = false\n${redis}` });
    expect(t.load().get("s3", "address")).toBe("http://minio:9000");
  });

  it("prepends https:// when [minio] secure is true", () => {
    const t = tree({ cwd: `[minio]\naddress = minio:9000\nsecure = 1\n${redis}` });
    expect(t.load().get("s3", "address")).toBe("https://minio:9000");
  });

  it("keeps an address that already has a scheme", () => {
    const t = tree({ cwd: `[minio]\naddress = http://minio:9000\nsecure = true\n${redis}` });
    expect(t.load().get("s3", "address")).toBe("http://minio:9000");
  });

  it("rejects a bad [minio] secure value", () => {
    const t = tree({ cwd: `[minio]\naddress = minio:9000\nsecure = maybe\n${redis}` });
    const error = errorOf(() => t.load());
    expect(error.message).toContain("[minio] secure");
    expect(error.message).toContain('"maybe"');
  });

  it("maps [minio] from environment variables too", () => {
    const t = tree({});
    const config = t.load({ env: { KARTON_MINIO_ADDRESS: "m:9000", KARTON_MINIO_SECURE: "0" } });
    expect(config.get("s3", "address")).toBe("http://m:9000");
  });

  it("ignores [minio] when [s3] exists", () => {
    const t = tree({
      cwd: `[minio]\naddress = minio:9000\nbucket = old\n[s3]\naddress = http://s3\n${redis}`,
    });
    const config = t.load();
    expect(config.toDict().s3).toEqual({ address: "http://s3" });
    expect(config.get("minio", "bucket")).toBe("old");
  });
});

describe("KartonConfig.load: required sections", () => {
  it("passes when [s3] and [redis] exist", () => {
    const t = tree({ cwd: REQUIRED });
    expect(() => t.load({ checkRequired: true })).not.toThrow();
  });

  it("is the default", () => {
    const t = tree({});
    expect(() =>
      KartonConfig.load({ etcDir: t.dirs.etc, homeDir: t.dirs.home, cwd: t.dirs.cwd, env: {} }),
    ).toThrow(ConfigError);
  });

  it("names both missing sections and the sources that were searched", () => {
    const t = tree({});
    const error = errorOf(() => t.load({ checkRequired: true, env: { KARTON_KARTON_DEBUG: "1" } }));
    expect(error.message).toContain("Missing [s3] and [redis] configuration sections");
    expect(error.message).toContain("no configuration file was read");
    expect(error.message).toContain(t.paths.etc);
    expect(error.message).toContain(t.paths.home);
    expect(error.message).toContain(t.paths.cwd);
    expect(error.message).toContain("environment variables used: KARTON_KARTON_DEBUG");
    expect(error.message).toContain("karton configure");
  });

  it("names the one missing section and the files read", () => {
    const t = tree({ home: "[s3]\naddress = http://x\n" });
    const error = errorOf(() => t.load({ checkRequired: true }));
    expect(error.message).toContain("Missing [redis] configuration section ");
    expect(error.message).not.toContain("[s3] and");
    expect(error.message).toContain(`files read: ${t.paths.home}`);
    expect(error.message).toContain("no KARTON_<SECTION>_<OPTION> environment variables");
    expect(error.section).toBe("redis");
  });

  it("does not require [s3] or [redis] for the embedded backend", () => {
    const t = tree({ cwd: "[karton]\nbackend = Embedded\n" });
    expect(() => t.load({ checkRequired: true })).not.toThrow();
    expect(() => tree({ cwd: "[karton]\nbackend = redis\n" }).load({ checkRequired: true })).toThrow(
      /Missing \[s3\] and \[redis\]/,
    );
  });

  it("counts an empty [redis] section as missing (Python quirk)", () => {
    const t = tree({ cwd: "[s3]\naddress = http://x\n[redis]\n" });
    expect(errorOf(() => t.load({ checkRequired: true })).message).toContain("Missing [redis]");
  });

  it("accepts sections that come only from the environment", () => {
    const t = tree({});
    expect(() =>
      t.load({ checkRequired: true, env: { KARTON_S3_ADDRESS: "http://x", KARTON_REDIS_HOST: "h" } }),
    ).not.toThrow();
  });
});

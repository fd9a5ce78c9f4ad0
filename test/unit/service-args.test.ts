// Command-line arguments → configuration → service settings (spec §10.3, §11.1).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { KartonBackend } from "../../src/backend/backend.js";
import { KartonConfig } from "../../src/config/config.js";
import { Consumer } from "../../src/service/consumer.js";
import { InvalidFiltersError, InvalidIdentityError } from "../../src/service/errors.js";
import { EXIT_OK, EXIT_USAGE } from "../../src/service/service-base.js";
import type { Task } from "../../src/task/task.js";
import { LIBRARY_VERSION } from "../../src/version.js";

const backend = {
  instanceId: "fake",
  defaultBucket: undefined,
  objects: {},
  async publishLog() {
    return 1;
  },
  async close() {},
} as unknown as KartonBackend;

class Worker extends Consumer {
  static override identity = "class.identity";
  static override filters = [{ type: "w" }];
  static override version = "2.0.0";
  process(_task: Task): void {}
}

const dir = mkdtempSync(join(tmpdir(), "karton-args-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A configuration as `main()` builds it: file + env + parsed argv. */
function configFor(ini: string, env: Record<string, string>, argv: string[]): KartonConfig {
  const path = join(dir, `k${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(
    path,
    `[redis]\nhost = 127.0.0.1\n[s3]\naddress = http://x\naccess_key = a\nsecret_key = b\n${ini}`,
  );
  const args = Worker.parseArgs(["node", "worker", "--config-file", path, ...argv]);
  const config = KartonConfig.load({
    path: args.configFile as string,
    env,
    homeDir: dir,
    cwd: dir,
    etcDir: dir,
  });
  Worker.configFromArgs(config, args);
  return config;
}

const build = (config: KartonConfig, identity?: string) =>
  new Worker({ config, backend, ...(identity !== undefined && { identity }) });

describe("identity precedence: class < constructor < [karton] identity < --identity", () => {
  it("class", () => {
    expect(build(configFor("", {}, [])).identity).toBe("class.identity");
  });
  it("constructor", () => {
    expect(build(configFor("", {}, []), "ctor.identity").identity).toBe("ctor.identity");
  });
  it("[karton] identity in the file, then the environment", () => {
    expect(build(configFor("[karton]\nidentity = file.identity\n", {}, []), "ctor").identity).toBe(
      "file.identity",
    );
    const env = { KARTON_KARTON_IDENTITY: "env.identity" };
    expect(build(configFor("[karton]\nidentity = file.identity\n", env, []), "ctor").identity).toBe(
      "env.identity",
    );
  });
  it("--identity wins", () => {
    const env = { KARTON_KARTON_IDENTITY: "env.identity" };
    expect(build(configFor("", env, ["--identity", "arg.identity"]), "ctor").identity).toBe("arg.identity");
  });
  it("bad identities are refused with a clear error", () => {
    expect(() => build(configFor("", {}, []), "has space")).toThrow(InvalidIdentityError);
    class Nameless extends Worker {
      static override identity = "";
    }
    expect(() => new Nameless({ config: configFor("", {}, []), backend })).toThrow(/needs an identity/);
    expect(() => configFor("", {}, ["--identity", "a?b"]).kartonOptions()).toThrow(/identity/);
  });
});

describe("service options from arguments", () => {
  it("maps every consumer argument", () => {
    const config = configFor("", {}, [
      "--log-level",
      "DEBUG",
      "--debug",
      "--non-persistent",
      "--task-timeout",
      "30",
      "--concurrency",
      "4",
    ]);
    const worker = build(config);
    expect(worker.log.level).toBe(10);
    expect(worker.debug).toBe(true);
    expect(worker.identity).toMatch(/^class\.identity-[0-9a-f]{8}-dev$/);
    expect(worker.persistent).toBe(false);
    expect(worker.logHandler).toBeUndefined();
    expect(worker.taskTimeout).toBe(30);
    expect(worker.concurrency).toBe(4);
    expect(build(configFor("", {}, ["--concurrency-limit", "2"])).concurrency).toBe(2);
  });

  it("unset flags do not override the file", () => {
    const worker = build(
      configFor(
        "[karton]\npersistent = false\ntask_timeout = 12\nconcurrency_limit = 3\n[logging]\nlevel = WARNING\n",
        {},
        [],
      ),
    );
    expect(worker.persistent).toBe(false);
    expect(worker.taskTimeout).toBe(12);
    expect(worker.concurrency).toBe(3);
    expect(worker.log.level).toBe(30);
    expect(worker.debug).toBe(false);
  });

  it("the class task timeout wins over [karton] task_timeout; 0 means none", () => {
    class Timed extends Worker {
      static override taskTimeout = 5;
    }
    class Unlimited extends Worker {
      static override taskTimeout = 0;
    }
    const config = configFor("", {}, ["--task-timeout", "30"]);
    expect(new Timed({ config, backend }).taskTimeout).toBe(5);
    expect(new Unlimited({ config, backend }).taskTimeout).toBeUndefined();
    expect(build(configFor("", {}, [])).taskTimeout).toBeUndefined();
  });

  it("builds the bind from the class", () => {
    class Described extends Worker {
      static override description = "Does things.";
    }
    const worker = new Described({ config: configFor("", {}, []), backend });
    expect(worker.bind).toEqual({
      identity: "class.identity",
      filters: [{ type: "w" }],
      info: "Does things.",
      version: LIBRARY_VERSION,
      persistent: true,
      serviceVersion: "2.0.0",
      isAsync: false,
    });
    expect(worker.clientName()).toBe("class.identity");
  });

  it("refuses filters that are not a list of objects", () => {
    class Broken extends Worker {
      static override filters = null as unknown as [];
    }
    expect(() => new Broken({ config: configFor("", {}, []), backend })).toThrow(InvalidFiltersError);
    class BrokenRule extends Worker {
      static override filters = ["type"] as unknown as [];
    }
    expect(() => new BrokenRule({ config: configFor("", {}, []), backend })).toThrow(
      /filter rule 0 must be a plain object/,
    );
  });
});

describe("run() exit codes", () => {
  it("0 for --version and --help, 2 for bad arguments or configuration", async () => {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await Worker.run(["node", "w", "--version"])).toBe(EXIT_OK);
      expect(String(out.mock.calls[0]?.[0])).toContain("2.0.0");
      expect(await Worker.run(["node", "w", "--help"])).toBe(EXIT_OK);
      expect(await Worker.run(["node", "w", "--no-such-flag"])).toBe(EXIT_USAGE);
      expect(await Worker.run(["node", "w", "--task-timeout", "soon"])).toBe(EXIT_USAGE);
      expect(await Worker.run(["node", "w", "--concurrency", "0"])).toBe(EXIT_USAGE);
      expect(await Worker.run(["node", "w", "--config-file", join(dir, "missing.ini")])).toBe(EXIT_USAGE);
      expect(err.mock.calls.map((c) => String(c[0])).join("")).toContain("Configuration file not found");
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });
});

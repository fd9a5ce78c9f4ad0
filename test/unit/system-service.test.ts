import { describe, expect, it } from "vitest";
import { KartonConfig } from "../../src/config/config.js";
import type { JsonObject } from "../../src/json/index.js";
import { effectiveConfigMessage, SystemService } from "../../src/system/system-service.js";
import { readFixtureJson } from "../helpers/fixtures.js";

function configFor(argv: string[], dict: Parameters<typeof KartonConfig.fromDict>[0] = {}) {
  const args = SystemService.parseArgs(["node", "karton-system", ...argv]);
  const config = KartonConfig.fromDict(dict);
  SystemService.configFromArgs(config, args);
  return { args, options: config.systemOptions(), config };
}

describe("karton-system arguments", () => {
  it("keeps every default when no argument is given", () => {
    const { options } = configFor([]);
    expect(options).toMatchObject({
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
    });
  });

  it("maps every argument onto [system]", () => {
    const { options, args } = configFor([
      "--setup-bucket",
      "--disable-gc",
      "--disable-router",
      "--gc-interval",
      "7",
      "--task-dispatched-timeout",
      "11",
      "--task-started-timeout",
      "12",
      "--task-crashed-timeout",
      "13",
      "--crash-started-task-on-timeout",
      "--task-claim-timeout",
      "9",
      "--task-max-attempts",
      "5",
    ]);
    expect(args.setupBucket).toBe(true);
    expect(options).toMatchObject({
      gcInterval: 7,
      taskDispatchedTimeout: 11,
      taskStartedTimeout: 12,
      taskCrashedTimeout: 13,
      enableGc: false,
      enableRouter: false,
      crashStartedTasksOnTimeout: true,
      taskClaimTimeout: 9,
      taskMaxAttempts: 5,
    });
  });

  it("arguments override the configuration; unset flags do not", () => {
    const dict = {
      system: { gc_interval: "30", enable_gc: "false", crash_started_tasks_on_timeout: "true" },
    };
    expect(configFor([], dict).options).toMatchObject({
      gcInterval: 30,
      enableGc: false,
      crashStartedTasksOnTimeout: true,
    });
    expect(configFor(["--gc-interval", "5"], dict).options.gcInterval).toBe(5);
  });

  it("accepts the plural spelling of the crash flag", () => {
    expect(configFor(["--crash-started-tasks-on-timeout"]).options.crashStartedTasksOnTimeout).toBe(true);
  });

  it("maps the common service arguments", () => {
    const { config } = configFor(["--identity", "karton.system2", "--log-level", "DEBUG", "--debug"]);
    expect(config.kartonOptions()).toMatchObject({ identity: "karton.system2", debug: true });
    expect(config.loggingOptions().level).toBe("DEBUG");
  });

  it("rejects non-integer values", () => {
    expect(() => SystemService.parseArgs(["node", "karton-system", "--gc-interval", "abc"])).toThrow();
    expect(() => SystemService.parseArgs(["node", "karton-system", "--task-max-attempts", "0"])).toThrow();
  });
});

describe("Effective config message", () => {
  it("starts with Python's text and appends the karton-ts options", () => {
    const messages = (readFixtureJson("logs/log-messages.json") as JsonObject).messages as JsonObject[];
    const python = messages
      .map((m) => (m.data_parsed as JsonObject).message as string)
      .find((m) => m.startsWith("Effective config:")) as string;
    const ours = effectiveConfigMessage({
      ...KartonConfig.fromDict({}).systemOptions(),
      gcInterval: 3600,
    });
    expect(ours.startsWith(`${python}\n`)).toBe(true);
    expect(ours.slice(python.length)).toBe(
      "\n task_claim_timeout:\t60\n task_max_attempts:\t3\n max_task_size:\t16777216",
    );
  });
});

/**
 * The logger's hot-path shortcuts give the same results as the general code: the direct writer of
 * plain records (no extras, no exception) against `stringify(buildLogBody(...))`, and call-site
 * locations read from V8 call sites or remembered by a LogSite against the stack text.
 */
import { describe, expect, it } from "vitest";
import { stringify } from "../../src/json/index.js";
import {
  buildLogBody,
  Logger,
  type LogRecord,
  LogSite,
  serializeLogRecord,
} from "../../src/service/logging.js";
import { Task } from "../../src/task/task.js";

function record(overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    name: "svc",
    levelno: 20,
    levelname: "INFO",
    message: "hello",
    created: 1795904858.3610258,
    filename: "consumer.js",
    module: "consumer",
    lineno: 12,
    funcName: "#processClaimed",
    extra: {},
    ...overrides,
  };
}

describe("serializeLogRecord of plain records", () => {
  const task = new Task(
    { type: "sample", kind: "raw", note: 'quote " backslash \\ é \u0001' },
    { payload: { n: 1, f: 1.5, s: "line\nbreak", u: "żółw 🦀" } },
  );
  const cases: [string, LogRecord][] = [
    ["without a task", record()],
    ["with a task", record({ task })],
    [
      "with escapes and non-ASCII",
      record({ message: 'Zażółć "gęślą" \\ jaźń\n\t🦀 \u007f', name: "a.b\u00e9" }),
    ],
    ["with an integral time", record({ created: 1700000000 })],
    ["at another level", record({ levelno: 25, levelname: "Level 25" })],
  ];
  for (const [name, r] of cases) {
    it(name, () => {
      expect(serializeLogRecord(r, "host-1")).toBe(stringify(buildLogBody(r, "host-1"), { sortKeys: false }));
    });
  }
});

describe("caller location", () => {
  function locations(log: Logger): Pick<LogRecord, "filename" | "module" | "lineno" | "funcName">[] {
    const seen: Pick<LogRecord, "filename" | "module" | "lineno" | "funcName">[] = [];
    log.addHandler({
      handle: (r) =>
        seen.push({ filename: r.filename, module: r.module, lineno: r.lineno, funcName: r.funcName }),
    });
    return seen;
  }

  it("is the caller's file, line and function, and a LogSite remembers it", () => {
    const log = new Logger("svc");
    const seen = locations(log);
    const site = new LogSite();
    function logsTwice(): void {
      for (let i = 0; i < 2; i++) log.info("x", { site });
    }
    function logsPlain(): void {
      log.info("y");
    }
    logsTwice();
    logsPlain();
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]?.filename).toBe("service-logging-fast-paths.test.ts");
    expect(seen[0]?.funcName).toBe("logsTwice");
    expect(seen[2]?.funcName).toBe("logsPlain");
    expect(seen[2]?.lineno).toBeGreaterThan(0);
  });
});

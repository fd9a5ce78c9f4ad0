import { describe, expect, it } from "vitest";
import { isJsonObject, type JsonObject, parse } from "../../src/json/index.js";
import {
  buildLogBody,
  ConsoleHandler,
  Logger,
  LogLevel,
  type LogRecord,
  levelName,
  NO_TASK_ID,
  PublishHandler,
  parseLevel,
  pyRepr,
  serializeLogRecord,
  useColour,
} from "../../src/service/logging.js";
import { parseTask } from "../../src/task/document.js";
import { readFixtureJson } from "../helpers/fixtures.js";

interface FixtureMessage {
  channel: string;
  data_raw: string;
}

const fixture = readFixtureJson("logs/log-messages.json") as JsonObject;
const messages = (fixture.messages as unknown as FixtureMessage[]).map((m) => ({
  channel: m.channel,
  raw: m.data_raw,
  body: parse(m.data_raw) as JsonObject,
}));

/** Rebuilds the LogRecord a fixture body was made from (exception fields aside). */
function recordFromFixture(body: JsonObject): LogRecord {
  const known = new Set([
    "name",
    "levelname",
    "levelno",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "task_id",
    "message",
    "type",
    "task",
    "hostname",
  ]);
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!known.has(key)) extra[key] = value;
  const record: LogRecord = {
    name: body.name as string,
    levelno: Number(body.levelno),
    levelname: body.levelname as string,
    message: body.message as string,
    created: Number(body.created),
    filename: body.filename as string,
    module: body.module as string,
    lineno: Number(body.lineno),
    funcName: body.funcName as string,
    extra,
  };
  if (typeof body.task === "string") record.task = parseTask(body.task);
  return record;
}

describe("published log records vs the Python 5.9.1 fixture (spec §8.2)", () => {
  const plain = messages.filter((m) => !("excType" in m.body));
  it("has plain records to compare", () => {
    expect(plain.length).toBeGreaterThan(20);
  });

  it("re-serialises every record without an exception byte for byte", () => {
    for (const m of plain) {
      const record = recordFromFixture(m.body);
      expect(serializeLogRecord(record, m.body.hostname as string)).toBe(m.raw);
    }
  });

  it("covers records with extras, with a task, without a task and with non-ASCII text", () => {
    const withExtra = plain.find((m) => "sample_sha" in m.body);
    expect(withExtra).toBeDefined();
    expect(Object.keys(withExtra?.body ?? {})).toEqual([
      "name",
      "levelname",
      "levelno",
      "filename",
      "module",
      "lineno",
      "funcName",
      "created",
      "sample_sha",
      "count",
      "task_id",
      "message",
      "type",
      "task",
      "hostname",
    ]);
    expect(plain.some((m) => m.body.task_id === NO_TASK_ID && !("task" in m.body))).toBe(true);
    expect(plain.some((m) => m.raw.includes("\\u017c"))).toBe(true);
  });

  it("puts exception fields where Python does, with the same key order", () => {
    const withExc = messages.filter((m) => "excType" in m.body);
    expect(withExc.length).toBeGreaterThan(0);
    for (const m of withExc) {
      const record = recordFromFixture(m.body);
      delete record.extra.excText;
      delete record.extra.excValue;
      delete record.extra.excTraceback;
      delete record.extra.excType;
      record.message = (m.body.message as string).split("\n")[0] as string;
      record.error = new RangeError(m.body.excValue as string);
      const body = buildLogBody(record, "vm");
      expect(Object.keys(body)).toEqual(Object.keys(m.body));
      expect(body.excType).toBe("RangeError");
      expect(body.excValue).toBe(m.body.excValue);
      const lines = body.excTraceback as string[];
      expect(lines[0]).toBe("Traceback (most recent call last):\n");
      expect(lines.at(-1)).toBe(`RangeError: ${m.body.excValue}\n`);
      expect(body.message).toBe(`${record.message}\n${body.excText}`);
      expect(body.excText).toBe(lines.join("").slice(0, -1));
    }
  });

  it("double-encodes the task as the JSON text of the whole document", () => {
    const m = plain.find((x) => typeof x.body.task === "string");
    const body = buildLogBody(recordFromFixture(m?.body as JsonObject), "vm");
    expect(typeof body.task).toBe("string");
    const task = parse(body.task as string);
    expect(isJsonObject(task)).toBe(true);
    expect(body.task).toBe(m?.body.task);
    expect(body.task_id).toBe(((task as JsonObject).uid as string).split(":").pop());
  });
});

describe("Logger", () => {
  function capture(): { records: LogRecord[]; handler: { handle(r: LogRecord): void } } {
    const records: LogRecord[] = [];
    return { records, handler: { handle: (r) => records.push(r) } };
  }

  it("uses Python level numbers and names", () => {
    expect([LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARNING, LogLevel.ERROR, LogLevel.CRITICAL]).toEqual([
      10, 20, 30, 40, 50,
    ]);
    expect(levelName(30)).toBe("WARNING");
    expect(levelName(25)).toBe("Level 25");
    expect(parseLevel("debug")).toBe(10);
    expect(parseLevel("WARN")).toBe(30);
    expect(parseLevel("15")).toBe(15);
    expect(() => parseLevel("loud")).toThrow(/Unknown log level "loud"/);
  });

  it("filters by level and records the caller's location", () => {
    const log = new Logger("karton.test");
    const { records, handler } = capture();
    log.addHandler(handler);
    log.level = "WARNING";
    log.info("hidden");
    log.warning("shown", { extra: { count: 3, name: "reserved names are dropped" } });
    expect(records).toHaveLength(1);
    const r = records[0] as LogRecord;
    expect(r).toMatchObject({ name: "karton.test", levelname: "WARNING", levelno: 30, message: "shown" });
    expect(r.extra).toEqual({ count: 3 });
    expect(r.filename).toBe("service-logging.test.ts");
    expect(r.module).toBe("service-logging.test");
    expect(r.lineno).toBeGreaterThan(0);
    expect(Math.abs(r.created - Date.now() / 1000)).toBeLessThan(5);
  });

  it("child loggers share level, handlers and the current task", () => {
    const log = new Logger("svc");
    const { records, handler } = capture();
    log.addHandler(handler);
    const task = parseTask(
      '{"error": null, "headers": {}, "headers_persistent": {}, "last_update": 1.5, "orig_uid": null, "parent_uid": null, "payload": {}, "payload_persistent": {}, "priority": "normal", "root_uid": "r", "status": "Started", "uid": "{r}:abc"}',
    );
    log.setTaskProvider(() => task);
    log.child("db").error("inside");
    expect(records[0]?.name).toBe("svc.db");
    expect(records[0]?.task).toBe(task);
    expect(buildLogBody(records[0] as LogRecord, "h").task_id).toBe("abc");
  });

  it("exception() attaches the error", () => {
    const log = new Logger("svc");
    const { records, handler } = capture();
    log.addHandler(handler);
    const error = new Error("boom");
    log.exception("failed", error);
    expect(records[0]?.levelno).toBe(40);
    expect(records[0]?.error).toBe(error);
  });
});

describe("ConsoleHandler", () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    return {
      chunks,
      stream: Object.assign(
        { write: (c: string) => chunks.push(c) !== 0 },
        { isTTY },
      ) as unknown as NodeJS.WritableStream & { isTTY?: boolean },
    };
  }

  it("writes [<ISO time>][<LEVEL>] <message>", () => {
    const { chunks, stream } = sink(false);
    const handler = new ConsoleHandler(stream);
    const log = new Logger("svc");
    log.addHandler(handler);
    log.info("hello");
    expect(chunks[0]).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]\[INFO\] hello\n$/);
    log.exception("bad", new Error("e1"));
    expect(chunks[1]).toMatch(/\]\[ERROR\] bad\nTraceback \(most recent call last\):\n/);
    expect(chunks[1]).toMatch(/Error: e1\n$/);
  });

  it("colours only on a TTY and never with NO_COLOR", () => {
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    const { chunks, stream } = sink(true);
    const log = new Logger("svc");
    log.addHandler(new ConsoleHandler(stream, true));
    log.warning("w");
    expect(chunks[0]).toContain("\u001b[33mWARNING\u001b[0m");
  });
});

describe("PublishHandler", () => {
  it("publishes on the lower-case level channel of the service identity", async () => {
    const calls: [string, string, string][] = [];
    const handler = new PublishHandler(
      async (level, identity, body) => {
        calls.push([level, identity, body]);
        return 1;
      },
      "svc",
      "host1",
    );
    const log = new Logger("svc");
    log.addHandler(handler);
    log.child("sub").warning("careful");
    await handler.flush();
    expect(calls).toHaveLength(1);
    const [level, identity, body] = calls[0] as [string, string, string];
    expect(level).toBe("warning");
    expect(identity).toBe("svc");
    const parsed = parse(body) as JsonObject;
    expect(parsed.name).toBe("svc.sub");
    expect(parsed.hostname).toBe("host1");
    expect(parsed.type).toBe("log");
    expect(parsed.task_id).toBe("(no task)");
  });

  it("never throws when publishing fails", async () => {
    const handler = new PublishHandler(async () => Promise.reject(new Error("down")), "svc", "h");
    const log = new Logger("svc");
    log.addHandler(handler);
    log.error("x");
    await expect(handler.flush()).resolves.toBeUndefined();
  });
});

describe("pyRepr", () => {
  it("prints filters like Python dicts", () => {
    expect(pyRepr({ type: "log-test" })).toBe("{'type': 'log-test'}");
    expect(pyRepr({ a: [1, true, null], b: "it's" })).toBe(`{'a': [1, True, None], 'b': "it's"}`);
  });
});

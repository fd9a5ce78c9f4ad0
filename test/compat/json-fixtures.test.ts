/**
 * The JSON module against the text Python karton-core 5.9.1 really wrote (shared/fixtures/...).
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isJsonObject, type JsonObject, type JsonValue, parse, stringify } from "../../src/json/index.js";
import {
  type CapturedValue,
  findCapturedValues,
  listFixtures,
  readFixtureJson,
  readFixtureText,
} from "../helpers/fixtures.js";

const TASK_FILES = listFixtures("tasks", ".json");

/** Deep equality that also checks key order, int/float kind, -0 and NaN. */
function expectSameValue(actual: JsonValue, expected: JsonValue): void {
  expect(actual).toStrictEqual(expected);
  expect(stringify(actual, { sortKeys: false })).toBe(stringify(expected, { sortKeys: false }));
}

function checkCaptured(c: CapturedValue): void {
  expect(Buffer.byteLength(c.raw, "utf8")).toBe(c.entry.raw_len);
  expect(createHash("sha256").update(c.raw, "utf8").digest("hex")).toBe(c.entry.raw_sha256);
  expectSameValue(parse(c.raw), c.parsed);
}

/**
 * The one captured document that is not key-sorted: Python sorts the *integer* keys of `int_keys`
 * numerically before turning them into strings ("1", "9", "10"). Any re-serialization sorts the string keys.
 */
const UNSORTED_INT_KEYS = '"int_keys": {"1": "one", "9": "nine", "10": "ten"}';
const SORTED_INT_KEYS = '"int_keys": {"1": "one", "10": "ten", "9": "nine"}';

describe("task fixtures", () => {
  it("finds the task files and their captured values", () => {
    expect(TASK_FILES.length).toBe(11);
    let total = 0;
    for (const file of TASK_FILES) {
      const found = findCapturedValues(readFixtureJson(file));
      expect(found.length, file).toBeGreaterThan(0);
      total += found.length;
    }
    expect(total).toBe(21);
  });

  describe.each(TASK_FILES)("%s", (file) => {
    const captured = findCapturedValues(readFixtureJson(file));

    it.each(captured.map((c) => [c.path, c] as const))("%s: parse(raw) equals parsed", (_path, c) => {
      checkCaptured(c);
    });

    it.each(captured.map((c) => [c.path, c] as const))("%s: stringify(parse(raw)) === raw", (_path, c) => {
      const again = stringify(parse(c.raw));
      if (c.raw.includes(UNSORTED_INT_KEYS)) {
        expect(again).toBe(c.raw.replace(UNSORTED_INT_KEYS, SORTED_INT_KEYS));
      } else {
        expect(again).toBe(c.raw);
      }
      // Without sorting, the text order of the keys is kept, even for "10" before "9".
      expect(stringify(parse(c.raw), { sortKeys: false })).toBe(c.raw);
    });
  });
});

describe("tasks/11-special-values.json", () => {
  const doc = readFixtureJson("tasks/11-special-values.json") as JsonObject;
  const [declared, fork] = findCapturedValues(doc);
  if (!declared || !fork) throw new Error("expected the declared task and its fork");

  it("holds the special values the README describes", () => {
    const payload = (parse(declared.raw) as JsonObject).payload as JsonObject;
    expect(payload.int_2_53_plus_1).toBe(2n ** 53n + 1n);
    expect(payload.int_u64_max).toBe(2n ** 64n - 1n);
    expect(payload.int_2_64).toBe(2n ** 64n);
    expect(payload.int_2_70).toBe(2n ** 70n);
    expect(payload.int_negative_2_65).toBe(-(2n ** 65n));
    expect(Object.is(payload.float_negative_zero, -0)).toBe(true);
    expect(payload.nan).toBeNaN();
    expect(payload.infinity).toBe(Number.POSITIVE_INFINITY);
    expect(payload.negative_infinity).toBe(Number.NEGATIVE_INFINITY);
    expect(payload.unicode_astral).toBe("🦀 crab");
    expect(Object.keys(payload.key_order as JsonObject).sort()).toHaveLength(10);
  });

  it("reproduces the fork karton-system wrote from the declared task", () => {
    // What the router changes: a new uid, orig_uid, status, last_update and the receiver header.
    const task = parse(declared.raw) as JsonObject;
    const forkDoc = parse(fork.raw) as JsonObject;
    for (const field of ["uid", "orig_uid", "status", "last_update"])
      task[field] = forkDoc[field] as JsonValue;
    const headers = task.headers as JsonObject;
    headers.receiver = (forkDoc.headers as JsonObject).receiver as JsonValue;
    expect(stringify(task)).toBe(fork.raw);
  });

  it("writes the payload exactly as the fork holds it", () => {
    const declaredPayload = (parse(declared.raw) as JsonObject).payload;
    const forkPayload = (parse(fork.raw) as JsonObject).payload;
    const forkPayloadText = fork.raw.slice(
      fork.raw.indexOf('"payload": ') + 11,
      fork.raw.indexOf(', "payload_persistent"'),
    );
    expect(stringify(declaredPayload)).toBe(forkPayloadText);
    expect(stringify(forkPayload)).toBe(forkPayloadText);
  });
});

describe("bind fixtures", () => {
  const captured = findCapturedValues(readFixtureJson("binds/binds.json"));

  it("holds the five binds", () => {
    expect(captured).toHaveLength(5);
  });

  it.each(captured.map((c) => [c.path, c] as const))("%s round-trips byte-exactly", (_path, c) => {
    checkCaptured(c);
    expect(stringify(parse(c.raw))).toBe(c.raw);
  });
});

describe("log record fixtures (json.dumps without sort_keys)", () => {
  const captured = findCapturedValues(readFixtureJson("logs/log-messages.json"), "data_");

  it("finds the log messages", () => {
    expect(captured.length).toBeGreaterThan(10);
  });

  it.each(captured.map((c) => [c.path, c] as const))("%s round-trips in insertion order", (_path, c) => {
    expectSameValue(parse(c.raw), c.parsed);
    expect(stringify(parse(c.raw), { sortKeys: false })).toBe(c.raw);
    // The embedded task is itself a sorted task document.
    const task = (parse(c.raw) as JsonObject).task;
    if (typeof task === "string") expect(stringify(parse(task))).toBe(task);
  });
});

describe("Redis MONITOR trace", () => {
  const trace = readFixtureJson("trace/monitor-full-flow.json") as JsonObject;
  const commands = trace.commands as JsonObject[];
  // Arguments holding JSON documents (uids such as "{root}:uid" are not JSON).
  const documents: [command: string, text: string][] = [];
  for (const c of commands) {
    const args = c.args as string[];
    for (const a of args.slice(1)) if (a.startsWith('{"')) documents.push([String(args[0]).toUpperCase(), a]);
  }

  it("holds task, bind, outputs and log documents", () => {
    expect(new Set(documents.map(([c]) => c))).toEqual(new Set(["PUBLISH", "HSET", "SET", "MSET", "SADD"]));
  });

  it.each(documents)("%s argument round-trips", (command, text) => {
    const value = parse(text);
    expect(isJsonObject(value)).toBe(true);
    // PUBLISH (log records) and SADD (karton.outputs members) are written without key sorting.
    const sorted = command !== "PUBLISH" && command !== "SADD";
    expect(stringify(value, { sortKeys: sorted })).toBe(text);
    if (sorted) expect(stringify(value, { sortKeys: false })).toBe(text);
  });
});

describe("fixture helper", () => {
  it("reads fixture files losslessly", () => {
    const text = readFixtureText("tasks/11-special-values.json");
    expect(text).toContain("1180591620717411303424");
    const doc = readFixtureJson("tasks/11-special-values.json") as JsonObject;
    const parsed = ((doc.tasks as JsonObject[])[0] as JsonObject).parsed as JsonObject;
    expect((parsed.payload as JsonObject).int_2_70).toBe(2n ** 70n);
  });
});

// assertTasksEqual (karton-ts/testing): comparison rules of wire-protocol spec §13.
import assert, { AssertionError } from "node:assert";
import { describe, expect, it } from "vitest";
import { PyFloat } from "../../src/json/values.js";
import { Resource } from "../../src/resource/local-resource.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { assertTasksEqual, flattenPayload, taskDifferences } from "../../src/testing/index.js";

async function failure(actual: Task[], expected: Task[]): Promise<AssertionError> {
  try {
    await assertTasksEqual(actual, expected);
  } catch (error) {
    expect(error).toBeInstanceOf(AssertionError);
    return error as AssertionError;
  }
  throw new Error("assertTasksEqual did not throw");
}

describe("assertTasksEqual", () => {
  it("ignores uids, status, priority, last_update, error, header persistence and resource identity", async () => {
    const actual = new Task(
      { type: "t", tlp: "red" },
      {
        headersPersistent: { tlp: "red" },
        payload: { file: Resource.fromBytes("a.bin", "same bytes", { metadata: { m: 1 }, bucket: "x" }) },
        status: TaskState.Crashed,
        priority: TaskPriority.Low,
        error: ["Traceback\n"],
        lastUpdate: 1,
        parentUid: "p",
        origUid: "o",
      },
    );
    const expected = new Task(
      { type: "t", tlp: "red" },
      { payload: { file: Resource.fromBytes("b.bin", "same bytes", { bucket: "y" }) } },
    );
    await assertTasksEqual([actual], [expected]);
  });

  it("compares headers as whole objects", async () => {
    const error = await failure(
      [new Task({ type: "t", kind: "raw", extra: 1 })],
      [new Task({ type: "t", kind: "runnable", origin: "karton.x" })],
    );
    expect(error.message).toContain('task #0: header "kind" is "raw", expected "runnable"');
    expect(error.message).toContain('task #0: header "origin" is missing (expected "karton.x")');
    expect(error.message).toContain('task #0: unexpected header "extra" = 1');
    expect(error.code).toBe("ERR_ASSERTION");
    expect(error.actual).toEqual([{ headers: { type: "t", kind: "raw", extra: 1 }, payload: {} }]);
    expect(error.expected).toEqual([
      { headers: { type: "t", kind: "runnable", origin: "karton.x" }, payload: {} },
    ]);
  });

  it("uses Python equality for values", async () => {
    await assertTasksEqual(
      [new Task({ n: 1, b: true }, { payload: { f: new PyFloat(2) } })],
      [new Task({ n: new PyFloat(1), b: 1 }, { payload: { f: 2 } })],
    );
    const error = await failure([new Task({ n: 1 })], [new Task({ n: "1" })]);
    expect(error.message).toContain('header "n" is 1, expected "1"');
  });

  it("flattens payloads to leaves; empty objects and arrays yield none", async () => {
    const resource = Resource.fromBytes("r", "x");
    const flat = await flattenPayload(
      { a: { b: [1, { c: "d" }], e: {}, f: [] }, g: null, r: resource },
      "payload",
    );
    expect([...flat.keys()]).toEqual(["payload.a.b.0", "payload.a.b.1.c", "payload.g", "payload.r"]);
    expect(flat.get("payload.r")).toEqual({
      kind: "resource",
      name: "r",
      sha256: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
    });
    await assertTasksEqual(
      [new Task({}, { payload: { a: { list: [1, 2], empty: {} } } })],
      [new Task({}, { payload: { a: { list: [1, 2] }, nothing: [] } })],
    );
  });

  it("reports missing, unexpected and different leaves with their paths", async () => {
    const error = await failure(
      [new Task({}, { payload: { a: [1, 2, 3], b: "x" }, payloadPersistent: { p: { q: true } } })],
      [new Task({}, { payload: { a: [1, 5], c: "y" }, payloadPersistent: { p: { q: false } } })],
    );
    expect(error.message).toContain("payload.a.1 is 2, expected 5");
    expect(error.message).toContain('payload.c is missing (expected "y")');
    expect(error.message).toContain("unexpected payload.a.2 = 3");
    expect(error.message).toContain('unexpected payload.b = "x"');
    expect(error.message).toContain("payload_persistent.p.q is true, expected false");
  });

  it("keeps payload and persistent payload apart", async () => {
    const diffs = await taskDifferences(
      new Task({}, { payload: { k: 1 } }),
      new Task({}, { payloadPersistent: { k: 1 } }),
    );
    expect(diffs).toEqual(["payload_persistent.k is missing (expected 1)", "unexpected payload.k = 1"]);
  });

  it("compares resources by the SHA-256 of their bytes, not their stored hash", async () => {
    const liar = Resource.fromBytes("a", "content A", { sha256: "0".repeat(64) });
    await assertTasksEqual(
      [new Task({}, { payload: { r: liar } })],
      [new Task({}, { payload: { r: Resource.fromBytes("b", "content A") } })],
    );
    const error = await failure(
      [new Task({}, { payload: { r: Resource.fromBytes("a", "content A") } })],
      [new Task({}, { payload: { r: Resource.fromBytes("a", "content B") } })],
    );
    expect(error.message).toMatch(/payload\.r: resource content differs/);
    const kind = await failure(
      [new Task({}, { payload: { r: "not a resource" } })],
      [new Task({}, { payload: { r: Resource.fromBytes("a", "x") } })],
    );
    expect(kind.message).toMatch(/payload\.r is "not a resource", expected "<resource sha256:/);
  });

  it("checks the number of tasks and their order", async () => {
    const a = new Task({ type: "a" });
    const b = new Task({ type: "b" });
    const error = await failure([a], [new Task({ type: "a" }), new Task({ type: "b" })]);
    expect(error.message).toContain("expected 2 task(s), got 1");
    expect(error.message).toContain('task #1 is missing: expected headers {"type": "b"}');
    const order = await failure([b, a], [new Task({ type: "a" }), new Task({ type: "b" })]);
    expect(order.message).toContain('task #0: header "type" is "b", expected "a"');
    await assertTasksEqual([], []);
  });

  it("works with node:assert and takes a message", async () => {
    await assert.rejects(assertTasksEqual([new Task({ a: 1 })], []), AssertionError);
    await assert.rejects(
      assertTasksEqual([], [new Task({})], "outputs of karton.x"),
      /^AssertionError.*outputs of karton\.x: tasks differ/,
    );
  });
});

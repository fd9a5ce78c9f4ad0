/**
 * taskDocumentParts (the router's shared-middle serialisation) against serializeTask on every task
 * document captured from Python karton-core 5.9.1, and on forks of them.
 */
import { describe, expect, it } from "vitest";
import { parseTask, serializeTask, taskDocumentParts } from "../../src/task/document.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { findCapturedValues, listFixtures, readFixtureJson } from "../helpers/fixtures.js";

const raws = listFixtures("tasks", ".json").flatMap((file) =>
  findCapturedValues(readFixtureJson(file))
    .filter((c) => typeof c.entry.redis_key === "string" && c.entry.redis_key.startsWith("karton.task:"))
    .map((c) => ({ file, raw: c.entry.raw as string })),
);

describe("taskDocumentParts", () => {
  it("has captured documents to check", () => {
    expect(raws.length).toBeGreaterThanOrEqual(20);
  });

  for (const { file, raw } of raws) {
    it(`joins to serializeTask for a document of ${file}, and for its forks`, () => {
      const task = parseTask(raw, { decodeResources: false });
      const parts = taskDocumentParts(task);
      expect(parts.head + parts.middle + parts.tail).toBe(serializeTask(task));
      expect(parts.middle.startsWith('"payload": ')).toBe(true);

      const fork = task.fork();
      fork.status = TaskState.Spawned;
      fork.headers.receiver = "fixture.other";
      const forkParts = taskDocumentParts(fork, { task, parts });
      expect(forkParts.middle).toBe(parts.middle);
      expect(forkParts.head + forkParts.middle + forkParts.tail).toBe(serializeTask(fork));
    });
  }

  it("does not reuse the middle of a task with other payload values", () => {
    const a = new Task({ type: "x" }, { payload: { n: 1 }, payloadPersistent: { p: "1" } });
    const parts = taskDocumentParts(a);
    const b = a.fork();
    b.payload.n = 2;
    const partsB = taskDocumentParts(b, { task: a, parts });
    expect(partsB.middle).not.toBe(parts.middle);
    expect(partsB.head + partsB.middle + partsB.tail).toBe(serializeTask(b));

    const c = a.fork();
    c.payloadPersistent.extra = true;
    expect(taskDocumentParts(c, { task: a, parts }).middle).toContain('"extra": true');
    const d = a.fork();
    d.headersPersistent.h = "v";
    const partsD = taskDocumentParts(d, { task: a, parts });
    expect(partsD.head + partsD.middle + partsD.tail).toBe(serializeTask(d));
    const e = a.fork();
    delete e.payload.n;
    e.payload.m = 1;
    expect(taskDocumentParts(e, { task: a, parts }).middle).toContain('"m": 1');
  });

  it("falls back to one piece when a member is undefined at run time", () => {
    const a = new Task({ type: "x" });
    (a as { error: unknown }).error = undefined;
    const parts = taskDocumentParts(a);
    expect(parts.head + parts.middle + parts.tail).toBe(serializeTask(a));
  });
});

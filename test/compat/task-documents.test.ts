import { describe, expect, it } from "vitest";
import { isJsonObject, parse } from "../../src/json/index.js";
import { RemoteResource } from "../../src/resource/remote-resource.js";
import { parseTask, serializeTask, TaskPriority, TaskState } from "../../src/task/index.js";
import { findCapturedValues, listFixtures, readFixtureJson } from "../helpers/fixtures.js";

const TASK_FILES = listFixtures("tasks", ".json");
const KEY_ORDER = [
  "error",
  "headers",
  "headers_persistent",
  "last_update",
  "orig_uid",
  "parent_uid",
  "payload",
  "payload_persistent",
  "priority",
  "root_uid",
  "status",
  "uid",
];

/** Every captured `karton.task:<uid>` value of every task fixture. */
/** `{"1": …, "9": …, "10": …}`: the declared task of fixture 11 written from a dict with integer keys. */
const INTEGER_KEYS_DECLARED = /"9": [^{}]*"10": /;

const documents = TASK_FILES.flatMap((file) =>
  findCapturedValues(readFixtureJson(file))
    .filter((c) => typeof c.entry.redis_key === "string" && c.entry.redis_key.startsWith("karton.task:"))
    .map((c) => ({ file, ...c })),
);

describe("task documents captured from Python karton-core 5.9.1", () => {
  it("finds task documents in every task fixture file", () => {
    const files = new Set(documents.map((d) => d.file));
    expect([...files].sort()).toEqual(TASK_FILES);
    expect(documents.length).toBeGreaterThanOrEqual(20);
  });

  for (const doc of documents) {
    describe(`${doc.file} ${doc.path} (${doc.label ?? ""})`, () => {
      const task = parseTask(doc.raw);

      it("parses with the fields Python stored", () => {
        const parsed = doc.parsed as Record<string, unknown>;
        expect(`karton.task:${task.uid}`).toBe(doc.entry.redis_key);
        expect(task.rootUid).toBe(parsed.root_uid);
        expect(task.parentUid).toBe(parsed.parent_uid);
        expect(task.origUid).toBe(parsed.orig_uid);
        expect(Object.values(TaskState)).toContain(task.status);
        expect(task.status).toBe(parsed.status);
        expect(Object.values(TaskPriority)).toContain(task.priority);
        expect(task.headersPersistent).toEqual(parsed.headers_persistent);
        // The hidden key is not part of the user-visible persistent payload.
        expect(task.hasPayload("__headers_persistent")).toBe(false);
      });

      it("decodes every resource marker into a RemoteResource", () => {
        const markers = (doc.raw.match(/"__karton_resource__"/g) ?? []).length;
        const resources = [...task.iterateResources()];
        expect(resources).toHaveLength(markers);
        for (const r of resources) {
          expect(r).toBeInstanceOf(RemoteResource);
          expect(r.bucket).toBe("karton-fixtures");
        }
      });

      it("re-serialises with the same keys, types and values", () => {
        const again = serializeTask(task);
        const reparsed = parse(again);
        expect(isJsonObject(reparsed) && Object.keys(reparsed)).toEqual(KEY_ORDER);
        if (INTEGER_KEYS_DECLARED.test(doc.raw)) {
          // Python sorted an int-keyed dict numerically before writing it; once parsed the keys are
          // text, sorted by code point (as Python's router re-writes them, see the next test).
          expect(again).not.toBe(doc.raw);
          expect(reparsed).toEqual(parse(doc.raw));
          expect(again.length).toBe(doc.raw.length);
        } else {
          expect(again).toBe(doc.raw);
        }
      });
    });
  }

  it("re-writes the integer-keyed payload exactly like the Python router did", () => {
    const special = documents.filter((d) => d.file.endsWith("11-special-values.json"));
    const declared = special.find((d) => parseTask(d.raw).status === TaskState.Declared);
    const fork = special.find((d) => parseTask(d.raw).status === TaskState.Spawned);
    expect(declared && fork).toBeTruthy();
    const payloadOf = (text: string) =>
      text.slice(text.indexOf('"payload": '), text.indexOf(', "priority": '));
    const ours = payloadOf(serializeTask(parseTask(declared!.raw)));
    expect(ours).toBe(payloadOf(fork!.raw));
    expect(ours).not.toBe(payloadOf(declared!.raw));
  });
});

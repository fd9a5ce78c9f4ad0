/**
 * Resource markers against the Python 5.9.1 fixtures: what Python wrote for tasks/08-10 is read
 * into RemoteResources whose markers re-serialise byte for byte, and local resources built with
 * the same fields produce the same marker text.
 */
import { describe, expect, it } from "vitest";
import { isJsonObject, type JsonObject, type JsonValue, stringify } from "../../src/json/index.js";
import {
  isResourceMarker,
  LocalResource,
  RESOURCE_MARKER,
  RemoteResource,
  type ResourceBase,
} from "../../src/resource/index.js";
import { parseTask } from "../../src/task/index.js";
import { findCapturedValues, readFixtureJson } from "../helpers/fixtures.js";
import { MemoryObjectStorage } from "../helpers/memory-object-storage.js";

const FILES = [
  "tasks/08-nested-resources.json",
  "tasks/09-resource-variants.json",
  "tasks/10-directory-resource.json",
];

/** Every marker object in a parsed document, with its path. */
function markersIn(value: JsonValue, path: string, out: [string, JsonObject][] = []): [string, JsonObject][] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) markersIn(v, `${path}[${i}]`, out);
  } else if (isJsonObject(value)) {
    if (isResourceMarker(value)) out.push([path, value]);
    else for (const [k, v] of Object.entries(value)) markersIn(v as JsonValue, `${path}.${k}`, out);
  }
  return out;
}

function payloadMarkers(doc: JsonValue): JsonObject[] {
  if (!isJsonObject(doc)) return [];
  return [
    ...markersIn(doc.payload as JsonValue, "payload"),
    ...markersIn(doc.payload_persistent as JsonValue, "pp"),
  ].map(([, m]) => m);
}

describe.each(FILES)("%s", (file) => {
  const captured = findCapturedValues(readFixtureJson(file));

  it("has resources to check", () => {
    expect(captured.length).toBeGreaterThan(0);
    expect(captured.flatMap((c) => payloadMarkers(c.parsed)).length).toBeGreaterThan(0);
  });

  it("markers read into bound RemoteResources and serialise back to Python's exact text", () => {
    const storage = new MemoryObjectStorage();
    for (const value of captured) {
      const task = parseTask(value.raw, { storage });
      const resources = [...task.iterateResources()];
      const markers = payloadMarkers(value.parsed);
      expect(resources).toHaveLength(markers.length);
      for (const resource of resources) {
        expect(resource).toBeInstanceOf(RemoteResource);
        expect((resource as RemoteResource).bound).toBe(true);
        const text = stringify(resource.toJSON());
        // The marker text appears verbatim inside the raw document Python wrote.
        expect(value.raw).toContain(text);
      }
      // Passing them on never re-uploads: none of them is a local resource.
      expect(task.localResources()).toEqual([]);
    }
  });
});

describe("local resources write the markers Python writes (tasks/09, tasks/10)", () => {
  const doc09 = findCapturedValues(readFixtureJson("tasks/09-resource-variants.json"))[0]!;
  const payload09 = (doc09.parsed as { payload: Record<string, JsonObject> }).payload;
  const inner = (key: string): JsonObject => payload09[key]![RESOURCE_MARKER] as JsonObject;

  it("explicit uid and unicode name with nested metadata", () => {
    for (const key of ["explicit_uid", "unicode_name_with_metadata"]) {
      const want = inner(key);
      const { sha256: _sha, ...userMetadata } = want.metadata as JsonObject;
      const local = LocalResource.fromBytes(want.name as string, Buffer.alloc(want.size as number), {
        uid: want.uid as string,
        bucket: want.bucket as string,
        metadata: userMetadata,
        sha256: want.sha256 as string, // the content itself is not in the fixture; its hash is trusted
      });
      const text = stringify(local.toJSON());
      expect(doc09.raw).toContain(text);
      expect(text).toContain(key === "explicit_uid" ? '"uid": "fixture-explicit-uid-0001"' : "\\u2603");
    }
  });

  it("str content: UTF-8 size (21 bytes for the fixture's string with ☃)", () => {
    const want = inner("str_content");
    const text = "UTF-8 string: ☃ ok\n"; // 18 ASCII bytes + 3 for ☃
    const local = LocalResource.fromBytes("str-content.txt", text);
    expect(local.size).toBe(want.size);
  });

  it("directory resource marker (flags Directory, zip size and hash)", () => {
    const doc10 = findCapturedValues(readFixtureJson("tasks/10-directory-resource.json"))[0]!;
    const want = (doc10.parsed as { payload: Record<string, JsonObject> }).payload.dumps![
      RESOURCE_MARKER
    ] as JsonObject;
    const task = parseTask(doc10.raw);
    const dumps = task.getResource<ResourceBase>("dumps");
    expect(dumps.isDirectory).toBe(true);
    expect(dumps.flags).toEqual(["Directory"]);
    expect(dumps.size).toBe(want.size);
    expect(dumps.sha256).toBe(want.sha256);
    expect(stringify(dumps.toJSON())).toBe(stringify({ [RESOURCE_MARKER]: want }));
  });
});

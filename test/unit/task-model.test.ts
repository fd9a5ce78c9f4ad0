import { describe, expect, it } from "vitest";
import { PyFloat, parse } from "../../src/json/index.js";
import { LocalResource, Resource } from "../../src/resource/local-resource.js";
import { RemoteResource } from "../../src/resource/remote-resource.js";
import {
  fquidToUid,
  InvalidTaskError,
  PayloadError,
  parseTask,
  serializeTask,
  Task,
  TaskPriority,
  TaskState,
} from "../../src/task/index.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("Task ids", () => {
  it("gives a new root task the uid {R}:R", () => {
    const task = new Task({ type: "sample" });
    expect(task.rootUid).toMatch(UUID);
    expect(task.uid).toBe(`{${task.rootUid}}:${task.rootUid}`);
    expect(task.parentUid).toBeNull();
    expect(task.origUid).toBeNull();
    expect(task.status).toBe(TaskState.Declared);
    expect(task.priority).toBe(TaskPriority.Normal);
  });

  it("uses {root}:uuid for a task created inside an existing tree", () => {
    const task = new Task({}, { rootUid: "r00t" });
    expect(task.uid).toMatch(/^\{r00t\}:[0-9a-f-]{36}$/);
    expect(task.uid.endsWith(":r00t")).toBe(false);
  });

  it("short ids are the part after the last colon", () => {
    expect(fquidToUid("{a}:b")).toBe("b");
    expect(Task.fquidToUid("legacy-uuid")).toBe("legacy-uuid");
    expect(new Task({}, { uid: "{r}:x", rootUid: "r" }).taskUid).toBe("x");
  });

  it("rejects unknown priorities with a clear error", () => {
    expect(() => new Task({}, { priority: "urgent" as TaskPriority })).toThrow(
      /unknown task priority "urgent"/,
    );
  });

  it("keeps the last update as float seconds", () => {
    const before = Date.now() / 1000;
    const task = new Task({});
    expect(task.lastUpdate).toBeGreaterThanOrEqual(before - 1);
    expect(task.lastUpdate).toBeLessThan(before + 5);
  });
});

describe("headers", () => {
  it("overlays persistent headers on plain ones (persistent wins)", () => {
    const task = new Task({ type: "sample", campaign: "plain" }, { headersPersistent: { campaign: "x" } });
    expect(task.headers).toEqual({ type: "sample", campaign: "x" });
    expect(task.isHeaderPersistent("campaign")).toBe(true);
    expect(task.isHeaderPersistent("type")).toBe(false);
    expect(task.isHeaderPersistent("missing")).toBe(false);
  });

  it("refuses headers that are not a plain object", () => {
    expect(() => new Task([] as never)).toThrow(PayloadError);
  });
});

describe("payload API", () => {
  it("getPayload reads the persistent bag first, then the plain one, then the default", () => {
    const task = new Task(
      {},
      { payload: { a: 1, common: "plain" }, payloadPersistent: { common: "persistent" } },
    );
    expect(task.getPayload("a")).toBe(1);
    expect(task.getPayload("common")).toBe("persistent");
    expect(task.getPayload("missing")).toBeUndefined();
    expect(task.getPayload("missing", [])).toEqual([]);
  });

  it("hasPayload and isPayloadPersistent", () => {
    const task = new Task({}, { payload: { a: 1 }, payloadPersistent: { p: 2 } });
    expect(task.hasPayload("a")).toBe(true);
    expect(task.hasPayload("p")).toBe(true);
    expect(task.hasPayload("b")).toBe(false);
    expect(task.isPayloadPersistent("p")).toBe(true);
    expect(task.isPayloadPersistent("a")).toBe(false);
  });

  it("addPayload adds to the chosen bag and refuses names already used in either", () => {
    const task = new Task({});
    task.addPayload("a", 1);
    task.addPayload("p", "x", true);
    expect(task.payload).toEqual({ a: 1 });
    expect(task.payloadPersistent).toEqual({ p: "x" });
    expect(() => task.addPayload("a", 2)).toThrow(/payload "a" already exists/);
    expect(() => task.addPayload("p", 2)).toThrow(/payload "p" already exists/);
    expect(() => task.addPayload("a", 2, true)).toThrow(PayloadError);
  });

  it("addResource is addPayload for resources", () => {
    const task = new Task({});
    const res = Resource.fromBytes("f", "x");
    task.addResource("f", res, true);
    expect(task.getResource("f")).toBe(res);
    expect(task.isPayloadPersistent("f")).toBe(true);
  });

  it("removePayload removes plain values and refuses persistent or missing ones", () => {
    const task = new Task({}, { payload: { a: 1 }, payloadPersistent: { p: 2 } });
    task.removePayload("a");
    expect(task.hasPayload("a")).toBe(false);
    expect(() => task.removePayload("p")).toThrow(/payload "p" is persistent and cannot be removed/);
    expect(() => task.removePayload("a")).toThrow(/payload "a" does not exist/);
  });

  it("getResource returns resources and names the key otherwise", () => {
    const sample = Resource.fromBytes("sample", "MZ");
    const task = new Task({}, { uid: "{r}:t", rootUid: "r", payload: { sample, note: "text" } });
    expect(task.getResource("sample")).toBe(sample);
    expect(() => task.getResource("note")).toThrow('task {r}:t: payload "note" is not a resource');
    expect(() => task.getResource("nope")).toThrow('payload "nope" is missing');
  });
});

describe("walking payloads", () => {
  const a = Resource.fromBytes("a", "1");
  const b = Resource.fromBytes("b", "2");
  const c = Resource.fromBytes("c", "3");
  const task = new Task(
    {},
    { payload: { list: [a, { deep: [b] }], plain: "x" }, payloadPersistent: { keep: { r: c }, n: 5 } },
  );

  it("walkPayloadBags yields top-level entries of both bags", () => {
    const entries = [...task.walkPayloadBags()].map(([bag, key]) => [
      bag === task.payload ? "payload" : "persistent",
      key,
    ]);
    expect(entries).toEqual([
      ["payload", "list"],
      ["payload", "plain"],
      ["persistent", "keep"],
      ["persistent", "n"],
    ]);
  });

  it("walkPayloadItems yields every value with its path, containers first", () => {
    const paths = [...task.walkPayloadItems()].map(([path]) => path.join("."));
    expect(paths).toEqual([
      "list",
      "list.0",
      "list.1",
      "list.1.deep",
      "list.1.deep.0",
      "plain",
      "keep",
      "keep.r",
      "n",
    ]);
  });

  it("iterateResources finds resources at any depth in both bags", () => {
    expect([...task.iterateResources()]).toEqual([a, b, c]);
    expect(task.localResources()).toEqual([a, b, c]);
  });
});

describe("derivation", () => {
  it("deriveTask keeps persistent headers and both payloads, with default priority", () => {
    const source = new Task(
      { type: "sample", kind: "raw" },
      {
        headersPersistent: { campaign: "c" },
        payload: { a: 1 },
        payloadPersistent: { p: 2 },
        priority: TaskPriority.High,
      },
    );
    const derived = source.deriveTask({ type: "sample", kind: "exe" });
    expect(derived.headers).toEqual({ type: "sample", kind: "exe", campaign: "c" });
    expect(derived.headersPersistent).toEqual({ campaign: "c" });
    expect(derived.payload).toEqual({ a: 1 });
    expect(derived.payloadPersistent).toEqual({ p: 2 });
    expect(derived.priority).toBe(TaskPriority.Normal);
    expect(derived.parentUid).toBeNull();
    expect(derived.uid).not.toBe(source.uid);
    derived.addPayload("new", 1);
    expect(source.hasPayload("new")).toBe(false);
  });

  it("inheritFrom applies the child rules: tree links, persistent payload and headers (parent wins), priority", () => {
    const parent = new Task(
      { type: "sample", campaign: "parent" },
      {
        rootUid: "root",
        uid: "{root}:parent",
        headersPersistent: { campaign: "parent" },
        payloadPersistent: { uploader: "alice", shared: "parent" },
        priority: TaskPriority.Low,
      },
    );
    const child = new Task(
      { type: "result", campaign: "child" },
      { payload: { shared: "child", own: 1 }, priority: TaskPriority.High },
    );
    child.inheritFrom(parent);
    expect(child.parentUid).toBe("{root}:parent");
    expect(child.rootUid).toBe("root");
    expect(child.uid).toMatch(/^\{root\}:[0-9a-f-]{36}$/);
    expect(child.payloadPersistent).toEqual({ uploader: "alice", shared: "parent" });
    expect(child.payload).toEqual({ own: 1 });
    expect(child.headers).toEqual({ type: "result", campaign: "parent" });
    expect(child.isHeaderPersistent("campaign")).toBe(true);
    expect(child.priority).toBe(TaskPriority.Low);
  });

  it("fork keeps the tree and points orig_uid at the source", () => {
    const task = new Task({ type: "x" }, { rootUid: "r", parentUid: "{r}:p", priority: TaskPriority.High });
    const fork = task.fork();
    expect(fork.uid).toMatch(/^\{r\}:[0-9a-f-]{36}$/);
    expect(fork.uid).not.toBe(task.uid);
    expect(fork.rootUid).toBe("r");
    expect(fork.parentUid).toBe("{r}:p");
    expect(fork.origUid).toBe(task.uid);
    expect(fork.priority).toBe(TaskPriority.High);
    expect(fork.error).toBeNull();
    fork.headers.receiver = "karton.x";
    expect(task.headers.receiver).toBeUndefined();
  });

  it("setStatus changes the status and refreshes last_update", () => {
    const task = new Task({}, { lastUpdate: 1 });
    task.setStatus(TaskState.Started);
    expect(task.status).toBe(TaskState.Started);
    expect(task.lastUpdate).toBeGreaterThan(1_000_000_000);
  });
});

describe("task documents", () => {
  it("writes the twelve keys sorted, with the hidden persistent-headers copy and a float last_update", () => {
    const task = new Task(
      { type: "sample" },
      { headersPersistent: { c: "1" }, payloadPersistent: { p: 1 }, lastUpdate: 1700000000, error: ["e\n"] },
    );
    const text = serializeTask(task);
    expect(text).toContain('"last_update": 1700000000.0');
    expect(text).toContain('"payload_persistent": {"__headers_persistent": {"c": "1"}, "p": 1}');
    const doc = parse(text) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual([
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
    ]);
    expect(doc.headers).toEqual({ type: "sample", c: "1" });
  });

  it("reads back what it writes, resources included", () => {
    const res = LocalResource.fromBytes("f.bin", "abc", { bucket: "b", metadata: { k: "v" } });
    const task = new Task({ t: 1 }, { payload: { r: [res], n: new PyFloat(1) } });
    const back = parseTask(serializeTask(task));
    expect(back.uid).toBe(task.uid);
    const [r] = back.getPayload("r") as RemoteResource[];
    expect(r).toBeInstanceOf(RemoteResource);
    expect(r!.uid).toBe(res.uid);
    expect(r!.sha256).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(r!.size).toBe(3);
    expect(r!.metadata).toEqual({ k: "v" });
    expect(serializeTask(back)).toBe(serializeTask(task));
  });

  it("reads older document formats with the documented defaults", () => {
    const legacy = JSON.stringify({
      uid: "1b4e28ba-2fa1-4d2e-883f-0016d3cca427",
      root_uid: "1b4e28ba-2fa1-4d2e-883f-0016d3cca427",
      parent_uid: null,
      status: "Spawned",
      headers: { type: "x" },
      payload: {
        r: { __karton_resource__: { uid: "o", name: "n", bucket: "b", metadata: { sha256: "aa" } } },
      },
      payload_persistent: { __headers_persistent: { hp: "1" } },
    });
    const task = parseTask(legacy);
    expect(task.priority).toBe(TaskPriority.Normal);
    expect(task.origUid).toBeNull();
    expect(task.error).toBeNull();
    expect(task.headersPersistent).toEqual({ hp: "1" });
    expect(task.lastUpdate).toBeGreaterThan(Date.now() / 1000 - 5);
    const r = task.getResource("r");
    expect(r.flags).toEqual([]);
    expect(r.size).toBeNull();
    expect(r.sha256).toBe("aa");
  });

  it("a top-level sha256 in a marker wins over metadata, even when null", () => {
    const doc = (sha: string | null) =>
      JSON.stringify({
        uid: "u",
        root_uid: "u",
        parent_uid: null,
        status: "Declared",
        headers: {},
        payload: {
          r: {
            __karton_resource__: {
              uid: "o",
              name: "n",
              bucket: "b",
              metadata: { sha256: "meta" },
              sha256: sha,
            },
          },
        },
        payload_persistent: {},
      });
    expect(parseTask(doc("top")).getResource("r").sha256).toBe("top");
    expect(parseTask(doc(null)).getResource("r").sha256).toBeNull();
  });

  it("leaves markers as plain objects on the fast path", () => {
    const res = LocalResource.fromBytes("f", "x", { bucket: "b" });
    const task = parseTask(serializeTask(new Task({}, { payload: { r: res } })), { decodeResources: false });
    expect(task.getPayload("r")).toEqual({ __karton_resource__: expect.objectContaining({ uid: res.uid }) });
  });

  const base = {
    uid: "{r}:t",
    root_uid: "r",
    parent_uid: null,
    status: "Declared",
    priority: "normal",
    headers: {},
    payload: {},
    payload_persistent: {},
  };
  const cases: [string, unknown, RegExp][] = [
    ["not JSON", "{nope", /task document is not valid JSON/],
    ["not an object", "[1]", /task document is not a JSON object/],
    ["missing uid", { ...base, uid: undefined }, /field "uid" must be a non-empty string/],
    ["missing root_uid", { ...base, root_uid: undefined }, /task \{r\}:t: field "root_uid" must be a string/],
    ["missing parent_uid", { ...base, parent_uid: undefined }, /field "parent_uid" is missing/],
    ["headers not an object", { ...base, headers: [] }, /field "headers" must be an object/],
    ["payload missing", { ...base, payload: undefined }, /field "payload" must be an object/],
    ["unknown status", { ...base, status: "Running" }, /task \{r\}:t: unknown status "Running"/],
    ["unknown priority", { ...base, priority: "urgent" }, /unknown priority "urgent"/],
    ["error not a list", { ...base, error: "boom" }, /field "error" must be a list of strings or null/],
    [
      "bad resource",
      { ...base, payload: { r: { __karton_resource__: { name: "n" } } } },
      /payload.r: resource field "uid"/,
    ],
  ];
  for (const [name, doc, message] of cases) {
    it(`rejects a document with ${name}`, () => {
      const text = typeof doc === "string" ? doc : JSON.stringify(doc);
      expect(() => parseTask(text)).toThrow(message);
      if (name !== "bad resource") expect(() => parseTask(text)).toThrow(InvalidTaskError);
    });
  }
});

import { describe, expect, it } from "vitest";
import type { BindsSnapshot } from "../../src/backend/backend.js";
import type { Bind } from "../../src/bind/bind.js";
import { isJsonObject, type JsonObject, type JsonValue } from "../../src/json/index.js";
import { BindsCompiler, type FilterCompiler, planRoute } from "../../src/system/route.js";
import { serializeTask } from "../../src/task/document.js";
import { TaskPriority, TaskState } from "../../src/task/enums.js";
import { readFixtureJson } from "../helpers/fixtures.js";

/** Test matcher: a rule matches when every key equals the header; `explode` in a rule throws. */
const exactCompiler: FilterCompiler = (filters) => {
  for (const rule of filters) if (Object.hasOwn(rule, "invalid")) throw new Error("bad rule");
  return {
    matches(headers: JsonObject) {
      return filters.some((rule) =>
        Object.entries(rule).every(([key, value]) => {
          if (key === "explode") throw new Error(`cannot evaluate ${String(value)}`);
          return headers[key] === value;
        }),
      );
    },
  };
};

function bind(identity: string, filters: JsonObject[], extra: Partial<Bind> = {}): Bind {
  return {
    identity,
    filters,
    info: null,
    version: "5.9.1",
    persistent: true,
    serviceVersion: null,
    isAsync: false,
    ...extra,
  };
}

function snapshot(binds: Bind[], invalid: BindsSnapshot["invalid"] = []): BindsSnapshot {
  return { binds, invalid };
}

function fixtureRaws(file: string): { label: string; raw: string; key: string }[] {
  const doc = readFixtureJson(file) as JsonObject;
  return (doc.tasks as JsonValue[]).filter(isJsonObject).map((t) => ({
    label: t.label as string,
    raw: t.raw as string,
    key: t.redis_key as string,
  }));
}

const declared = fixtureRaws("tasks/01-declared-unrouted.json")[0] as { raw: string; key: string };
const declaredUid = declared.key.slice("karton.task:".length);
const routed = fixtureRaws("tasks/02-routed-forks.json");

const options = { taskTracking: true, ttl: 2592000 };
const NOW = 1795904801.0430727;

function fixtureBinds() {
  return new BindsCompiler(exactCompiler).compile(
    snapshot([
      bind("fixture.analyzer", [{ type: "sample", kind: "raw" }]),
      bind("fixture.crasher", [{ type: "sample", kind: "raw" }]),
      bind("fixture.reporter", [{ type: "sample", kind: "analyzed" }]),
    ]),
  );
}

describe("planRoute", () => {
  it("forks to every matching bind only, as Python 5.9.1 wrote them", () => {
    const out = planRoute([declaredUid], [declared.raw], fixtureBinds(), options, NOW);
    const { plan } = out;
    expect(plan.taken).toEqual([declaredUid]);
    expect(plan.forks.map((f) => f.identity)).toEqual(["fixture.analyzer", "fixture.crasher"]);
    expect(out.routed).toEqual([{ uid: declaredUid, rootUid: declaredUid.slice(1, 37), forks: 2 }]);
    expect(plan.quarantined).toEqual([]);

    // Forks: byte-identical to the captured ones apart from the fresh uid.
    const expectedFork = routed.find((t) => t.label.includes("fixture.analyzer"))?.raw as string;
    const fork = plan.forks[0]?.task;
    expect(fork).toBeDefined();
    if (!fork) return;
    expect(fork.uid).toMatch(/^\{7c3d496c-c021-4c70-af1e-cac867844440\}:[0-9a-f-]{36}$/);
    expect(fork.uid).not.toBe(declaredUid);
    expect(fork.origUid).toBe(declaredUid);
    expect(fork.parentUid).toBeNull();
    expect(fork.status).toBe(TaskState.Spawned);
    expect(fork.headers.receiver).toBe("fixture.analyzer");
    expect(plan.forks[0]?.priority).toBe(TaskPriority.Normal);
    const capturedForkUid = JSON.parse(expectedFork).uid as string;
    expect(serializeTask(fork).replace(fork.uid, capturedForkUid)).toBe(expectedFork);
    expect(plan.forks[1]?.task.headers.receiver).toBe("fixture.crasher");
    expect(plan.forks[0]?.task.uid).not.toBe(plan.forks[1]?.task.uid);

    // The original: Finished, otherwise unchanged.
    const expectedOriginal = routed.find((t) => t.label.startsWith("original"))?.raw as string;
    const finished = plan.finished[0];
    expect(finished?.status).toBe(TaskState.Finished);
    if (!finished) return;
    finished.lastUpdate = 1795904801.0434039;
    expect(serializeTask(finished)).toBe(expectedOriginal);
    expect(finished.headers.receiver).toBeUndefined();
  });

  it("records the outputs member exactly as Python (unsorted json.dumps with Python separators)", () => {
    const { plan } = planRoute([declaredUid], [declared.raw], fixtureBinds(), options, NOW);
    expect(plan.outputs).toEqual([
      {
        origin: "fixture.producer",
        member:
          '{"campaign": "golden-fixtures", "kind": "raw", "origin": "fixture.producer", "type": "sample"}',
      },
    ]);
    expect(plan.outputsTtl).toBe(2592000);
  });

  it("keeps the stored header order in the outputs member and uses 'unknown' without origin", () => {
    const raw =
      '{"error": null, "headers": {"type": "x", "10": "ten", "9": "nine", "a": "\\u00e9"}, "last_update": 1.0, ' +
      '"orig_uid": null, "parent_uid": null, "payload": {}, "payload_persistent": {}, "priority": "high", ' +
      '"root_uid": "r", "status": "Declared", "uid": "{r}:r"}';
    const compiled = new BindsCompiler(exactCompiler).compile(snapshot([bind("c", [{ type: "x" }])]));
    const { plan } = planRoute(["{r}:r"], [raw], compiled, options, NOW);
    expect(plan.outputs).toEqual([
      { origin: "unknown", member: '{"type": "x", "10": "ten", "9": "nine", "a": "\\u00e9"}' },
    ]);
    expect(plan.forks[0]?.priority).toBe(TaskPriority.High);
    expect(plan.forks[0]?.task.priority).toBe(TaskPriority.High);
  });

  it("adds no outputs when task tracking is off", () => {
    const { plan } = planRoute(
      [declaredUid],
      [declared.raw],
      fixtureBinds(),
      { taskTracking: false, ttl: 5 },
      NOW,
    );
    expect(plan.outputs).toEqual([]);
    expect(plan.outputsTtl).toBeNull();
    expect(plan.forks).toHaveLength(2);
  });

  it("finishes a task that matches no bind", () => {
    const compiled = new BindsCompiler(exactCompiler).compile(snapshot([bind("c", [{ type: "other" }])]));
    const out = planRoute([declaredUid], [declared.raw], compiled, options, NOW);
    expect(out.plan.forks).toEqual([]);
    expect(out.plan.finished.map((t) => t.status)).toEqual([TaskState.Finished]);
    expect(out.plan.outputs).toHaveLength(1);
  });

  it("quarantines unreadable documents and routes the others of the batch", () => {
    const uids = ["{x}:bad-json", declaredUid, "{x}:bad-status", "{x}:gone"];
    const raws = [
      "{not json",
      declared.raw,
      declared.raw.replace('"status": "Declared"', '"status": "Weird"'),
      null,
    ];
    const out = planRoute(uids, raws, fixtureBinds(), { ...options, reporter: "karton.system" }, NOW);
    expect(out.plan.taken).toEqual(uids);
    expect(out.plan.forks).toHaveLength(2);
    expect(out.plan.finished.map((t) => t.uid)).toEqual([declaredUid]);
    expect(out.missing).toEqual(["{x}:gone"]);
    expect(out.plan.quarantined).toHaveLength(2);
    const [first, second] = out.plan.quarantined;
    expect(first).toMatchObject({ subject: "{x}:bad-json", kind: "task", raw: "{not json", at: NOW });
    expect(first?.reason).toContain("{x}:bad-json");
    expect(first?.reason).toMatch(/JSON/);
    expect(second?.subject).toBe("{x}:bad-status");
    expect(second?.reason).toContain("Weird");
    expect(second?.reporter).toBe("karton.system");
  });

  it("treats a bind whose filters fail to evaluate as no match, and reports it", () => {
    const compiled = new BindsCompiler(exactCompiler).compile(
      snapshot([
        bind("broken", [{ explode: "boom" }]),
        bind("fixture.analyzer", [{ type: "sample", kind: "raw" }]),
      ]),
    );
    const out = planRoute([declaredUid], [declared.raw], compiled, options, NOW);
    expect(out.plan.forks.map((f) => f.identity)).toEqual(["fixture.analyzer"]);
    expect(out.bindErrors).toHaveLength(1);
    expect(out.bindErrors[0]).toMatchObject({ identity: "broken", uid: declaredUid });
  });

  it("skips invalid binds (unreadable values, invalid filters) and routes to the others", () => {
    const compiled = new BindsCompiler(exactCompiler).compile(
      snapshot(
        [bind("bad-filters", [{ invalid: true }]), bind("fixture.crasher", [{ type: "sample" }])],
        [{ identity: "unreadable", raw: "{oops", reason: "value is not JSON" }],
      ),
    );
    expect(compiled.invalid.map((i) => i.identity)).toEqual(["bad-filters", "unreadable"]);
    expect(compiled.invalid[0]?.reason).toContain("invalid filters: bad rule");
    const out = planRoute([declaredUid], [declared.raw], compiled, options, NOW);
    expect(out.plan.forks.map((f) => f.identity)).toEqual(["fixture.crasher"]);
  });

  it("does not share headers between forks and the original", () => {
    const { plan } = planRoute([declaredUid], [declared.raw], fixtureBinds(), options, NOW);
    const [a, b] = plan.forks;
    expect(a?.task.headers).not.toBe(b?.task.headers);
    expect(a?.task.headers.receiver).toBe("fixture.analyzer");
    expect(b?.task.headers.receiver).toBe("fixture.crasher");
  });
});

describe("BindsCompiler", () => {
  it("compiles each distinct bind once and reuses an unchanged snapshot", () => {
    let calls = 0;
    const counting: FilterCompiler = (filters) => {
      calls++;
      return exactCompiler(filters);
    };
    const compiler = new BindsCompiler(counting);
    const a = bind("a", [{ type: "x" }]);
    const b = bind("b", [{ type: "y" }]);
    const first = compiler.compile(snapshot([a, b]));
    expect(calls).toBe(2);
    expect(compiler.compile(snapshot([{ ...a }, { ...b }]))).toBe(first);
    expect(calls).toBe(2);
    // b changes: only b is compiled again.
    const second = compiler.compile(snapshot([a, bind("b", [{ type: "z" }])]));
    expect(calls).toBe(3);
    expect(second.binds[0]?.matcher).toBe(first.binds[0]?.matcher);
  });

  it("reports each invalid bind value once, and again after it was fixed and broken again", () => {
    const compiler = new BindsCompiler(exactCompiler);
    const broken = { identity: "u", raw: "{", reason: "not JSON" };
    expect(compiler.compile(snapshot([], [broken])).newlyInvalid).toHaveLength(1);
    expect(compiler.compile(snapshot([], [broken])).newlyInvalid).toHaveLength(0);
    expect(compiler.compile(snapshot([bind("x", [])], [broken])).newlyInvalid).toHaveLength(0);
    expect(compiler.compile(snapshot([], [{ ...broken, raw: "{{" }])).newlyInvalid).toHaveLength(1);
    compiler.compile(snapshot([], []));
    expect(compiler.compile(snapshot([], [broken])).newlyInvalid).toHaveLength(1);
  });

  it("handed the very same snapshot again, returns the previous result without reporting again", () => {
    const compiler = new BindsCompiler(exactCompiler);
    const same = snapshot([bind("a", [{ type: "x" }])], [{ identity: "u", raw: "{", reason: "not JSON" }]);
    const first = compiler.compile(same);
    expect(first.newlyInvalid).toHaveLength(1);
    const again = compiler.compile(same);
    expect(again.binds).toBe(first.binds);
    expect(again.newlyInvalid).toHaveLength(0);
    // A different snapshot is looked at, not taken for the held one.
    expect(compiler.compile(snapshot([bind("b", [{ type: "y" }])])).binds.map((c) => c.identity)).toEqual([
      "b",
    ]);
  });
});

describe("planRoute with the real filter engine and the Python fixture binds", () => {
  it("forks exactly where Python's matcher matched (binds/filter-matches.json)", async () => {
    const { compileFilters } = await import("../../src/filters/index.js");
    const { parseBind } = await import("../../src/bind/bind.js");
    const { Task } = await import("../../src/task/task.js");
    const bindsDoc = readFixtureJson("binds/binds.json") as JsonObject;
    const binds = (bindsDoc.binds as JsonObject[]).map((b) =>
      parseBind(b.hash_field as string, b.raw as string),
    );
    const compiled = new BindsCompiler(
      (filters) => compileFilters(filters, { validate: false }),
      (filters) => {
        compileFilters(filters);
      },
    ).compile(snapshot(binds));
    expect(compiled.binds).toHaveLength(binds.length);
    const probes = (readFixtureJson("binds/filter-matches.json") as JsonObject).probes as JsonObject[];
    expect(probes.length).toBeGreaterThan(10);
    const uids: string[] = [];
    const raws: string[] = [];
    for (const probe of probes) {
      const task = new Task(probe.headers as JsonObject);
      uids.push(task.uid);
      raws.push(serializeTask(task));
    }
    const out = planRoute(uids, raws, compiled, options, NOW);
    probes.forEach((probe, i) => {
      const expected = Object.entries(probe.matches as JsonObject)
        .filter(([, v]) => v === true)
        .map(([k]) => k)
        .sort();
      const actual = out.plan.forks
        .filter((f) => f.task.origUid === uids[i])
        .map((f) => f.identity)
        .sort();
      expect(actual, JSON.stringify(probe.headers)).toEqual(expected);
    });
    expect(out.bindErrors).toEqual([]);
  });

  it("reports binds failing strict validation but still routes to them (lenient evaluation, as Python)", async () => {
    const { compileFilters } = await import("../../src/filters/index.js");
    const compiled = new BindsCompiler(
      (filters) => compileFilters(filters, { validate: false }),
      (filters) => {
        compileFilters(filters);
      },
    ).compile(
      snapshot([
        bind("odd", [{ type: "sample" }, { type: "x", size: { $bogus: 1 } }]),
        bind("fine", [{ type: "sample" }]),
      ]),
    );
    expect(compiled.binds.map((b) => b.identity)).toEqual(["odd", "fine"]);
    expect(compiled.newlyInvalid.map((b) => [b.identity, b.skipped])).toEqual([["odd", false]]);
    const out = planRoute([declaredUid], [declared.raw], compiled, options, NOW);
    // Rule 0 matches; whether rule 1's bogus operator is evaluated follows the engine's Python order.
    expect(out.plan.forks.map((f) => f.identity)).toContain("fine");
  });
});

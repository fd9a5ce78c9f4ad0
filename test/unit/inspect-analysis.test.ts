/**
 * Analysis trees: the Python fixture life cycle (forks under their original, the `{C}:C` child
 * found outside the tree prefix, its fork under it), restarted forks, legacy uids, orphans, cycles.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/backend/memory/local-object-store.js";
import { MemoryBackend } from "../../src/backend/memory/memory-backend.js";
import { MemoryStore } from "../../src/backend/memory/memory-store.js";
import {
  type AnalysisTree,
  buildAnalysisTree,
  loadAnalysis,
  restartTask,
  walkAnalysis,
} from "../../src/inspect/index.js";
import type { JsonObject } from "../../src/json/index.js";
import { TaskState } from "../../src/task/enums.js";
import { Task } from "../../src/task/task.js";
import { readFixtureJson } from "../helpers/fixtures.js";

const ROOT = "7c3d496c-c021-4c70-af1e-cac867844440";
const ORIGINAL = `{${ROOT}}:${ROOT}`;
const ANALYZER = `{${ROOT}}:ac46b008-8e71-49d2-9fbe-54ac4e4e1192`;
const CRASHED = `{${ROOT}}:4b966dde-58da-4650-9eb6-6d66743e12b0`;
const CHILD = "{31a2fedd-071e-4b21-b654-5769891c7b05}:31a2fedd-071e-4b21-b654-5769891c7b05";
const REPORTER = `{${ROOT}}:d60d0bbd-2aef-44fc-b5b8-65861617a884`;

const objects = LocalObjectStore.temporary("karton-inspect-");
afterAll(async () => {
  await objects.dispose();
});
const opened: MemoryBackend[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((b) => b.close()));
});

function setup(): { store: MemoryStore; backend: MemoryBackend } {
  const store = new MemoryStore(`inspect-${randomUUID()}`);
  const backend = new MemoryBackend({ store, objects });
  opened.push(backend);
  return { store, backend };
}

function loadFixtureTasks(store: MemoryStore, files: string[]): void {
  for (const file of files) {
    const fixture = readFixtureJson(`tasks/${file}.json`) as JsonObject;
    for (const entry of fixture.tasks as JsonObject[])
      store.set(entry.redis_key as string, entry.raw as string);
  }
}

/** `uid(link)` lines indented by depth. */
function shape(tree: AnalysisTree): string[] {
  return [...walkAnalysis(tree)].map(
    ({ node, depth }) => `${"  ".repeat(depth)}${node.task.uid} ${node.link}`,
  );
}

describe("loadAnalysis", () => {
  it("links the Python fixture tree, fetching the child stored outside the tree prefix", async () => {
    const { store, backend } = setup();
    loadFixtureTasks(store, ["02-routed-forks", "04-finished", "05-crashed", "06-child-task"]);
    const tree = await loadAnalysis(backend, ROOT);
    expect(tree.fetched).toEqual([CHILD]);
    expect(tree.tasks).toHaveLength(5);
    expect(shape(tree)).toEqual([
      `${ORIGINAL} root`,
      `  ${ANALYZER} fork`,
      `    ${CHILD} child`,
      `      ${REPORTER} fork`,
      `  ${CRASHED} fork`,
    ]);
    expect(tree.nodes.get(REPORTER)?.parentUid).toBe(CHILD);
  });

  it("without extra look-ups the reporter fork hangs under the analyzer by parent_uid", async () => {
    const { store, backend } = setup();
    loadFixtureTasks(store, ["02-routed-forks", "04-finished", "05-crashed", "06-child-task"]);
    const tree = await loadAnalysis(backend, ROOT, { maxExtraLookups: 0 });
    expect(tree.fetched).toEqual([]);
    expect(tree.nodes.get(REPORTER)?.link).toBe("child");
    expect(tree.nodes.get(REPORTER)?.parentUid).toBe(ANALYZER);
  });

  it("puts a restarted fork next to the one it replaces", async () => {
    const { store, backend } = setup();
    loadFixtureTasks(store, ["02-routed-forks", "05-crashed"]);
    const restarted = await restartTask(backend, CRASHED);
    const tree = await loadAnalysis(backend, ROOT);
    expect(tree.nodes.get(restarted.newUid)?.parentUid).toBe(ORIGINAL);
    expect(tree.nodes.get(restarted.newUid)?.task.status).toBe(TaskState.Spawned);
    expect(tree.nodes.get(CRASHED)?.task.status).toBe(TaskState.Finished);
    expect(tree.roots.map((n) => n.task.uid)).toEqual([ORIGINAL]);
  });

  it("includes legacy bare-uid documents of the root and unreadable ones of the tree", async () => {
    const { store, backend } = setup();
    const root = randomUUID();
    const legacy = new Task({ type: "old" }, { uid: randomUUID(), rootUid: root, lastUpdate: 5 });
    const other = new Task({ type: "other" }, { uid: randomUUID(), rootUid: randomUUID() });
    await backend.saveTasks([legacy, other]);
    store.set(`karton.task:{${root}}:broken`, "[1, 2");
    const tree = await loadAnalysis(backend, root);
    expect(tree.tasks.map((t) => t.uid)).toEqual([legacy.uid]);
    expect(tree.unparsable.map((u) => u.uid)).toEqual([`{${root}}:broken`]);
    expect((await loadAnalysis(backend, randomUUID())).tasks).toEqual([]);
  });
});

describe("buildAnalysisTree", () => {
  const task = (uid: string, links: { orig?: string; parent?: string }, lastUpdate = 1) =>
    new Task(
      { type: "t" },
      { uid, rootUid: "R", origUid: links.orig ?? null, parentUid: links.parent ?? null, lastUpdate },
    );

  it("marks tasks whose parent is missing as orphans, after the real roots", () => {
    const tree = buildAnalysisTree("R", [
      task("lost", { orig: "nowhere" }, 0),
      task("root", {}, 2),
      task("fork", { orig: "root" }, 3),
    ]);
    expect(tree.roots.map((n) => [n.task.uid, n.link])).toEqual([
      ["root", "root"],
      ["lost", "orphan"],
    ]);
    expect(tree.nodes.get("fork")?.link).toBe("fork");
  });

  it("orders children by last_update and breaks link cycles", () => {
    const tree = buildAnalysisTree("R", [
      task("root", {}),
      task("b", { orig: "root" }, 9),
      task("a", { orig: "root" }, 4),
      task("x", { orig: "y" }),
      task("y", { parent: "x" }),
      task("self", { orig: "self" }),
    ]);
    expect(tree.nodes.get("root")?.children.map((n) => n.task.uid)).toEqual(["a", "b"]);
    const visited = [...walkAnalysis(tree)].map(({ node }) => node.task.uid);
    expect(visited.sort()).toEqual(["a", "b", "root", "self", "x", "y"]);
    expect(tree.nodes.get("self")?.link).toBe("orphan");
  });
});

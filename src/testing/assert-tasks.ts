/**
 * `assertTasksEqual`: Python's `KartonTestCase.assertTasksEqual` (wire-protocol spec §13), as a
 * framework-agnostic async assertion: it throws a `node:assert` `AssertionError` (understood by
 * vitest, jest, node:test, mocha...) listing every difference, with `actual`/`expected` set to a
 * flattened view of the tasks so that test runners can show a diff.
 *
 * Compared, pairwise in order, after checking both lists have the same length:
 * - headers, as whole objects (Python equality of values): expected tasks must contain
 *   `origin: <identity>` and any inherited persistent header;
 * - payload and persistent payload, flattened to leaves with paths `payload.<key>[.<index or
 *   key>…]` / `payload_persistent.<key>…` (objects and arrays are descended; empty ones yield no
 *   leaf): the path sets must be equal; plain leaves are compared with Python equality; resource
 *   leaves only by the SHA-256 of their content, computed from the bytes.
 *
 * Not compared: uids (own, root, parent, orig), status, priority, last_update, error, which headers
 * are persistent, resource names, metadata, buckets and uids.
 */
import { AssertionError } from "node:assert";
import { createHash } from "node:crypto";
import { pySameOrEquals } from "../filters/python-values.js";
import { stringify } from "../json/stringify.js";
import { isJsonObject } from "../json/values.js";
import { ResourceBase } from "../resource/resource-base.js";
import type { Payload, PayloadValue, Task } from "../task/task.js";

/** A payload leaf: a plain value, or a resource (`{ resource: sha256 }` once hashed). */
export type FlatLeaf = { kind: "value"; value: unknown } | { kind: "resource"; sha256: string; name: string };

/** Flattened payload: path → leaf, in walk order. */
export type FlatPayload = Map<string, FlatLeaf>;

/** SHA-256 (hex) of a resource's content, read from its bytes (never from the stored hash). */
export async function contentSha256(resource: ResourceBase): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of await resource.openStream()) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Flattens one payload bag to leaves (spec §13): `<prefix>.<key>[.<index or key>…]`; objects and
 * arrays are descended, empty ones yield nothing; resources are leaves, hashed from their content.
 */
export async function flattenPayload(bag: Payload, prefix: string): Promise<FlatPayload> {
  const out: FlatPayload = new Map();
  const walk = async (value: PayloadValue, path: string): Promise<void> => {
    if (value instanceof ResourceBase) {
      out.set(path, { kind: "resource", sha256: await contentSha256(value), name: value.name });
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) await walk(value[i] as PayloadValue, `${path}.${i}`);
    } else if (isJsonObject(value)) {
      for (const [key, item] of Object.entries(value as Record<string, PayloadValue>)) {
        await walk(item, `${path}.${key}`);
      }
    } else {
      out.set(path, { kind: "value", value });
    }
  };
  for (const [key, value] of Object.entries(bag)) await walk(value, `${prefix}.${key}`);
  return out;
}

/** What the assertion compares of one task, for display. */
export interface FlatTask {
  headers: Record<string, unknown>;
  /** Leaves of both payloads; resources shown as `<resource sha256:…>`. */
  payload: Record<string, unknown>;
}

function showLeaf(leaf: FlatLeaf): unknown {
  return leaf.kind === "resource" ? `<resource sha256:${leaf.sha256}>` : leaf.value;
}

function text(value: unknown): string {
  if (value === undefined) return "undefined";
  try {
    return stringify(value, { sortKeys: false });
  } catch {
    return String(value);
  }
}

async function flatten(task: Task): Promise<{ view: FlatTask; leaves: FlatPayload }> {
  const leaves = new Map([
    ...(await flattenPayload(task.payload, "payload")),
    ...(await flattenPayload(task.payloadPersistent, "payload_persistent")),
  ]);
  const payload: Record<string, unknown> = {};
  for (const [path, leaf] of leaves) payload[path] = showLeaf(leaf);
  return { view: { headers: { ...task.headers }, payload }, leaves };
}

function headerDifferences(actual: Record<string, unknown>, expected: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(expected)) {
    if (!Object.hasOwn(actual, key)) out.push(`header "${key}" is missing (expected ${text(expected[key])})`);
    else if (!pySameOrEquals(actual[key], expected[key])) {
      out.push(`header "${key}" is ${text(actual[key])}, expected ${text(expected[key])}`);
    }
  }
  for (const key of Object.keys(actual)) {
    if (!Object.hasOwn(expected, key)) out.push(`unexpected header "${key}" = ${text(actual[key])}`);
  }
  return out;
}

function leafDifferences(actual: FlatPayload, expected: FlatPayload): string[] {
  const out: string[] = [];
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (got === undefined) {
      out.push(`${path} is missing (expected ${text(showLeaf(want))})`);
    } else if (want.kind === "resource" && got.kind === "resource") {
      if (want.sha256 !== got.sha256) {
        out.push(
          `${path}: resource content differs (sha256 ${got.sha256.slice(0, 16)}…, expected ${want.sha256.slice(0, 16)}…)`,
        );
      }
    } else if (want.kind !== got.kind) {
      out.push(`${path} is ${text(showLeaf(got))}, expected ${text(showLeaf(want))}`);
    } else if (want.kind === "value" && got.kind === "value" && !pySameOrEquals(got.value, want.value)) {
      out.push(`${path} is ${text(got.value)}, expected ${text(want.value)}`);
    }
  }
  for (const [path, got] of actual) {
    if (!expected.has(path)) out.push(`unexpected ${path} = ${text(showLeaf(got))}`);
  }
  return out;
}

/** The differences between two tasks (empty when equal for {@link assertTasksEqual}). */
export async function taskDifferences(actual: Task, expected: Task): Promise<string[]> {
  const a = await flatten(actual);
  const e = await flatten(expected);
  return [...headerDifferences(a.view.headers, e.view.headers), ...leafDifferences(a.leaves, e.leaves)];
}

/**
 * Asserts that `actual` (usually what {@link runTask} returned) matches `expected` (see the module
 * documentation for what is compared). Resolves when they match; rejects with an `AssertionError`
 * listing every difference otherwise.
 */
export async function assertTasksEqual(
  actual: readonly Task[],
  expected: readonly Task[],
  message?: string,
): Promise<void> {
  const problems: string[] = [];
  if (actual.length !== expected.length) {
    problems.push(`expected ${expected.length} task(s), got ${actual.length}`);
  }
  const actualViews: FlatTask[] = [];
  const expectedViews: FlatTask[] = [];
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i] ? await flatten(actual[i] as Task) : undefined;
    const e = expected[i] ? await flatten(expected[i] as Task) : undefined;
    if (a) actualViews.push(a.view);
    if (e) expectedViews.push(e.view);
    if (a && e) {
      const diffs = [
        ...headerDifferences(a.view.headers, e.view.headers),
        ...leafDifferences(a.leaves, e.leaves),
      ];
      for (const diff of diffs) problems.push(`task #${i}: ${diff}`);
    } else if (a) {
      problems.push(`task #${i} is unexpected: headers ${text(a.view.headers)}`);
    } else if (e) {
      problems.push(`task #${i} is missing: expected headers ${text(e.view.headers)}`);
    }
  }
  if (problems.length === 0) return;
  const head = message ? `${message}: tasks differ` : "Tasks differ";
  throw new AssertionError({
    message: `${head}:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    actual: actualViews,
    expected: expectedViews,
    operator: "assertTasksEqual",
  });
}

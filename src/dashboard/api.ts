/**
 * JSON shapes of the API. Where Python's dashboard has the same route, the same keys come first
 * (`/api/queues`, `/api/queue/<name>`, `/api/task/<uid>`, `/api/analysis/<root>`); karton-ts adds
 * more. Task documents keep Python's JSON dialect (exact big integers, `1.0`, `NaN`), as stored.
 */
import type { AnalysisTree, KartonQueue } from "../inspect/index.js";
import { receiverOf } from "../inspect/index.js";
import { stringify } from "../json/index.js";
import { taskToDocument } from "../task/document.js";
import type { Task } from "../task/task.js";
import { lastErrorLine } from "./format.js";
import type { KartonGraph } from "./graph.js";
import { totals } from "./pages/queues.js";
import type { Page } from "./paginate.js";
import type { TaskResource } from "./resources.js";
import type { DashboardSnapshot } from "./snapshot.js";

/** Serialises an API value with the lossless JSON writer (keys in insertion order). */
export function apiJson(value: unknown): string {
  return stringify(value, { sortKeys: false });
}

/** Python's `QueueView.to_dict()` keys, then karton-ts extras. Uid lists are newest first. */
export function queueJson(queue: KartonQueue): Record<string, unknown> {
  const newestFirst = (tasks: readonly Task[]) => [...tasks].reverse().map((t) => t.uid);
  return {
    identity: queue.identity,
    filters: queue.bind?.filters ?? null,
    description: queue.bind?.info ?? null,
    persistent: queue.bind?.persistent ?? null,
    version: queue.bind?.version ?? null,
    replicas: queue.replicas,
    service_version: queue.bind?.serviceVersion ?? null,
    tasks: newestFirst(queue.pendingTasks),
    crashed: newestFirst(queue.crashedTasks),
    is_async: queue.bind?.isAsync ?? null,
    pending_count: queue.pendingTasks.length,
    crashed_count: queue.crashedTasks.length,
    last_update: queue.lastUpdate,
    lengths: queue.lengths,
    bound: queue.bind !== null,
    invalid_bind: queue.invalidBind ? queue.invalidBind.reason : null,
  };
}

/** A task in lists: ids, status, headers, last error line. */
export function taskSummaryJson(task: Task): Record<string, unknown> {
  return {
    uid: task.uid,
    root_uid: task.rootUid,
    parent_uid: task.parentUid,
    orig_uid: task.origUid,
    status: task.status,
    priority: task.priority,
    last_update: task.lastUpdate,
    receiver: receiverOf(task),
    headers: task.headers,
    error: lastErrorLine(task.error) || null,
  };
}

export function pageJson(page: Page<Task>): Record<string, unknown> {
  return {
    page: page.page,
    pages: page.pages,
    total: page.total,
    items: page.items.map(taskSummaryJson),
  };
}

/** The stored document (Python: `json.loads(task.serialize())`). */
export function taskJson(task: Task): Record<string, unknown> {
  return taskToDocument(task);
}

export function resourcesJson(resources: readonly TaskResource[]): Record<string, unknown>[] {
  return resources.map((r) => ({ ...r }));
}

/** Python's `AnalysisView` keys (`uid`, `queues`: receiver → task documents), then status counts. */
export function analysisJson(tree: AnalysisTree): Record<string, unknown> {
  const queues: Record<string, unknown[]> = {};
  const unrouted: unknown[] = [];
  const statuses: Record<string, number> = {};
  for (const task of tree.tasks) {
    const receiver = receiverOf(task);
    if (receiver === null) unrouted.push(taskJson(task));
    else {
      queues[receiver] ??= [];
      queues[receiver].push(taskJson(task));
    }
    statuses[task.status] = (statuses[task.status] ?? 0) + 1;
  }
  return {
    uid: tree.rootUid,
    queues,
    unrouted,
    statuses,
    unparsable: tree.unparsable.map((u) => ({ uid: u.uid, reason: u.reason })),
  };
}

export function servicesJson(snapshot: DashboardSnapshot): Record<string, unknown>[] {
  return snapshot.state.services.map((s) => ({
    identity: s.identity,
    karton_version: s.kartonVersion,
    service_version: s.serviceVersion,
    count: s.count,
  }));
}

export function graphJson(graph: KartonGraph): Record<string, unknown> {
  return {
    nodes: graph.nodes.map((n) => ({
      identity: n.identity,
      consumer: n.consumer,
      producer: n.producer,
      version: n.version,
      service_version: n.serviceVersion,
      replicas: n.replicas,
    })),
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, matches: e.matches, example: e.example })),
  };
}

/** What the pages' live refresh polls. */
export function summaryJson(snapshot: DashboardSnapshot, loadedAtMs: number): Record<string, unknown> {
  const queues: Record<string, unknown> = {};
  for (const map of [snapshot.state.queues, snapshot.state.unboundQueues]) {
    for (const queue of map.values()) {
      queues[queue.identity] = {
        pending: queue.pendingTasks.length,
        crashed: queue.crashedTasks.length,
        replicas: queue.replicas,
        last_update: queue.lastUpdate,
      };
    }
  }
  return { loaded_at: loadedAtMs / 1000, totals: { ...totals(snapshot) }, queues };
}

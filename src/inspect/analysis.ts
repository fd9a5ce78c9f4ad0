/**
 * One analysis (task tree) as a tree: every stored task of a `root_uid`, linked by `orig_uid`
 * (fork → the unrouted task it was forked from) and `parent_uid` (child → the routed task that
 * sent it).
 *
 * Cost of {@link loadAnalysis}: the backend's tree scan (`SCAN MATCH karton.task:{<root>}:*` plus
 * the legacy bare-uid keys, spec §12 `get_analysis`), then at most a few `MGET`s for tasks that are
 * referenced but stored outside the tree prefix (Python names a child sent from a consumer
 * `{C}:C`, spec §2.3, so it is not under `{<root>}:`).
 */
import type { KartonBackend } from "../backend/backend.js";
import type { Task } from "../task/task.js";
import {
  byLastUpdate,
  type ParsedTasks,
  parseRawTasks,
  parseStoredTask,
  type UnparsableTask,
} from "./tasks.js";

/** How a node hangs in the tree. */
export type AnalysisLink =
  /** No `orig_uid` and no `parent_uid`: a producer-made task (the analysis root). */
  | "root"
  /** Hangs under its `orig_uid`: a fork (routed copy) of that unrouted task. */
  | "fork"
  /** Hangs under its `parent_uid`: sent by that routed task while processing it. */
  | "child"
  /** Its `orig_uid`/`parent_uid` task is not stored (or the links form a cycle): shown at top level. */
  | "orphan";

export interface AnalysisNode {
  task: Task;
  link: AnalysisLink;
  /** Uid of the node it hangs under (null for "root" and "orphan"). */
  parentUid: string | null;
  /** Oldest first (`last_update`, then uid). */
  children: AnalysisNode[];
}

export interface AnalysisTree {
  rootUid: string;
  /** Every parsed task of the tree. */
  tasks: Task[];
  /** Documents of the tree that could not be parsed. */
  unparsable: UnparsableTask[];
  /** Top-level nodes: the root task(s) and orphans, oldest first. */
  roots: AnalysisNode[];
  nodes: Map<string, AnalysisNode>;
  /** Uids that were found outside the tree prefix by following `orig_uid`/`parent_uid`. */
  fetched: string[];
}

/** Options of {@link loadAnalysis}. */
export interface LoadAnalysisOptions {
  /** Most documents fetched outside the tree prefix (default 1000; 0 disables the look-ups). */
  maxExtraLookups?: number;
}

/**
 * Loads the analysis `rootUid`: the tree scan, plus referenced tasks of the same root stored under
 * another prefix. An unknown root gives a tree without tasks.
 */
export async function loadAnalysis(
  backend: KartonBackend,
  rootUid: string,
  options: LoadAnalysisOptions = {},
): Promise<AnalysisTree> {
  const parsed: ParsedTasks = { tasks: [], unparsable: [] };
  for await (const chunk of backend.scanTasks({ rootUid })) parseRawTasks(chunk, parsed);
  const known = new Set([...parsed.tasks.map((t) => t.uid), ...parsed.unparsable.map((t) => t.uid)]);
  const fetched: string[] = [];
  let budget = options.maxExtraLookups ?? 1000;
  let frontier = parsed.tasks;
  while (budget > 0 && frontier.length > 0) {
    const wanted = new Set<string>();
    for (const task of frontier) {
      for (const uid of [task.origUid, task.parentUid]) {
        if (uid !== null && !known.has(uid) && wanted.size < budget) wanted.add(uid);
      }
    }
    if (wanted.size === 0) break;
    const uids = [...wanted];
    budget -= uids.length;
    for (const uid of uids) known.add(uid);
    const raws = await backend.getRawTasks(uids);
    const found: Task[] = [];
    uids.forEach((uid, i) => {
      const raw = raws[i];
      if (raw === null || raw === undefined) return;
      const task = parseStoredTask(uid, raw);
      // Only tasks of this analysis (never infer the root from the uid, spec §2.3).
      if ("reason" in task || task.rootUid !== rootUid) return;
      found.push(task);
      fetched.push(uid);
    });
    parsed.tasks.push(...found);
    frontier = found;
  }
  return { ...buildAnalysisTree(rootUid, parsed.tasks, parsed.unparsable), fetched };
}

/** Links tasks into a tree (pure; see {@link AnalysisLink} for the rules). */
export function buildAnalysisTree(
  rootUid: string,
  tasks: readonly Task[],
  unparsable: readonly UnparsableTask[] = [],
): AnalysisTree {
  const nodes = new Map<string, AnalysisNode>();
  for (const task of tasks) {
    if (!nodes.has(task.uid)) nodes.set(task.uid, { task, link: "root", parentUid: null, children: [] });
  }
  for (const node of nodes.values()) {
    const { origUid, parentUid } = node.task;
    if (origUid !== null && origUid !== node.task.uid && nodes.has(origUid)) {
      node.link = "fork";
      node.parentUid = origUid;
    } else if (parentUid !== null && parentUid !== node.task.uid && nodes.has(parentUid)) {
      node.link = "child";
      node.parentUid = parentUid;
    } else {
      node.link = origUid === null && parentUid === null ? "root" : "orphan";
    }
  }
  // Corrupt links may form cycles: cut each cycle at the node where it is detected.
  for (const node of nodes.values()) {
    const path = new Set<string>([node.task.uid]);
    let up = node.parentUid;
    while (up !== null) {
      if (path.has(up)) {
        node.link = "orphan";
        node.parentUid = null;
        break;
      }
      path.add(up);
      up = nodes.get(up)?.parentUid ?? null;
    }
  }
  const roots: AnalysisNode[] = [];
  for (const node of nodes.values()) {
    if (node.parentUid === null) roots.push(node);
    else nodes.get(node.parentUid)?.children.push(node);
  }
  const order = (a: AnalysisNode, b: AnalysisNode) => byLastUpdate(a.task, b.task);
  for (const node of nodes.values()) node.children.sort(order);
  roots.sort((a, b) => rootRank(a) - rootRank(b) || order(a, b));
  return {
    rootUid,
    tasks: [...nodes.values()].map((n) => n.task),
    unparsable: [...unparsable],
    roots,
    nodes,
    fetched: [],
  };
}

/** Real roots before orphans. */
function rootRank(node: AnalysisNode): number {
  return node.link === "root" ? 0 : 1;
}

/** Depth-first walk (node before its children) with the depth of each node. */
export function* walkAnalysis(
  tree: AnalysisTree,
): Generator<{ node: AnalysisNode; depth: number; last: boolean[] }> {
  function* visit(
    node: AnalysisNode,
    depth: number,
    last: boolean[],
  ): Generator<{ node: AnalysisNode; depth: number; last: boolean[] }> {
    yield { node, depth, last };
    for (let i = 0; i < node.children.length; i++) {
      yield* visit(node.children[i] as AnalysisNode, depth + 1, [...last, i === node.children.length - 1]);
    }
  }
  for (let i = 0; i < tree.roots.length; i++) {
    yield* visit(tree.roots[i] as AnalysisNode, 0, [i === tree.roots.length - 1]);
  }
}

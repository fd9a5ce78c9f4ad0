/**
 * An analysis (the task tree of one `root_uid`) read back from a backend, as a tree of nodes for
 * test assertions and debugging output. Works on any backend (embedded, Redis + S3).
 *
 * Tree shape: a task that went through routing (no `receiver`) has its forks as children (one per
 * consumer, `orig_uid` = its uid); a fork (`receiver` set) has as children the tasks its consumer
 * sent while processing it (`parent_uid` = the fork's uid).
 */
import type { KartonBackend } from "../backend/backend.js";
import { stringify } from "../json/stringify.js";
import { isJsonObject } from "../json/values.js";
import { ResourceBase } from "../resource/resource-base.js";
import { parseTask } from "../task/document.js";
import { TaskState } from "../task/enums.js";
import type { Headers, Payload, Task } from "../task/task.js";

/** One task of an analysis. */
export interface AnalysisNode {
  uid: string;
  rootUid: string;
  parentUid: string | null;
  origUid: string | null;
  status: TaskState;
  priority: string;
  /** `headers.receiver`: the consumer of a fork; null for a task as sent (before routing). */
  receiver: string | null;
  /** `headers.origin`: who sent the task (forks keep the origin of the task they copy). */
  origin: string | null;
  headers: Headers;
  headersPersistent: Headers;
  /** Payload; resources are remote resources bound to the backend's object store (readable). */
  payload: Payload;
  payloadPersistent: Payload;
  /** Traceback lines of a crash, else null. */
  error: string[] | null;
  /** The last traceback line without its newline (`"Error: boom"`), else null. */
  errorMessage: string | null;
  lastUpdate: number;
  children: AnalysisNode[];
  /** The parsed task. */
  task: Task;
}

/** A document of the tree that could not be parsed. */
export interface UnreadableTask {
  uid: string;
  error: string;
}

const FINAL: ReadonlySet<string> = new Set([TaskState.Finished, TaskState.Crashed]);

/** True for Finished and Crashed tasks. */
export function isFinalStatus(status: string): boolean {
  return FINAL.has(status);
}

/** The root uid of `{R}:uuid` style uids, or the argument itself. */
export function rootUidOf(uidOrRoot: string): string {
  const match = /^\{([^}]*)\}:/.exec(uidOrRoot);
  return match ? (match[1] as string) : uidOrRoot;
}

function node(task: Task): AnalysisNode {
  const receiver = task.headers.receiver;
  const origin = task.headers.origin;
  const last = task.error?.[task.error.length - 1];
  return {
    uid: task.uid,
    rootUid: task.rootUid,
    parentUid: task.parentUid,
    origUid: task.origUid,
    status: task.status,
    priority: task.priority,
    receiver: typeof receiver === "string" ? receiver : null,
    origin: typeof origin === "string" ? origin : null,
    headers: task.headers,
    headersPersistent: task.headersPersistent,
    payload: task.payload,
    payloadPersistent: task.payloadPersistent,
    error: task.error,
    errorMessage: last === undefined ? null : last.replace(/\n$/, ""),
    lastUpdate: task.lastUpdate,
    children: [],
    task,
  };
}

function sortKey(n: AnalysisNode): string {
  return `${n.receiver ?? ""}\u0000${stringify(n.headers)}\u0000${n.uid}`;
}

/** True when every `[key, value]` of `subset` is in `headers` (strict equality of values). */
function headersInclude(headers: Headers, subset: Headers): boolean {
  return Object.entries(subset).every(
    ([key, value]) => Object.hasOwn(headers, key) && headers[key] === value,
  );
}

/** The task tree of one analysis. */
export class Analysis {
  readonly rootUid: string;
  /** Every task, parents before children (depth first). */
  readonly tasks: AnalysisNode[];
  /** Top-level nodes: normally one, the task the analysis started with. */
  readonly roots: AnalysisNode[];
  /** Documents of the tree that could not be parsed. */
  readonly unreadable: UnreadableTask[];
  readonly #byUid = new Map<string, AnalysisNode>();
  readonly #parent = new Map<AnalysisNode, AnalysisNode>();

  constructor(rootUid: string, tasks: readonly Task[], unreadable: UnreadableTask[] = []) {
    this.rootUid = rootUidOf(rootUid);
    this.unreadable = unreadable;
    const nodes = tasks.map(node);
    for (const n of nodes) this.#byUid.set(n.uid, n);
    const roots: AnalysisNode[] = [];
    for (const n of nodes) {
      // A fork hangs under the task it copies; a sent task under the fork that sent it.
      const parent =
        (n.origUid !== null ? this.#byUid.get(n.origUid) : undefined) ??
        (n.origUid === null && n.parentUid !== null ? this.#byUid.get(n.parentUid) : undefined);
      if (parent && parent !== n) {
        parent.children.push(n);
        this.#parent.set(n, parent);
      } else {
        roots.push(n);
      }
    }
    const order = (list: AnalysisNode[]) => list.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    for (const n of nodes) order(n.children);
    // The task whose uid is `{R}:R` (a producer's task) first.
    order(roots).sort(
      (a, b) => Number(b.uid.endsWith(`:${this.rootUid}`)) - Number(a.uid.endsWith(`:${this.rootUid}`)),
    );
    this.roots = roots;
    const all: AnalysisNode[] = [];
    const visit = (n: AnalysisNode) => {
      all.push(n);
      for (const c of n.children) visit(c);
    };
    for (const r of roots) visit(r);
    this.tasks = all;
  }

  /** The first top-level node (the task the analysis started with), if any. */
  get root(): AnalysisNode | undefined {
    return this.roots[0];
  }

  /** Crashed tasks. */
  get crashed(): AnalysisNode[] {
    return this.tasks.filter((n) => n.status === TaskState.Crashed);
  }

  /** Tasks not Finished nor Crashed. */
  get pending(): AnalysisNode[] {
    return this.tasks.filter((n) => !isFinalStatus(n.status));
  }

  /** True when every task is Finished or Crashed (and there is at least one). */
  get complete(): boolean {
    return this.tasks.length > 0 && this.pending.length === 0;
  }

  get(uid: string): AnalysisNode | undefined {
    return this.#byUid.get(uid);
  }

  /** The node above `n` in the tree. */
  parentOf(n: AnalysisNode): AnalysisNode | undefined {
    return this.#parent.get(n);
  }

  /** Nodes matching a predicate, or whose headers include every given header. */
  filter(match: ((n: AnalysisNode) => boolean) | Headers): AnalysisNode[] {
    const fn = typeof match === "function" ? match : (n: AnalysisNode) => headersInclude(n.headers, match);
    return this.tasks.filter(fn);
  }

  find(match: ((n: AnalysisNode) => boolean) | Headers): AnalysisNode | undefined {
    return this.filter(match)[0];
  }

  /** The forks delivered to one consumer. */
  byReceiver(identity: string): AnalysisNode[] {
    return this.tasks.filter((n) => n.receiver === identity);
  }

  /**
   * A readable tree, one task per line: `→ receiver` for forks, the headers (without `receiver`),
   * the status, resource names of the payload, and the error line of crashed tasks.
   */
  format(): string {
    const lines: string[] = [`analysis ${this.rootUid} (${this.tasks.length} tasks)`];
    const describe = (n: AnalysisNode): string => {
      const headers = Object.entries(n.headers)
        .filter(([key]) => key !== "receiver")
        .map(([key, value]) => `${key}=${typeof value === "string" ? value : stringify(value)}`)
        .join(" ");
      const resources = resourceNames(n.payload);
      const files = resources.length > 0 ? ` [${resources.join(", ")}]` : "";
      return n.receiver !== null ? `→ ${n.receiver} ${n.status}` : `${headers} ${n.status}${files}`;
    };
    const visit = (n: AnalysisNode, prefix: string, last: boolean, top: boolean) => {
      const branch = top ? "" : last ? "└─ " : "├─ ";
      lines.push(`${prefix}${branch}${describe(n)}`);
      const inner = top ? prefix : `${prefix}${last ? "   " : "│  "}`;
      if (n.errorMessage !== null)
        lines.push(`${inner}${n.children.length > 0 ? "│  " : "   "}! ${n.errorMessage}`);
      n.children.forEach((c, i) => {
        visit(c, inner, i === n.children.length - 1, false);
      });
    };
    for (const r of this.roots) visit(r, "", true, true);
    for (const u of this.unreadable) lines.push(`! unreadable task ${u.uid}: ${u.error}`);
    return lines.join("\n");
  }

  toString(): string {
    return this.format();
  }
}

/** `name` of every resource in a payload (any depth), in walk order. */
export function resourceNames(payload: Payload): string[] {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (value instanceof ResourceBase) out.push(value.name);
    else if (Array.isArray(value)) for (const item of value) walk(item);
    else if (isJsonObject(value)) for (const item of Object.values(value)) walk(item);
  };
  for (const value of Object.values(payload)) walk(value);
  return out;
}

/**
 * Reads every task of the analysis `rootUid` (a root uid, or any `{root}:uuid` task uid of it) from
 * a backend and builds its tree. Resources are bound to the backend's object store.
 */
export async function collectAnalysis(backend: KartonBackend, rootUid: string): Promise<Analysis> {
  const root = rootUidOf(rootUid);
  const tasks: Task[] = [];
  const unreadable: UnreadableTask[] = [];
  for await (const chunk of backend.scanTasks({ rootUid: root })) {
    for (const { uid, raw } of chunk) {
      try {
        tasks.push(parseTask(raw, { storage: backend.objects }));
      } catch (error) {
        unreadable.push({ uid, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return new Analysis(root, tasks, unreadable);
}

export interface WaitForAnalysisOptions {
  /** Give up after this many milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Delay between two reads (default 50 ms). */
  intervalMs?: number;
}

/**
 * Waits until the analysis is complete and returns it: every task Finished or Crashed in two
 * consecutive reads over the same set of tasks. (A read lists the documents, then fetches them: a
 * task created in between — a fork, a child — is only seen by the next read, while its parent may
 * already read Finished. Finished and Crashed tasks never change again, so two agreeing reads prove
 * nothing is in flight.) Rejects after `timeoutMs` with the pending tasks in the message.
 */
export async function waitForAnalysis(
  backend: KartonBackend,
  rootUid: string,
  options: WaitForAnalysisOptions = {},
): Promise<Analysis> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let settled: string | undefined;
  for (;;) {
    const analysis = await collectAnalysis(backend, rootUid);
    if (analysis.complete) {
      const signature = analysis.tasks
        .map((n) => n.uid)
        .sort()
        .join("\n");
      if (signature === settled) return analysis;
      settled = signature;
      continue;
    }
    settled = undefined;
    if (Date.now() > deadline) {
      const pending = analysis.pending.map(
        (n) => `${n.uid} ${n.status}${n.receiver ? ` → ${n.receiver}` : ""}`,
      );
      throw new Error(
        `analysis ${analysis.rootUid} not complete after ${timeoutMs} ms (${analysis.tasks.length} tasks, pending: ${pending.join(", ") || "none found"})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/**
 * A sample-centred view of one analysis, for people: the submitted sample, what the classifier
 * found, the files extracted from it (recursively), and every crash on the way. Built from the task
 * documents of the analysis, so it works on any backend and whichever process ran the services.
 */
import { type KartonBackend, parseTask, ResourceBase, type Task, TaskState } from "../../src/index.js";

export interface Classification {
  stage: string;
  kind: string;
  platform?: string;
  extension?: string;
}

export interface SampleNode {
  name: string;
  size: number | null;
  sha256: string | null;
  /** What the classifier said, or null when the sample was not classified (yet). */
  classification: Classification | null;
  magic: string | null;
  /** Crashed tasks about this sample: `<consumer>: <last error line>`. */
  problems: string[];
  /** Some task about this sample is not Finished/Crashed yet. */
  pending: boolean;
  /** Samples extracted from this one, by name. */
  children: SampleNode[];
}

export interface TriageView {
  rootUid: string;
  tasks: number;
  finished: number;
  crashed: number;
  /** Tasks neither Finished nor Crashed. */
  pending: number;
  /** The submitted sample, or null when its task is not found. */
  sample: SampleNode | null;
}

const FINAL = new Set<string>([TaskState.Finished, TaskState.Crashed]);

function group(tasks: readonly Task[], key: (task: Task) => string | null): Map<string, Task[]> {
  const out = new Map<string, Task[]>();
  for (const task of tasks) {
    const k = key(task);
    if (k === null) continue;
    const list = out.get(k);
    if (list) list.push(task);
    else out.set(k, [task]);
  }
  return out;
}

function lastErrorLine(task: Task): string {
  return (task.error?.[task.error.length - 1] ?? "crashed").replace(/\n$/, "");
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Builds the view from the task documents of one analysis. */
export function buildTriageView(rootUid: string, tasks: readonly Task[]): TriageView {
  const forks = group(tasks, (t) => t.origUid);
  const sent = group(tasks, (t) => (t.origUid === null ? t.parentUid : null));
  const uids = new Set(tasks.map((t) => t.uid));

  const sampleNode = (task: Task): SampleNode => {
    const resource = task.getPayload("sample");
    const node: SampleNode = {
      name: resource instanceof ResourceBase ? resource.name : "(no sample)",
      size: resource instanceof ResourceBase ? resource.size : null,
      sha256: resource instanceof ResourceBase ? resource.sha256 : null,
      classification: null,
      magic: null,
      problems: [],
      pending: false,
      children: [],
    };
    // Follows a task through routing (its forks) and what each consumer sent about it.
    const follow = (t: Task) => {
      if (!FINAL.has(t.status)) node.pending = true;
      for (const fork of forks.get(t.uid) ?? []) {
        if (!FINAL.has(fork.status)) node.pending = true;
        if (fork.status === TaskState.Crashed) {
          node.problems.push(`${str(fork.headers.receiver) ?? "?"}: ${lastErrorLine(fork)}`);
        }
        for (const out of sent.get(fork.uid) ?? []) {
          const h = out.headers;
          if (h.type === "sample" && h.kind === "raw") {
            node.children.push(sampleNode(out));
            continue;
          }
          if (
            h.type === "sample" &&
            (h.stage === "recognized" || h.stage === "unrecognized") &&
            !node.classification
          ) {
            node.classification = {
              stage: String(h.stage),
              kind: String(h.kind),
              ...(str(h.platform) !== undefined && { platform: str(h.platform) }),
              ...(str(h.extension) !== undefined && { extension: str(h.extension) }),
            };
            node.magic = str(out.getPayload("magic")) ?? null;
          }
          follow(out);
        }
      }
    };
    follow(task);
    node.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return node;
  };

  const root =
    tasks.find((t) => t.uid === `{${rootUid}}:${rootUid}`) ??
    tasks.find((t) => t.origUid === null && (t.parentUid === null || !uids.has(t.parentUid)));
  const crashed = tasks.filter((t) => t.status === TaskState.Crashed).length;
  const finished = tasks.filter((t) => t.status === TaskState.Finished).length;
  return {
    rootUid,
    tasks: tasks.length,
    finished,
    crashed,
    pending: tasks.length - finished - crashed,
    sample: root ? sampleNode(root) : null,
  };
}

/** Reads the task documents of one analysis (resources are described, not downloaded). */
export async function readAnalysisTasks(backend: KartonBackend, rootUid: string): Promise<Task[]> {
  const tasks: Task[] = [];
  for await (const chunk of backend.scanTasks({ rootUid })) {
    for (const { raw } of chunk) {
      try {
        tasks.push(parseTask(raw));
      } catch {
        // an unreadable document is reported by karton-system; the view skips it
      }
    }
  }
  return tasks;
}

export interface RenderOptions {
  /** ANSI colours (default false). */
  colour?: boolean;
  /** Sizes and SHA-256 prefixes (default true). */
  details?: boolean;
}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** One line per sample, extracted files indented below their archive. */
export function renderSampleTree(sample: SampleNode, options: RenderOptions = {}): string {
  const paint = (code: string, s: string) => (options.colour ? `\x1b[${code}m${s}\x1b[0m` : s);
  const details = options.details ?? true;
  const lines: string[] = [];
  const describe = (n: SampleNode): string => {
    const c = n.classification;
    const what = c
      ? c.stage === "recognized"
        ? [c.kind, c.platform, c.extension].filter((x) => x !== undefined).join(" · ")
        : `unrecognized (${c.kind})`
      : n.pending
        ? "…"
        : "not classified";
    const extra =
      details && n.size !== null
        ? `  ${paint("2", `${humanSize(n.size)}, sha256 ${(n.sha256 ?? "?").slice(0, 12)}`)}`
        : "";
    return `${paint("1", n.name)}  ${paint(c?.stage === "recognized" ? "36" : "33", what)}${extra}`;
  };
  const visit = (n: SampleNode, prefix: string, branch: string, inner: string) => {
    lines.push(`${prefix}${branch}${describe(n)}`);
    for (const problem of n.problems) lines.push(`${prefix}${inner}${paint("31", `! ${problem}`)}`);
    n.children.forEach((child, i) => {
      const last = i === n.children.length - 1;
      visit(child, prefix + inner, last ? "└─ " : "├─ ", last ? "   " : "│  ");
    });
  };
  visit(sample, "", "", "");
  return lines.join("\n");
}

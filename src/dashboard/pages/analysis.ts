/** One analysis (task tree of a root uid): counts per queue and status, then the tree. */
import { type AnalysisTree, receiverOf, walkAnalysis } from "../../inspect/index.js";
import { TaskState } from "../../task/enums.js";
import type { Task } from "../../task/task.js";
import { shortUid } from "../format.js";
import { html } from "../html.js";
import {
  headerChips,
  type PageContext,
  queueHref,
  renderPage,
  seg,
  statusBadge,
  taskHref,
  timeCell,
} from "../layout.js";

const STATUSES = [
  TaskState.Declared,
  TaskState.Spawned,
  TaskState.Started,
  TaskState.Crashed,
  TaskState.Finished,
];
/** Most tree rows shown (a tree can hold many thousands of tasks). */
export const MAX_TREE_ROWS = 1000;

export interface QueueGroup {
  /** Receiver identity, or "" for unrouted tasks (as the producer declared them). */
  queue: string;
  counts: Record<TaskState, number>;
  tasks: Task[];
}

/** Tasks of the tree grouped by receiver (unrouted ones under ""), each with counts per status. */
export function groupByQueue(tasks: readonly Task[]): QueueGroup[] {
  const groups = new Map<string, QueueGroup>();
  for (const task of tasks) {
    const queue = receiverOf(task) ?? "";
    let group = groups.get(queue);
    if (!group) {
      group = {
        queue,
        counts: Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<TaskState, number>,
        tasks: [],
      };
      groups.set(queue, group);
    }
    group.counts[task.status]++;
    group.tasks.push(task);
  }
  return [...groups.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
}

export function renderAnalysisPage(
  ctx: PageContext,
  tree: AnalysisTree,
  options: { xrefs: { label: string; url: string }[]; queues: ReadonlySet<string> },
): string {
  const groups = groupByQueue(tree.tasks);
  const total = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const task of tree.tasks) total[task.status]++;
  const rows: ReturnType<typeof html>[] = [];
  for (const { node, depth } of walkAnalysis(tree)) {
    if (rows.length >= MAX_TREE_ROWS) break;
    const task = node.task;
    const receiver = receiverOf(task);
    rows.push(html`<tr>
  <td class="uid tree-cell"><span class="tree">${"  ".repeat(depth)}${depth > 0 ? (node.link === "fork" ? "↳ " : "⤷ ") : ""}</span><a href="${taskHref(ctx, task.uid)}" title="${task.uid}">${shortUid(task.uid)}</a></td>
  <td>${statusBadge(task.status)}</td>
  <td>${receiver === null ? html`<span class="muted">unrouted</span>` : options.queues.has(receiver) ? html`<a href="${queueHref(ctx, receiver)}">${receiver}</a>` : receiver}</td>
  <td>${headerChips(task.headers, { skip: ["receiver"], persistent: task.headersPersistent })}</td>
  <td class="small">${timeCell(ctx, task.lastUpdate)}</td>
</tr>`);
  }
  const body = html`
<div class="crumbs"><a href="${ctx.base}/">Queues</a> ›</div>
<h1>Analysis ${tree.rootUid}</h1>
<p class="subtitle">${tree.tasks.length} stored task(s) of this root uid.${options.xrefs.length > 0 ? " " : ""}</p>
${options.xrefs.length > 0 ? html`<div class="xrefs">${options.xrefs.map((x) => html`<a class="button" href="${x.url}" rel="noopener noreferrer" target="_blank">${x.label}</a>`)}</div>` : ""}
<div class="cards">${STATUSES.map(
    (s) =>
      html`<div class="card${s === TaskState.Crashed && total[s] > 0 ? " alert" : ""}"><div class="label">${s}</div><div class="value">${total[s]}</div></div>`,
  )}</div>
<h2>By queue</h2>
<div class="table-wrap"><table><thead><tr><th>Queue</th>${STATUSES.map((s) => html`<th class="num">${s}</th>`)}</tr></thead>
<tbody>${groups.map(
    (g) =>
      html`<tr><td>${g.queue === "" ? html`<span class="muted">unrouted (as sent)</span>` : options.queues.has(g.queue) ? html`<a href="${queueHref(ctx, g.queue)}">${g.queue}</a>` : g.queue}</td>${STATUSES.map(
        (s) =>
          html`<td class="num"><span class="count${g.counts[s] === 0 ? " zero" : ""}${s === TaskState.Crashed && g.counts[s] > 0 ? " bad" : ""}">${g.counts[s]}</span></td>`,
      )}</tr>`,
  )}</tbody></table></div>
<h2>Task tree</h2>
<p class="muted small">↳ routed copy (fork) of the task above · ⤷ task sent while processing the task above${rows.length >= MAX_TREE_ROWS ? ` · first ${MAX_TREE_ROWS} shown` : ""}</p>
<div class="table-wrap"><table><thead><tr><th>Task</th><th>Status</th><th>Queue</th><th>Headers</th><th>Last update</th></tr></thead>
<tbody>${rows}</tbody></table></div>
${tree.unparsable.length > 0 ? html`<p class="notice error">${tree.unparsable.length} document(s) of this analysis cannot be parsed: ${tree.unparsable.map((u) => html`<a class="mono" href="${taskHref(ctx, u.uid)}">${shortUid(u.uid)}</a> `)}</p>` : ""}
<p class="small"><a href="${ctx.base}/api/analysis/${seg(tree.rootUid)}">JSON</a></p>`;
  return renderPage(ctx, { title: `Analysis ${shortUid(tree.rootUid).slice(0, 8)}`, nav: "queues", body });
}

/** Fragments shared by several pages: bind filters, descriptions, task tables. */
import type { KartonQueue } from "../../inspect/index.js";
import { isJsonObject, type JsonValue } from "../../json/values.js";
import type { Task } from "../../task/task.js";
import { headerText, lastErrorLine, shortUid } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import {
  actionForm,
  analysisHref,
  headerChips,
  type PageContext,
  priorityBadge,
  statusBadge,
  taskHref,
  timeCell,
} from "../layout.js";
import { renderMarkdown } from "../markdown.js";

/** Filter rules as chips, one line per rule ("or" between rules). */
export function filtersCell(filters: readonly JsonValue[] | null | undefined): SafeHtml {
  if (!filters || filters.length === 0) return html`<span class="muted">none (takes nothing)</span>`;
  return html`<div class="filters">${filters.map(
    (rule, i) =>
      html`<div>${i > 0 ? html`<span class="muted small">or </span>` : ""}${
        isJsonObject(rule)
          ? Object.entries(rule).map(([k, v]) => html`<span class="hdr">${k}:${headerText(v)}</span>`)
          : html`<span class="hdr">${headerText(rule)}</span>`
      }</div>`,
  )}</div>`;
}

/** A bind's description (`info`) rendered as minimal Markdown, or a dash. */
export function description(info: string | null | undefined, collapsed = false): SafeHtml {
  if (info === null || info === undefined || info.trim() === "") return html`<span class="muted">-</span>`;
  const body = renderMarkdown(info);
  if (!collapsed) return html`<div class="markdown">${body}</div>`;
  const first = info.trim().split("\n")[0] ?? "";
  const many = info.trim().includes("\n");
  return many
    ? html`<details class="desc"><summary>${first.length > 80 ? `${first.slice(0, 77)}…` : first}</summary>${body}</details>`
    : html`<div class="desc">${body}</div>`;
}

/** Versions of a queue: karton library version and the service's own. */
export function versionsCell(queue: KartonQueue): SafeHtml {
  if (!queue.bind) return html`<span class="muted">-</span>`;
  return html`<div class="versions"><div><span class="muted small">karton</span> ${queue.bind.version}</div>${
    queue.bind.serviceVersion !== null
      ? html`<div><span class="muted small">service</span> ${queue.bind.serviceVersion}</div>`
      : ""
  }</div>`;
}

export interface TaskTableOptions {
  /** Show the last error line (crashed lists). */
  errors?: boolean;
  /** Header names left out of the chips. */
  skipHeaders?: string[];
  /** Show the receiver column. */
  receiver?: boolean;
  /** Per-row restart/cancel buttons, returning to `next`. */
  rowActions?: { next: string; restart: boolean; cancel: boolean };
}

export function taskTable(
  ctx: PageContext,
  tasks: readonly Task[],
  options: TaskTableOptions = {},
): SafeHtml {
  if (tasks.length === 0) return html`<div class="table-wrap"><div class="empty">No tasks.</div></div>`;
  const rows = tasks.map((task) => {
    const actions = options.rowActions
      ? html`<td class="actions">${
          options.rowActions.restart
            ? actionForm(ctx, `${taskHref(ctx, task.uid)}/restart`, {
                label: "Restart",
                small: true,
                style: "primary",
                next: options.rowActions.next,
              })
            : ""
        }${
          options.rowActions.cancel
            ? actionForm(ctx, `${taskHref(ctx, task.uid)}/cancel`, {
                label: "Cancel",
                small: true,
                style: "danger",
                next: options.rowActions.next,
              })
            : ""
        }</td>`
      : "";
    const receiver = typeof task.headers.receiver === "string" ? task.headers.receiver : "";
    return html`<tr>
  <td class="uid"><a href="${taskHref(ctx, task.uid)}" title="${task.uid}">${shortUid(task.uid)}</a>
    <div class="small"><a class="muted" href="${analysisHref(ctx, task.rootUid)}">analysis ${shortUid(task.rootUid).slice(0, 8)}…</a></div></td>
  <td>${statusBadge(task.status)} ${priorityBadge(task.priority)}</td>
  ${options.receiver ? html`<td>${receiver}</td>` : ""}
  <td>${headerChips(task.headers, { skip: options.skipHeaders ?? ["receiver"], persistent: task.headersPersistent })}${
    options.errors
      ? html`<div class="errline">${lastErrorLine(task.error) || "(no error recorded)"}</div>`
      : ""
  }</td>
  <td>${timeCell(ctx, task.lastUpdate)}</td>
  ${actions}
</tr>`;
  });
  return html`<div class="table-wrap"><table>
<thead><tr><th>Task</th><th>Status</th>${options.receiver ? html`<th>Queue</th>` : ""}<th>Headers${options.errors ? " / error" : ""}</th><th>Last update</th>${options.rowActions ? html`<th>Actions</th>` : ""}</tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

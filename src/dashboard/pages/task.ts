/** One task: status, ids, headers, error trace, resources with downloads, payload and raw document. */
import { receiverOf } from "../../inspect/index.js";
import { taskToDocument } from "../../task/document.js";
import { TaskState } from "../../task/enums.js";
import type { Task } from "../../task/task.js";
import { errorText, formatBytes, formatTimestamp, prettyJson, shortUid } from "../format.js";
import { html, type SafeHtml } from "../html.js";
import {
  actionForm,
  analysisHref,
  headerChips,
  noticeBox,
  type PageContext,
  priorityBadge,
  queueHref,
  renderPage,
  seg,
  statusBadge,
  taskHref,
  timeCell,
} from "../layout.js";
import { taskResources } from "../resources.js";

export interface TaskPageOptions {
  xrefs: { label: string; url: string }[];
  /** Identities that have a queue page (binds and receivers of stored tasks). */
  queues: ReadonlySet<string>;
  notice?: string | undefined;
}

function identityLink(ctx: PageContext, identity: unknown, queues: ReadonlySet<string>): SafeHtml {
  if (typeof identity !== "string" || identity === "") return html`<span class="muted">-</span>`;
  return queues.has(identity)
    ? html`<a href="${queueHref(ctx, identity)}">${identity}</a>`
    : html`${identity}`;
}

function uidLink(ctx: PageContext, uid: string | null): SafeHtml {
  if (uid === null) return html`<span class="muted">none</span>`;
  return html`<a class="mono" href="${taskHref(ctx, uid)}">${uid}</a>`;
}

/** The payload without the hidden `__headers_persistent` copy. */
function visiblePayload(task: Task): Record<string, unknown> {
  const out: Record<string, unknown> = { ...task.payload };
  for (const [key, value] of Object.entries(task.payloadPersistent)) out[key] = value;
  return out;
}

export function renderTaskPage(ctx: PageContext, task: Task, options: TaskPageOptions): string {
  const receiver = receiverOf(task);
  const resources = taskResources(task);
  const here = ctx.here;
  const persistentNames = Object.keys(task.payloadPersistent);
  const body = html`
<div class="crumbs"><a href="${ctx.base}/">Queues</a> ›${receiver !== null && options.queues.has(receiver) ? html` <a href="${queueHref(ctx, receiver)}">${receiver}</a> ›` : ""}</div>
<h1>Task ${shortUid(task.uid)}</h1>
${noticeBox(options.notice)}
<div class="actions">
  ${receiver !== null ? actionForm(ctx, `${taskHref(ctx, task.uid)}/restart`, { label: "Restart", style: "primary", next: "" }) : ""}
  ${task.status !== TaskState.Finished ? actionForm(ctx, `${taskHref(ctx, task.uid)}/cancel`, { label: "Cancel", style: "danger", next: here }) : ""}
  <a class="button" href="${analysisHref(ctx, task.rootUid)}">Analysis</a>
  <a class="button" href="${ctx.base}/api/task/${seg(task.uid)}">JSON</a>
  ${options.xrefs.length > 0 ? html`<span class="xrefs">${options.xrefs.map((x) => html`<a class="button" href="${x.url}" rel="noopener noreferrer" target="_blank">${x.label}</a>`)}</span>` : ""}
</div>
<div class="panel"><dl class="props">
  <dt>Status</dt><dd>${statusBadge(task.status, true)}</dd>
  <dt>Priority</dt><dd>${priorityBadge(task.priority)}</dd>
  <dt>Last status change</dt><dd>${formatTimestamp(task.lastUpdate)} (${timeCell(ctx, task.lastUpdate)})</dd>
  <dt>UID</dt><dd class="mono">${task.uid}</dd>
  <dt>Root UID (analysis)</dt><dd><a class="mono" href="${analysisHref(ctx, task.rootUid)}">${task.rootUid}</a></dd>
  <dt>Parent UID</dt><dd>${uidLink(ctx, task.parentUid)}</dd>
  <dt>Original UID</dt><dd>${uidLink(ctx, task.origUid)}</dd>
  <dt>Origin</dt><dd>${identityLink(ctx, task.headers.origin, options.queues)}</dd>
  <dt>Receiver</dt><dd>${identityLink(ctx, task.headers.receiver, options.queues)}</dd>
  <dt>Headers</dt><dd>${headerChips(task.headers, { skip: ["origin", "receiver"], persistent: task.headersPersistent })}${
    Object.keys(task.headersPersistent).length > 0
      ? html`<div class="muted small">dashed: persistent headers</div>`
      : ""
  }</dd>
</dl></div>
${
  task.error !== null && task.error.length > 0
    ? html`<h2>Error</h2><pre class="block trace" id="error">${errorText(task.error)}</pre>`
    : ""
}
<h2>Resources</h2>
${
  resources.length === 0
    ? html`<p class="muted">This task carries no resources.</p>`
    : html`<div class="table-wrap"><table class="resources"><thead><tr><th>Name</th><th>Payload key</th><th class="num">Size</th><th>SHA-256</th><th>Bucket / uid</th><th></th></tr></thead><tbody>${resources.map(
        (r) => html`<tr>
  <td><strong>${r.name}</strong>${r.flags.includes("Directory") ? html` <span class="badge">directory (zip)</span>` : ""}</td>
  <td class="mono small">${r.path}</td>
  <td class="num">${formatBytes(r.size)}</td>
  <td class="mono small">${r.sha256 ?? "-"}</td>
  <td class="mono small">${r.bucket ?? "(default)"}<br>${r.uid}</td>
  <td><a class="button small primary" href="${taskHref(ctx, task.uid)}/resource/${seg(r.uid)}" download>Download</a></td>
</tr>`,
      )}</tbody></table></div>`
}
<h2>Payload</h2>
${persistentNames.length > 0 ? html`<p class="muted small">Persistent payload keys: ${persistentNames.join(", ")}</p>` : ""}
<pre class="block" id="payload">${prettyJson(visiblePayload(task))}</pre>
<details><summary>Raw task document</summary><pre class="block" id="raw">${prettyJson(taskToDocument(task))}</pre></details>
`;
  return renderPage(ctx, { title: `Task ${shortUid(task.uid)}`, nav: "queues", body, liveTask: task.uid });
}

/** A stored document that cannot be parsed: the reason and the raw text. */
export function renderUnreadableTaskPage(ctx: PageContext, uid: string, raw: string, reason: string): string {
  const body = html`
<div class="crumbs"><a href="${ctx.base}/">Queues</a> ›</div>
<h1>Task ${shortUid(uid)}</h1>
<p class="notice error">This task document cannot be read: ${reason}</p>
<dl class="props panel"><dt>UID</dt><dd class="mono">${uid}</dd></dl>
<h2>Stored document</h2>
<pre class="block">${raw}</pre>`;
  return renderPage(ctx, { title: `Task ${shortUid(uid)}`, nav: "queues", body });
}

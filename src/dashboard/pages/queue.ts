/** One queue: its bind, counts and actions, with the pending or the crashed tasks (paginated). */
import type { KartonQueue } from "../../inspect/index.js";
import { html } from "../html.js";
import {
  actionForm,
  listToolbar,
  liveCount,
  noticeBox,
  type PageContext,
  queueHref,
  renderPage,
  seg,
  timeCell,
  yesNo,
} from "../layout.js";
import { searchAndPaginate } from "../paginate.js";
import { description, filtersCell, taskTable } from "./common.js";

export interface QueuePageOptions {
  tab: "pending" | "crashed";
  query: string;
  page: number;
  pageSize: number;
  notice?: string | undefined;
}

export function renderQueuePage(ctx: PageContext, queue: KartonQueue, options: QueuePageOptions): string {
  const bind = queue.bind;
  const path = `/queue/${seg(queue.identity)}${options.tab === "crashed" ? "/crashed" : ""}`;
  const tasks = options.tab === "crashed" ? queue.crashedTasks : queue.pendingTasks;
  // Newest first, as Python's dashboard lists them.
  const newest = [...tasks].reverse();
  const page = searchAndPaginate(newest, options.query, options.page, options.pageSize);
  const here = ctx.here;
  const pending = queue.pendingTasks.length;
  const crashed = queue.crashedTasks.length;
  const lengths = queue.lengths;
  const body = html`
<div class="crumbs"><a href="${ctx.base}/">Queues</a> ›</div>
<h1>${queue.identity}</h1>
${noticeBox(options.notice)}
${bind === null ? html`<p class="notice error">${queue.invalidBind ? `This queue's bind cannot be read: ${queue.invalidBind.reason}` : "No consumer is registered under this identity; its tasks are left over."}</p>` : ""}
<div class="cards">
  <div class="card"><div class="label">Pending</div><div class="value">${liveCount(pending, "pending", queue.identity)}</div></div>
  <div class="card${crashed > 0 ? " alert" : ""}"><div class="label">Crashed</div><div class="value">${liveCount(crashed, "crashed", queue.identity, { badWhenPositive: true })}</div></div>
  <div class="card"><div class="label">Replicas online</div><div class="value">${liveCount(queue.replicas, "replicas", queue.identity)}</div></div>
  <div class="card"><div class="label">Last update</div><div class="value small">${timeCell(ctx, queue.lastUpdate)}</div></div>
</div>
${
  bind
    ? html`<div class="panel"><dl class="props">
  <dt>Description</dt><dd>${description(bind.info)}</dd>
  <dt>Filters</dt><dd>${filtersCell(bind.filters)}</dd>
  <dt>Karton version</dt><dd>${bind.version}</dd>
  <dt>Service version</dt><dd>${bind.serviceVersion ?? html`<span class="muted">-</span>`}</dd>
  <dt>Persistent</dt><dd>${yesNo(bind.persistent)}</dd>
  ${bind.isAsync ? html`<dt>Asynchronous</dt><dd>${yesNo(true)}</dd>` : ""}
  ${lengths ? html`<dt>Queued uids</dt><dd>high ${lengths.high} · normal ${lengths.normal} · low ${lengths.low}${lengths.bare > 0 ? ` · legacy ${lengths.bare}` : ""}</dd>` : ""}
</dl></div>`
    : ""
}
<div class="actions">
  ${pending > 0 ? actionForm(ctx, `${queueHref(ctx, queue.identity)}/cancel_pending`, { label: `Cancel ${pending} pending`, style: "danger", confirm: `Cancel all ${pending} pending tasks of ${queue.identity}?`, next: here }) : ""}
  ${crashed > 0 ? actionForm(ctx, `${queueHref(ctx, queue.identity)}/restart_crashed`, { label: `Restart ${crashed} crashed`, style: "primary", confirm: `Restart all ${crashed} crashed tasks of ${queue.identity}?`, next: here }) : ""}
  ${crashed > 0 ? actionForm(ctx, `${queueHref(ctx, queue.identity)}/cancel_crashed`, { label: `Cancel ${crashed} crashed`, style: "danger", confirm: `Cancel all ${crashed} crashed tasks of ${queue.identity}?`, next: here }) : ""}
</div>
<div class="tabs">
  <a href="${queueHref(ctx, queue.identity)}" class="${options.tab === "pending" ? "active" : ""}">Pending (${pending})</a>
  <a href="${queueHref(ctx, queue.identity, "crashed")}" class="${options.tab === "crashed" ? "active" : ""}">Crashed (${crashed})</a>
</div>
${listToolbar(ctx, path, page, options.query, "Search uid or headers (e.g. kind:raw)")}
${taskTable(ctx, page.items, {
  errors: options.tab === "crashed",
  rowActions:
    options.tab === "crashed"
      ? { next: here, restart: true, cancel: true }
      : { next: here, restart: false, cancel: true },
})}`;
  return renderPage(ctx, {
    title: `${options.tab === "crashed" ? "Crashed · " : ""}${queue.identity}`,
    nav: "queues",
    body,
    liveSummary: true,
  });
}

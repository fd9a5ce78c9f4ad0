/** The start page: every queue (bind) with its counts, plus receivers without a bind. */
import type { KartonQueue } from "../../inspect/index.js";
import { html } from "../html.js";
import { liveCount, type PageContext, queueHref, renderPage, timeCell, yesNo } from "../layout.js";
import type { DashboardSnapshot } from "../snapshot.js";
import { description, filtersCell, versionsCell } from "./common.js";

export interface QueueTotals {
  queues: number;
  pending: number;
  crashed: number;
  services: number;
  replicas: number;
}

export function totals(snapshot: DashboardSnapshot): QueueTotals {
  const { state } = snapshot;
  let pending = 0;
  let crashed = 0;
  let replicas = 0;
  for (const queue of state.queues.values()) {
    pending += queue.pendingTasks.length;
    crashed += queue.crashedTasks.length;
    replicas += queue.replicas;
  }
  return { queues: state.queues.size, pending, crashed, services: state.services.length, replicas };
}

function queueRow(ctx: PageContext, queue: KartonQueue) {
  const bind = queue.bind;
  return html`<tr>
  <td><a href="${queueHref(ctx, queue.identity)}"><strong>${queue.identity}</strong></a>${
    queue.invalidBind ? html`<div class="errline">unreadable bind: ${queue.invalidBind.reason}</div>` : ""
  }</td>
  <td>${description(bind?.info, true)}</td>
  <td>${bind ? filtersCell(bind.filters) : html`<span class="muted">-</span>`}</td>
  <td class="small">${versionsCell(queue)}</td>
  <td>${bind ? yesNo(bind.persistent) : ""}</td>
  <td class="num">${liveCount(queue.replicas, "replicas", queue.identity, { badWhenPositive: false })}</td>
  <td class="num">${liveCount(queue.pendingTasks.length, "pending", queue.identity, { link: queueHref(ctx, queue.identity) })}</td>
  <td class="num">${liveCount(queue.crashedTasks.length, "crashed", queue.identity, {
    badWhenPositive: true,
    link: queueHref(ctx, queue.identity, "crashed"),
  })}</td>
  <td class="small">${timeCell(ctx, queue.lastUpdate)}</td>
</tr>`;
}

export function renderQueuesPage(ctx: PageContext, snapshot: DashboardSnapshot, query: string): string {
  const { state } = snapshot;
  const t = totals(snapshot);
  const q = query.trim().toLowerCase();
  const queues = [...state.queues.values()]
    .filter((queue) => q === "" || queue.identity.toLowerCase().includes(q))
    .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  const unbound = [...state.unboundQueues.values()].sort((a, b) => (a.identity < b.identity ? -1 : 1));
  const body = html`
<h1>Queues</h1>
<p class="subtitle">Consumers registered in <code>karton.binds</code>, their replicas and routed tasks.</p>
<div class="cards">
  <div class="card"><div class="label">Queues</div><div class="value" data-total="queues">${t.queues}</div></div>
  <div class="card"><div class="label">Pending tasks</div><div class="value" data-total="pending">${t.pending}</div></div>
  <div class="card${t.crashed > 0 ? " alert" : ""}"><div class="label">Crashed tasks</div><div class="value" data-total="crashed">${t.crashed}</div></div>
  <div class="card"><div class="label">Consumer replicas</div><div class="value" data-total="replicas">${t.replicas}</div></div>
  <div class="card"><div class="label">Services online</div><div class="value" data-total="services">${t.services}</div></div>
</div>
<div class="toolbar">
  <form method="get" action="${ctx.base}/" role="search">
    <input type="search" name="q" value="${query}" placeholder="Filter queues by identity" aria-label="Filter queues">
    <button type="submit">Filter</button>${query !== "" ? html` <a class="button" href="${ctx.base}/">Clear</a>` : ""}
  </form>
  <span class="muted small">${queues.length} of ${state.queues.size} queues</span>
</div>
<div class="table-wrap"><table id="queues">
<thead><tr><th>Identity</th><th>Description</th><th>Filters</th><th>Versions</th><th>Persistent</th>
<th class="num">Replicas</th><th class="num">Pending</th><th class="num">Crashed</th><th>Last update</th></tr></thead>
<tbody>${queues.length === 0 ? html`<tr><td colspan="9" class="empty">No queues${q !== "" ? " match" : ""}.</td></tr>` : queues.map((queue) => queueRow(ctx, queue))}</tbody>
</table></div>
${
  unbound.length > 0
    ? html`<h2>Receivers without a bind</h2>
<p class="muted small">Tasks routed to these identities are still stored, but no consumer is registered under them.</p>
<div class="table-wrap"><table><thead><tr><th>Identity</th><th class="num">Pending</th><th class="num">Crashed</th><th>Last update</th></tr></thead>
<tbody>${unbound.map(
        (queue) => html`<tr><td><a href="${queueHref(ctx, queue.identity)}">${queue.identity}</a></td>
<td class="num">${liveCount(queue.pendingTasks.length, "pending", queue.identity)}</td>
<td class="num">${liveCount(queue.crashedTasks.length, "crashed", queue.identity, { badWhenPositive: true })}</td>
<td>${timeCell(ctx, queue.lastUpdate)}</td></tr>`,
      )}</tbody></table></div>`
    : ""
}
${
  state.unparsableTasks.length > 0
    ? html`<p class="notice error">${state.unparsableTasks.length} stored task document(s) cannot be parsed and are not counted.</p>`
    : ""
}`;
  return renderPage(ctx, { title: "Queues", nav: "queues", body, liveSummary: true });
}

/** Online services (extended client names, spec §1.3) and connections per identity. */
import { html } from "../html.js";
import { type PageContext, queueHref, renderPage } from "../layout.js";
import type { DashboardSnapshot } from "../snapshot.js";

export function renderServicesPage(ctx: PageContext, snapshot: DashboardSnapshot): string {
  const { state } = snapshot;
  const services = [...state.services].sort(
    (a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0) || b.count - a.count,
  );
  const replicas = [...state.replicas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body = html`
<h1>Services</h1>
<p class="subtitle">Services announcing themselves with an extended client name (<code>identity?karton_version=…</code>), and every named connection.</p>
<div class="table-wrap"><table id="services"><thead><tr><th>Identity</th><th>Karton version</th><th>Service version</th><th class="num">Instances</th></tr></thead>
<tbody>${
    services.length === 0
      ? html`<tr><td colspan="4" class="empty">No service with an extended client name is online.</td></tr>`
      : services.map(
          (
            s,
          ) => html`<tr><td>${state.queues.has(s.identity) ? html`<a href="${queueHref(ctx, s.identity)}">${s.identity}</a>` : s.identity}</td>
<td>${s.kartonVersion}</td><td>${s.serviceVersion ?? html`<span class="muted">-</span>`}</td><td class="num">${s.count}</td></tr>`,
        )
  }</tbody></table></div>
<h2>Connections per identity</h2>
<div class="table-wrap"><table id="connections"><thead><tr><th>Identity</th><th>Registered queue</th><th class="num">Connections</th></tr></thead>
<tbody>${replicas.map(
    ([
      identity,
      count,
    ]) => html`<tr><td>${identity === "" ? html`<span class="muted">(unnamed connections)</span>` : identity}</td>
<td>${state.queues.has(identity) ? html`<a href="${queueHref(ctx, identity)}">yes</a>` : html`<span class="muted">no</span>`}</td><td class="num">${count}</td></tr>`,
  )}</tbody></table></div>
${
  state.skippedClientNames.length > 0
    ? html`<h2>Ignored client names</h2><ul>${state.skippedClientNames.map((s) => html`<li><code>${s.name}</code>: ${s.reason}</li>`)}</ul>`
    : ""
}`;
  return renderPage(ctx, { title: "Services", nav: "services", body });
}

/**
 * The page frame (navigation, live-refresh hooks, assets) and small shared fragments: links,
 * status badges, header chips, action forms, pagination.
 */
import type { JsonObject } from "../json/values.js";
import { SCRIPT_VERSION, STYLESHEET_VERSION } from "./assets.js";
import { formatAge, formatTimestamp, headerText, isoTimestamp } from "./format.js";
import { type HtmlValue, html, SafeHtml } from "./html.js";
import type { Page } from "./paginate.js";

/** What every page needs to know about the request and the dashboard. */
export interface PageContext {
  /** Base path ("" or "/prefix"). */
  base: string;
  csrfToken: string;
  /** `[dashboard] token` is set. */
  tokenRequired: boolean;
  /** The request carries a valid session or Bearer token. */
  authenticated: boolean;
  /** Live refresh interval (seconds, 0 = off). */
  refreshSeconds: number;
  /** Current time, Unix seconds. */
  now: number;
  /** The path of this request below the base path (for "next" links), with its query. */
  here: string;
}

export type NavKey = "queues" | "services" | "graph" | "login" | "none";

/** Joins the base path and a path below it (`path` starts with "/"). */
export function href(ctx: Pick<PageContext, "base">, path: string): string {
  return `${ctx.base}${path}`;
}

/** One URL path segment. */
export const seg = encodeURIComponent;

export const queueHref = (ctx: Pick<PageContext, "base">, identity: string, tab?: "crashed") =>
  href(ctx, `/queue/${seg(identity)}${tab ? `/${tab}` : ""}`);
export const taskHref = (ctx: Pick<PageContext, "base">, uid: string) => href(ctx, `/task/${seg(uid)}`);
export const analysisHref = (ctx: Pick<PageContext, "base">, root: string) =>
  href(ctx, `/analysis/${seg(root)}`);

/** Can the viewer use action buttons (no token configured, or logged in)? */
export function canAct(ctx: PageContext): boolean {
  return !ctx.tokenRequired || ctx.authenticated;
}

export interface PageOptions {
  title: string;
  nav: NavKey;
  body: HtmlValue;
  /** Poll the summary API and update `[data-count]` elements. */
  liveSummary?: boolean;
  /** Poll this task's status API and update `[data-task-status]`. */
  liveTask?: string;
}

export function renderPage(ctx: PageContext, options: PageOptions): string {
  const navLink = (key: NavKey, path: string, label: string) =>
    html`<a href="${href(ctx, path)}" class="${options.nav === key ? "active" : ""}">${label}</a>`;
  const live = ctx.refreshSeconds > 0 && (options.liveSummary === true || options.liveTask !== undefined);
  const summaryUrl = live && options.liveSummary ? href(ctx, "/api/summary") : undefined;
  const taskUrl =
    live && options.liveTask ? href(ctx, `/api/task/${seg(options.liveTask)}/status`) : undefined;
  let account: SafeHtml = html``;
  if (ctx.tokenRequired) {
    account = ctx.authenticated
      ? html`<form class="inline" method="post" action="${href(ctx, "/logout")}">
          <input type="hidden" name="_csrf" value="${ctx.csrfToken}">
          <button class="link" type="submit">Log out</button></form>`
      : html`<a href="${href(ctx, `/login?next=${encodeURIComponent(ctx.here)}`)}">Log in</a>`;
  }
  return `<!doctype html>\n${html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>${options.title} · Karton dashboard</title>
<link rel="stylesheet" href="${href(ctx, `/static/dashboard.css?v=${STYLESHEET_VERSION}`)}">
<script src="${href(ctx, `/static/dashboard.js?v=${SCRIPT_VERSION}`)}" defer></script>
</head>
<body data-refresh="${live ? String(ctx.refreshSeconds) : "0"}"${summaryUrl ? html` data-summary-url="${summaryUrl}"` : ""}${taskUrl ? html` data-task-url="${taskUrl}"` : ""}>
<header class="nav"><div class="inner">
  <a class="brand" href="${href(ctx, "/")}">Karton <span>dashboard</span></a>
  <nav>${navLink("queues", "/", "Queues")}${navLink("services", "/services", "Services")}${navLink("graph", "/graph", "Graph")}</nav>
  <div class="right">${live ? html`<span class="live" id="live-status">live</span>` : ""}${account}</div>
</div></header>
<main>
${options.body}
</main>
</body>
</html>`}\n`;
}

/** Status badge; `live` marks the element the task page's refresh updates. */
export function statusBadge(status: string, live = false): SafeHtml {
  return live
    ? html`<span class="badge ${status}" data-task-status>${status}</span>`
    : html`<span class="badge ${status}">${status}</span>`;
}

export function priorityBadge(priority: string): SafeHtml {
  return html`<span class="badge ${priority}">${priority}</span>`;
}

export function yesNo(value: boolean): SafeHtml {
  return html`<span class="badge ${value ? "yes" : "no"}">${value ? "yes" : "no"}</span>`;
}

/** Header chips (`receiver` left out unless asked: it is the queue the list is about). */
export function headerChips(
  headers: JsonObject,
  options: { skip?: readonly string[]; persistent?: JsonObject } = {},
): SafeHtml {
  const skip = new Set(options.skip ?? []);
  return html`${Object.entries(headers)
    .filter(([key]) => !skip.has(key))
    .map(([key, value]) => {
      const kind = key === "type" || key === "kind" ? ` ${key}` : "";
      const persistent = options.persistent && Object.hasOwn(options.persistent, key) ? " persistent" : "";
      return html`<span class="hdr${kind}${persistent}">${key}:${headerText(value)}</span>`;
    })}`;
}

/** A time with its age, the exact value in the tooltip. */
export function timeCell(ctx: PageContext, seconds: number | null): SafeHtml {
  if (seconds === null) return html`<span class="muted">-</span>`;
  return html`<time datetime="${isoTimestamp(seconds)}" title="${formatTimestamp(seconds)}">${formatAge(seconds, ctx.now)}</time>`;
}

/** A count that the live refresh updates. */
export function liveCount(
  value: number,
  kind: "pending" | "crashed" | "replicas",
  identity: string,
  options: { badWhenPositive?: boolean; link?: string } = {},
): SafeHtml {
  const cls = `count${value === 0 ? " zero" : ""}${options.badWhenPositive && value > 0 ? " bad" : ""}`;
  const span = html`<span class="${cls}" data-count="${kind}" data-queue="${identity}"${options.badWhenPositive ? html` data-bad-when-positive` : ""}>${value}</span>`;
  return options.link ? html`<a href="${options.link}">${span}</a>` : span;
}

export interface ActionFormOptions {
  label: string;
  style?: "primary" | "danger" | "";
  confirm?: string;
  small?: boolean;
  /** Where to go afterwards (a path below the base path). */
  next?: string;
}

/** A POST button with the CSRF token (or a log-in hint when the viewer cannot act). */
export function actionForm(ctx: PageContext, action: string, options: ActionFormOptions): SafeHtml {
  if (!canAct(ctx)) {
    return html`<a class="button${options.small ? " small" : ""}" href="${href(ctx, `/login?next=${encodeURIComponent(ctx.here)}`)}" title="Log in to ${options.label.toLowerCase()}">${options.label}…</a>`;
  }
  const cls = [options.style ?? "", options.small ? "small" : ""].filter((x) => x !== "").join(" ");
  return html`<form class="inline" method="post" action="${action}"${options.confirm ? html` data-confirm="${options.confirm}"` : ""}>
<input type="hidden" name="_csrf" value="${ctx.csrfToken}">${options.next !== undefined ? html`<input type="hidden" name="next" value="${options.next}">` : ""}<button type="submit" class="${cls}">${options.label}</button></form>`;
}

/** Search box + pager for a paginated list. `path` is the list's path below the base. */
export function listToolbar(
  ctx: PageContext,
  path: string,
  page: Page<unknown>,
  query: string,
  placeholder: string,
) {
  return html`<div class="toolbar">
  <form method="get" action="${href(ctx, path)}" role="search">
    <input type="search" name="q" value="${query}" placeholder="${placeholder}" aria-label="Search">
    <button type="submit">Search</button>${query !== "" ? html` <a class="button" href="${href(ctx, path)}">Clear</a>` : ""}
  </form>
  ${pager(ctx, path, page, query)}
</div>`;
}

export function pager(ctx: PageContext, path: string, page: Page<unknown>, query: string): SafeHtml {
  const link = (n: number) => {
    const params = new URLSearchParams();
    if (query !== "") params.set("q", query);
    if (n > 1) params.set("page", String(n));
    const qs = params.toString();
    return href(ctx, `${path}${qs === "" ? "" : `?${qs}`}`);
  };
  const range = page.total === 0 ? "0" : `${page.from + 1}–${page.to} of ${page.total}`;
  return html`<div class="pager"><span>${range}</span><span>·</span>${
    page.page > 1 ? html`<a class="button small" href="${link(page.page - 1)}" rel="prev">‹ Prev</a>` : ""
  }<span>page ${page.page} / ${page.pages}</span>${
    page.page < page.pages
      ? html`<a class="button small" href="${link(page.page + 1)}" rel="next">Next ›</a>`
      : ""
  }</div>`;
}

/** A notice box for `?notice=` codes (fixed texts only: nothing from the URL is shown). */
export function noticeBox(text: string | undefined, kind: "ok" | "error" | "" = "ok"): SafeHtml {
  return text === undefined ? html`` : html`<div class="notice ${kind}" role="status">${text}</div>`;
}

export { SafeHtml };

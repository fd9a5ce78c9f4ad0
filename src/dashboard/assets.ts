/**
 * The dashboard's only static assets: one stylesheet and one small script (no build step). Served
 * from `/static/` with a content hash in the URL, so pages need no inline styles or scripts and the
 * Content-Security-Policy can forbid them.
 */
import { createHash } from "node:crypto";

export const STYLESHEET = `
:root {
  --bg: #f4f6f9; --panel: #fff; --text: #1d2433; --muted: #5f6b7d; --line: #dde2ea;
  --nav: #16202e; --nav-text: #d7deea; --accent: #2563eb; --accent-dark: #1d4ed8;
  --red: #c62828; --red-bg: #fdecea; --green: #2e7d32; --green-bg: #e8f5e9; --amber: #b26a00;
  --amber-bg: #fff4e0; --blue-bg: #e8f0fe; --gray-bg: #eef1f5;
  --mono: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html { font-size: 14px; }
body { margin: 0; background: var(--bg); color: var(--text);
  font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto, sans-serif; line-height: 1.45; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: var(--mono); font-size: 0.92em; }
header.nav { background: var(--nav); color: var(--nav-text); }
header.nav .inner { max-width: 1440px; margin: 0 auto; padding: 0 20px; display: flex; align-items: center; gap: 24px; height: 52px; }
header.nav .brand { color: #fff; font-weight: 650; font-size: 1.15rem; letter-spacing: 0.2px; }
header.nav .brand span { color: #7fb0ff; }
header.nav nav { display: flex; gap: 4px; flex: 1; }
header.nav nav a { color: var(--nav-text); padding: 6px 12px; border-radius: 6px; }
header.nav nav a:hover { background: #243247; text-decoration: none; }
header.nav nav a.active { background: #2b3c56; color: #fff; }
header.nav .right { display: flex; align-items: center; gap: 12px; font-size: 0.9rem; }
header.nav .right a, header.nav .right button.link { color: var(--nav-text); }
.live { font-size: 0.85rem; color: #9fb0c8; white-space: nowrap; }
.live.error { color: #ff9c9c; }
main { max-width: 1440px; margin: 0 auto; padding: 22px 20px 48px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; font-weight: 650; word-break: break-all; }
h2 { font-size: 1.15rem; margin: 28px 0 10px; font-weight: 650; }
h3 { font-size: 1rem; margin: 18px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 18px; }
.crumbs { color: var(--muted); font-size: 0.9rem; margin-bottom: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 14px 0 22px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card .label { color: var(--muted); font-size: 0.82rem; text-transform: uppercase; letter-spacing: 0.5px; }
.card .value { font-size: 1.6rem; font-weight: 650; margin-top: 2px; }
.card.alert .value { color: var(--red); }
.card .value.small { font-size: 1.1rem; padding-top: 8px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; margin-bottom: 18px; }
.panel > h2:first-child, .panel > h3:first-child { margin-top: 0; }
table { width: 100%; border-collapse: collapse; background: var(--panel); }
.table-wrap { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; overflow-x: auto; }
th, td { text-align: left; padding: 8px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.4px; color: var(--muted); background: #f8f9fb; font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: none; }
tbody tr:hover { background: #f9fbff; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.uid { font-family: var(--mono); font-size: 0.88rem; word-break: break-all; }
.empty { color: var(--muted); padding: 18px; text-align: center; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 0.8rem; font-weight: 600;
  background: var(--gray-bg); color: #344054; white-space: nowrap; border: 1px solid transparent; }
.badge.Spawned { background: var(--blue-bg); color: #1a4fb5; }
.badge.Started { background: var(--amber-bg); color: var(--amber); }
.badge.Crashed { background: var(--red-bg); color: var(--red); }
.badge.Finished { background: var(--green-bg); color: var(--green); }
.badge.Declared { background: var(--gray-bg); color: #475467; }
.badge.high { background: #fde7f3; color: #a0115c; }
.badge.low { background: var(--gray-bg); color: #667085; }
.badge.yes { background: var(--green-bg); color: var(--green); }
.badge.no { background: var(--gray-bg); color: #667085; }
.hdr { display: inline-block; font-family: var(--mono); font-size: 0.8rem; background: #eef2f8; border: 1px solid #dbe3ef;
  border-radius: 5px; padding: 0 6px; margin: 1px 3px 1px 0; white-space: nowrap; }
.hdr.type { background: #e3ecff; border-color: #c7d7fb; }
.hdr.kind { background: #e0f4f4; border-color: #bfe3e3; }
.hdr.persistent { border-style: dashed; }
.filters { max-width: 380px; min-width: 200px; } .filters .hdr { white-space: normal; word-break: break-word; }
.count { font-weight: 600; font-variant-numeric: tabular-nums; }
.count.zero { color: #98a2b3; font-weight: 400; }
.count.bad { color: var(--red); }
.desc { color: #344054; max-width: 46ch; min-width: 150px; }
.versions div, td time, .nowrap { white-space: nowrap; }
td.tree-cell { white-space: nowrap; }
.desc p { margin: 0 0 6px; }
.desc pre { background: #f6f8fa; padding: 6px 8px; border-radius: 6px; overflow-x: auto; }
.markdown p { margin: 0 0 8px; } .markdown pre { background: #f6f8fa; padding: 8px 10px; border-radius: 6px; overflow-x: auto; }
details summary { cursor: pointer; color: var(--muted); }
dl.props { display: grid; grid-template-columns: 190px 1fr; gap: 8px 16px; margin: 0; }
dl.props dt { color: var(--muted); font-weight: 500; }
dl.props dd { margin: 0; word-break: break-all; }
pre.block { background: #0f1722; color: #e6edf3; padding: 14px 16px; border-radius: 8px; overflow-x: auto; margin: 0;
  font-size: 0.85rem; line-height: 1.5; white-space: pre; }
pre.trace { background: #1e1214; color: #ffd9d9; border-left: 4px solid var(--red); }
.errline { color: var(--red); font-family: var(--mono); font-size: 0.85rem; word-break: break-word; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0 16px; }
td.actions { margin: 0; flex-wrap: nowrap; }
form.inline { display: inline; margin: 0; }
button, .button { font: inherit; font-size: 0.9rem; border-radius: 7px; padding: 6px 14px; cursor: pointer;
  border: 1px solid var(--line); background: #fff; color: var(--text); display: inline-block; }
button:hover, .button:hover { background: #f3f5f8; text-decoration: none; }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover, .button.primary:hover { background: var(--accent-dark); }
button.danger { color: var(--red); border-color: #f0b8b8; }
button.danger:hover { background: var(--red-bg); }
button.small, .button.small { padding: 2px 10px; font-size: 0.82rem; }
button.link { background: none; border: none; padding: 0; color: var(--accent); }
.toolbar { display: flex; justify-content: space-between; align-items: center; gap: 12px; margin: 10px 0; flex-wrap: wrap; }
.toolbar form { display: flex; gap: 6px; }
input[type=search], input[type=password], input[type=text] { font: inherit; padding: 6px 10px; border: 1px solid var(--line);
  border-radius: 7px; min-width: 340px; background: #fff; }
.tabs { display: flex; gap: 2px; border-bottom: 1px solid var(--line); margin: 18px 0 0; }
.tabs a { padding: 8px 16px; color: var(--muted); border-bottom: 2px solid transparent; margin-bottom: -1px; }
.tabs a.active { color: var(--text); border-bottom-color: var(--accent); font-weight: 600; }
.tabs a:hover { text-decoration: none; color: var(--text); }
.pager { display: flex; gap: 6px; align-items: center; justify-content: flex-end; margin: 10px 0; color: var(--muted); }
.notice { background: var(--blue-bg); border: 1px solid #c7d7fb; border-radius: 8px; padding: 10px 14px; margin-bottom: 16px; }
.notice.ok { background: var(--green-bg); border-color: #b7dfb9; }
.notice.error { background: var(--red-bg); border-color: #f0b8b8; color: #7a1a1a; }
.muted { color: var(--muted); }
.small { font-size: 0.85rem; }
.resources td { vertical-align: middle; }
.graph-wrap { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; overflow: auto; padding: 10px; }
.graph-wrap svg { display: block; }
svg .node rect { fill: #fff; stroke: #9db4d9; stroke-width: 1.2; }
svg .node.consumer rect { fill: #f1f6ff; }
svg .node.producer-only rect { fill: #fff8ec; stroke: #e2b66b; }
svg .node a:hover rect { stroke: var(--accent); stroke-width: 2; }
svg .node text { font-size: 12.5px; fill: #1d2433; }
svg .node text.meta { font-size: 10.5px; fill: #667085; }
svg .edge { fill: none; stroke: #8aa0c2; stroke-width: 1.4; }
svg .edge.back { stroke-dasharray: 5 4; stroke: #c98d8d; }
svg .arrow { fill: #8aa0c2; }
.legend { display: flex; gap: 16px; color: var(--muted); font-size: 0.85rem; margin: 8px 0 12px; }
.legend .sw { display: inline-block; width: 14px; height: 10px; border-radius: 3px; border: 1px solid #9db4d9; margin-right: 5px; vertical-align: middle; }
.legend .sw.consumer { background: #f1f6ff; } .legend .sw.producer { background: #fff8ec; border-color: #e2b66b; }
.login { max-width: 420px; margin: 40px auto; }
.login input { width: 100%; margin: 8px 0 12px; }
.xrefs { display: flex; gap: 8px; flex-wrap: wrap; }
.tree { font-family: var(--mono); font-size: 0.85rem; white-space: pre; }
`;

export const SCRIPT = `
"use strict";
(function () {
  var body = document.body;
  // Confirmation of bulk actions.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  var summaryUrl = body.getAttribute("data-summary-url");
  var taskUrl = body.getAttribute("data-task-url");
  var interval = Number(body.getAttribute("data-refresh") || "0");
  var status = document.getElementById("live-status");
  if (!interval || (!summaryUrl && !taskUrl)) return;
  function setText(selector, value) {
    var nodes = document.querySelectorAll(selector);
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var text = String(value);
      if (node.textContent !== text) node.textContent = text;
      if (node.classList.contains("count")) {
        node.classList.toggle("zero", Number(value) === 0);
        if (node.hasAttribute("data-bad-when-positive")) node.classList.toggle("bad", Number(value) > 0);
      }
    }
  }
  function esc(value) { return String(value).replace(/["\\\\]/g, "\\\\$&"); }
  function applySummary(data) {
    var queues = data.queues || {};
    for (var identity in queues) {
      var q = queues[identity];
      var key = esc(identity);
      setText('[data-count="pending"][data-queue="' + key + '"]', q.pending);
      setText('[data-count="crashed"][data-queue="' + key + '"]', q.crashed);
      setText('[data-count="replicas"][data-queue="' + key + '"]', q.replicas);
    }
    var totals = data.totals || {};
    for (var name in totals) setText('[data-total="' + esc(name) + '"]', totals[name]);
  }
  function applyTask(data) {
    var node = document.querySelector("[data-task-status]");
    if (node && data.status && node.textContent !== data.status) {
      node.textContent = data.status;
      node.className = "badge " + data.status;
    }
  }
  function tick() {
    var url = summaryUrl || taskUrl;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (summaryUrl) applySummary(data); else applyTask(data);
        if (status) {
          status.classList.remove("error");
          status.textContent = "live \\u00b7 " + new Date().toLocaleTimeString();
        }
      })
      .catch(function () {
        if (status) { status.classList.add("error"); status.textContent = "live refresh failed"; }
      })
      .finally(function () { window.setTimeout(tick, interval * 1000); });
  }
  window.setTimeout(tick, interval * 1000);
})();
`;

function digest(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

export const STYLESHEET_VERSION = digest(STYLESHEET);
export const SCRIPT_VERSION = digest(SCRIPT);

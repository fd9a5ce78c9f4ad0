/** The producer → consumer graph as a layered SVG, plus the edge list. */
import { headerText } from "../format.js";
import type { GraphNode, KartonGraph } from "../graph.js";
import { html, type SafeHtml } from "../html.js";
import { type PageContext, queueHref, renderPage } from "../layout.js";

const NODE_W = 230;
const NODE_H = 46;
const COL_GAP = 110;
const ROW_GAP = 22;
const PAD = 24;

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function position(node: GraphNode): { x: number; y: number } {
  return { x: PAD + node.layer * (NODE_W + COL_GAP), y: PAD + node.row * (NODE_H + ROW_GAP) };
}

/** y of the free band above row `row` of any column (row = column length: below its last node). */
function gapY(row: number): number {
  return PAD + row * (NODE_H + ROW_GAP) - ROW_GAP / 2;
}

/** A smooth curve between two points with horizontal tangents. */
function curve(x1: number, y1: number, x2: number, y2: number): string {
  const dx = Math.max(24, Math.abs(x2 - x1) / 2);
  return `C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
}

/**
 * The path of an edge: a curve to the next column; across intermediate columns it runs through the
 * free band between two nodes nearest to the straight line (never through a node); an edge pointing
 * backwards leaves to the right, runs back along the band above both nodes and enters from the left.
 */
function edgePath(graph: KartonGraph, from: GraphNode, to: GraphNode): string {
  const a = position(from);
  const b = position(to);
  const x1 = a.x + NODE_W;
  const y1 = a.y + NODE_H / 2;
  const x2 = b.x - 2;
  const y2 = b.y + NODE_H / 2;
  if (to.layer <= from.layer) {
    const band = gapY(Math.min(from.row, to.row));
    const out = x1 + COL_GAP / 3;
    const back = b.x - COL_GAP / 3;
    return `M ${x1} ${y1} ${curve(x1, y1, out, band)} L ${back} ${band} ${curve(back, band, x2, y2)}`;
  }
  let d = `M ${x1} ${y1}`;
  let px = x1;
  let py = y1;
  for (let layer = from.layer + 1; layer < to.layer; layer++) {
    const x0 = PAD + layer * (NODE_W + COL_GAP);
    const t = (x0 + NODE_W / 2 - x1) / (x2 - x1);
    const straight = y1 + t * (y2 - y1);
    const rows = graph.layers[layer]?.length ?? 0;
    let y: number;
    if (straight > gapY(rows)) {
      y = straight; // below the column's last node: free space
    } else {
      let best = 0;
      for (let r = 1; r <= rows; r++)
        if (Math.abs(gapY(r) - straight) < Math.abs(gapY(best) - straight)) best = r;
      y = gapY(best);
    }
    d += ` ${curve(px, py, x0 - 6, y)} L ${x0 + NODE_W + 6} ${y}`;
    px = x0 + NODE_W + 6;
    py = y;
  }
  return `${d} ${curve(px, py, x2, y2)}`;
}

export function renderGraphSvg(ctx: PageContext, graph: KartonGraph): SafeHtml {
  const byId = new Map(graph.nodes.map((n) => [n.identity, n]));
  const columns = graph.layers.length;
  const rows = Math.max(0, ...graph.layers.map((l) => l.length));
  const width = PAD * 2 + columns * NODE_W + Math.max(0, columns - 1) * COL_GAP + 40;
  const height = PAD * 2 + rows * NODE_H + Math.max(0, rows - 1) * ROW_GAP;
  const edges = graph.edges.map((edge) => {
    const from = byId.get(edge.from);
    const to = byId.get(edge.to);
    if (!from || !to || from.layer < 0 || to.layer < 0) return html``;
    const a = position(from);
    let d: string;
    if (edge.from === edge.to) {
      const x = a.x + NODE_W;
      const y = a.y + NODE_H / 2;
      d = `M ${x} ${y - 8} C ${x + 40} ${y - 34}, ${x + 40} ${y + 34}, ${x + 2} ${y + 8}`;
    } else {
      d = edgePath(graph, from, to);
    }
    return html`<path class="edge${edge.back ? " back" : ""}" d="${d}" marker-end="url(#arrow)"><title>${edge.from} → ${edge.to} (${edge.matches} header set${edge.matches === 1 ? "" : "s"})</title></path>`;
  });
  const nodes = graph.nodes
    .filter((n) => n.layer >= 0)
    .map((n) => {
      const { x, y } = position(n);
      const cls = n.consumer ? "consumer" : "producer-only";
      const meta = n.consumer
        ? `${n.serviceVersion ?? n.version ?? ""} · ${n.replicas} replica${n.replicas === 1 ? "" : "s"}`
        : "producer (no queue)";
      const box = html`<rect x="${x}" y="${y}" width="${NODE_W}" height="${NODE_H}" rx="8"></rect>
<text x="${x + 12}" y="${y + 19}">${truncate(n.identity, 30)}</text>
<text class="meta" x="${x + 12}" y="${y + 36}">${truncate(meta, 38)}</text><title>${n.identity}</title>`;
      return html`<g class="node ${cls}">${n.consumer ? html`<a href="${queueHref(ctx, n.identity)}">${box}</a>` : box}</g>`;
    });
  return html`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Producer to consumer graph">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrow" d="M 0 0 L 10 5 L 0 10 z"></path></marker></defs>
${edges}
${nodes}
</svg>`;
}

export function renderGraphPage(ctx: PageContext, graph: KartonGraph): string {
  const body = html`
<h1>Graph</h1>
<p class="subtitle">Producers → consumers: an arrow means that a task the producer sent (recorded by the router in
<code>karton.outputs:*</code>) matches the consumer's filters.</p>
<div class="legend"><span><span class="sw consumer"></span>consumer (queue)</span><span><span class="sw producer"></span>producer only</span><span>dashed: edge closing a cycle</span></div>
${
  graph.edges.length === 0
    ? html`<div class="panel muted">No edges yet: the router records what each producer sends (task tracking, <code>[system] enable_task_tracking</code>), and nothing recorded matches a consumer.</div>`
    : html`<div class="graph-wrap">${renderGraphSvg(ctx, graph)}</div>`
}
<h2>Edges</h2>
<div class="table-wrap"><table id="edges"><thead><tr><th>Producer</th><th>Consumer</th><th class="num">Matching header sets</th><th>Example</th></tr></thead>
<tbody>${
    graph.edges.length === 0
      ? html`<tr><td colspan="4" class="empty">None.</td></tr>`
      : graph.edges.map(
          (
            e,
          ) => html`<tr><td>${e.from}</td><td><a href="${queueHref(ctx, e.to)}">${e.to}</a></td><td class="num">${e.matches}</td>
<td>${Object.entries(e.example).map(([k, v]) => html`<span class="hdr">${k}:${headerText(v)}</span>`)}</td></tr>`,
        )
  }</tbody></table></div>
${
  graph.isolated.length > 0
    ? html`<h2>Not connected</h2><p class="muted small">No recorded task connects these identities to others.</p>
<p>${graph.isolated.map((id) => {
        const node = graph.nodes.find((n) => n.identity === id);
        return node?.consumer
          ? html`<a class="hdr" href="${queueHref(ctx, id)}">${id}</a> `
          : html`<span class="hdr">${id}</span> `;
      })}</p>`
    : ""
}`;
  return renderPage(ctx, { title: "Graph", nav: "graph", body });
}

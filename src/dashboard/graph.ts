/**
 * The producer → consumer graph: which identities send tasks that which consumers take.
 *
 * Nodes: every bind (consumer) and every origin recorded by the router's task tracking
 * (`karton.outputs:<origin>`, spec §5.4). An edge P → C exists when one of the header sets P sent
 * matches C's filters with the real filter engine (wildcards, `!` negation, `$`-queries), unlike
 * Python's dashboard, which compares filter values for plain equality. Filters that cannot be
 * evaluated against a header set count as no match.
 *
 * The layout is layered, left to right: sources first, then each node one column right of its
 * furthest predecessor (edges closing a cycle are ignored for layering and drawn dashed).
 */
import type { Bind } from "../bind/bind.js";
import { compileFilters } from "../filters/index.js";
import type { JsonObject } from "../json/values.js";

export interface GraphNode {
  identity: string;
  /** Has a bind (a consumer queue). */
  consumer: boolean;
  /** Has recorded outputs. */
  producer: boolean;
  /** Bind `version` and `service_version` when bound. */
  version: string | null;
  serviceVersion: string | null;
  /** Online connections (replicas). */
  replicas: number;
  /** Column and row in the layered layout (isolated nodes: -1). */
  layer: number;
  row: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** How many of the producer's recorded header sets the consumer's filters match. */
  matches: number;
  /** One matching header set. */
  example: JsonObject;
  /** True when the edge closes a cycle or points backwards in the layout. */
  back: boolean;
}

export interface KartonGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Columns of the layered layout (identities in row order); isolated nodes are not in them. */
  layers: string[][];
  /** Nodes without any edge. */
  isolated: string[];
}

/** Builds the graph (pure: binds, outputs per origin and replica counts already read). */
export function buildGraph(
  binds: readonly Bind[],
  outputs: ReadonlyMap<string, readonly JsonObject[]>,
  replicas: ReadonlyMap<string, number> = new Map(),
): KartonGraph {
  const nodes = new Map<string, GraphNode>();
  const node = (identity: string): GraphNode => {
    let n = nodes.get(identity);
    if (!n) {
      n = {
        identity,
        consumer: false,
        producer: false,
        version: null,
        serviceVersion: null,
        replicas: replicas.get(identity) ?? 0,
        layer: -1,
        row: -1,
      };
      nodes.set(identity, n);
    }
    return n;
  };
  for (const bind of binds) {
    const n = node(bind.identity);
    n.consumer = true;
    n.version = bind.version;
    n.serviceVersion = bind.serviceVersion;
  }
  for (const [origin, sets] of outputs) if (sets.length > 0) node(origin).producer = true;

  const edges: GraphEdge[] = [];
  const compiled = binds.map((bind) => ({
    bind,
    filters: compileFilters(bind.filters, { validate: false }),
  }));
  for (const [origin, sets] of outputs) {
    for (const { bind, filters } of compiled) {
      let matches = 0;
      let example: JsonObject | undefined;
      for (const headers of sets) {
        if (filters.tryMatches(headers)) {
          matches++;
          example ??= headers;
        }
      }
      if (example !== undefined)
        edges.push({ from: origin, to: bind.identity, matches, example, back: false });
    }
  }
  edges.sort((a, b) => cmp(a.from, b.from) || cmp(a.to, b.to));
  const { layers, isolated } = layout([...nodes.keys()].sort(cmp), edges);
  layers.forEach((column, layer) => {
    column.forEach((identity, row) => {
      const n = nodes.get(identity) as GraphNode;
      n.layer = layer;
      n.row = row;
    });
  });
  for (const edge of edges) {
    const from = nodes.get(edge.from) as GraphNode;
    const to = nodes.get(edge.to) as GraphNode;
    if (to.layer <= from.layer) edge.back = true;
  }
  return {
    nodes: [...nodes.values()].sort((a, b) => cmp(a.identity, b.identity)),
    edges,
    layers,
    isolated,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Longest-path layering ignoring back edges, then barycentre ordering within each column. */
function layout(
  ids: readonly string[],
  edges: readonly GraphEdge[],
): { layers: string[][]; isolated: string[] } {
  const out = new Map<string, string[]>();
  const connected = new Set<string>();
  for (const e of edges) {
    if (e.from === e.to) {
      connected.add(e.from);
      continue;
    }
    out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
    connected.add(e.from);
    connected.add(e.to);
  }
  const isolated = ids.filter((id) => !connected.has(id));
  const members = ids.filter((id) => connected.has(id));
  // DFS from sources first (then the rest) to find the edges that close cycles.
  const incoming = new Map<string, number>();
  for (const [, tos] of out) for (const to of tos) incoming.set(to, (incoming.get(to) ?? 0) + 1);
  const order = [...members].sort((a, b) => (incoming.get(a) ?? 0) - (incoming.get(b) ?? 0) || cmp(a, b));
  const state = new Map<string, 1 | 2>();
  const forward = new Map<string, string[]>();
  const visit = (id: string): void => {
    state.set(id, 1);
    for (const to of out.get(id) ?? []) {
      const s = state.get(to);
      if (s === 1) continue; // back edge: closes a cycle
      forward.set(id, [...(forward.get(id) ?? []), to]);
      if (s === undefined) visit(to);
    }
    state.set(id, 2);
  };
  for (const id of order) if (!state.has(id)) visit(id);
  // Longest path over the acyclic forward edges (Kahn's order).
  const indeg = new Map<string, number>(members.map((id) => [id, 0]));
  for (const [, tos] of forward) for (const to of tos) indeg.set(to, (indeg.get(to) ?? 0) + 1);
  const layerOf = new Map<string, number>(members.map((id) => [id, 0]));
  const queue = members.filter((id) => indeg.get(id) === 0);
  while (queue.length > 0) {
    const id = queue.shift() as string;
    for (const to of forward.get(id) ?? []) {
      layerOf.set(to, Math.max(layerOf.get(to) ?? 0, (layerOf.get(id) ?? 0) + 1));
      const d = (indeg.get(to) ?? 0) - 1;
      indeg.set(to, d);
      if (d === 0) queue.push(to);
    }
  }
  const count = Math.max(-1, ...layerOf.values()) + 1;
  const layers: string[][] = Array.from({ length: count }, () => []);
  for (const id of members) layers[layerOf.get(id) as number]?.push(id);
  // Order each column by the mean row of its predecessors (two sweeps keep crossings low).
  const preds = new Map<string, string[]>();
  for (const [from, tos] of forward) for (const to of tos) preds.set(to, [...(preds.get(to) ?? []), from]);
  for (let sweep = 0; sweep < 2; sweep++) {
    const rowOf = new Map<string, number>();
    layers.forEach((column) => {
      column.forEach((id, row) => {
        rowOf.set(id, row);
      });
    });
    for (let l = 1; l < layers.length; l++) {
      const column = layers[l] as string[];
      const score = (id: string) => {
        const p = (preds.get(id) ?? []).map((x) => rowOf.get(x) ?? 0);
        return p.length === 0 ? Number.MAX_SAFE_INTEGER : p.reduce((a, b) => a + b, 0) / p.length;
      };
      column.sort((a, b) => score(a) - score(b) || cmp(a, b));
      column.forEach((id, row) => {
        rowOf.set(id, row);
      });
    }
  }
  return { layers, isolated };
}

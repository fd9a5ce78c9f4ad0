/**
 * One reading of everything the pages, the JSON API and the metrics show about the whole
 * deployment: the read model of src/inspect (binds, replicas, services, every task, queues,
 * analyses) plus the five metrics hashes. Loaded through a {@link TtlCache} so that many pages,
 * browsers and scrapers share one reading per TTL.
 */
import type { KartonBackend } from "../backend/backend.js";
import type { KartonMetric } from "../backend/types.js";
import { KartonState } from "../inspect/index.js";

export interface DashboardSnapshot {
  state: KartonState;
  metrics: Record<KartonMetric, Record<string, number>>;
}

/** Reads a snapshot: `KartonState.load` and `getMetrics` in parallel. */
export async function loadSnapshot(backend: KartonBackend): Promise<DashboardSnapshot> {
  const [state, metrics] = await Promise.all([KartonState.load(backend), backend.getMetrics()]);
  return { state, metrics };
}

/**
 * Prometheus metrics (`/metrics`, and `/varz` like Python's dashboard), one prom-client registry
 * per dashboard app. Reference names and labels of karton-dashboard:
 *
 * - `karton_tasks{name,priority,status}`: tasks of every bound queue (pending and crashed) per
 *   priority and status; every priority×status pair of a queue is present (0 when none). `name` is
 *   the identity lower-cased with every character outside `[a-z0-9]` replaced by `_` (as Python).
 * - `karton_replicas{name,version}`: connections of the identity; `version` = the bind's `version`.
 * - `karton_metrics{metric,name}`: the five `karton.metrics.*` hashes (`metric` = produced, assigned,
 *   consumed, crashed, garbage-collected; `name` = the identity as stored).
 *
 * karton-ts additions:
 * - `karton_queue_oldest_pending_age_seconds{name}`: age of the oldest Spawned task of a queue
 *   (waiting for a consumer), 0 when none — for autoscalers;
 * - `karton_dashboard_state_age_seconds`, `karton_dashboard_state_load_seconds`,
 *   `karton_dashboard_state_loads_total`: freshness and cost of the cached state reading.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { TaskPriority, TaskState } from "../task/enums.js";
import type { DashboardSnapshot } from "./snapshot.js";
import type { CachedValue } from "./state-cache.js";

/** Python's label form of an identity: lower-case, `[^a-z0-9]` → `_`. */
export function safeMetricName(identity: string): string {
  return identity.toLowerCase().replace(/[^a-z0-9]/g, "_");
}

const METRIC_ORDER = ["assigned", "consumed", "crashed", "garbage-collected", "produced"] as const;

export class DashboardMetrics {
  readonly registry = new Registry();
  readonly #tasks: Gauge<"name" | "priority" | "status">;
  readonly #replicas: Gauge<"name" | "version">;
  readonly #metrics: Gauge<"metric" | "name">;
  readonly #oldest: Gauge<"name">;
  readonly #stateAge: Gauge;
  readonly #stateLoad: Gauge;
  readonly #stateLoads: Counter;
  #countedLoads = 0;

  constructor() {
    const registers = [this.registry];
    this.#tasks = new Gauge({
      name: "karton_tasks",
      help: "Pending tasks",
      labelNames: ["name", "priority", "status"],
      registers,
    });
    this.#replicas = new Gauge({
      name: "karton_replicas",
      help: "Replicas",
      labelNames: ["name", "version"],
      registers,
    });
    this.#metrics = new Gauge({
      name: "karton_metrics",
      help: "Metrics",
      labelNames: ["metric", "name"],
      registers,
    });
    this.#oldest = new Gauge({
      name: "karton_queue_oldest_pending_age_seconds",
      help: "Age of the oldest task waiting in the queue (status Spawned), 0 when none",
      labelNames: ["name"],
      registers,
    });
    this.#stateAge = new Gauge({
      name: "karton_dashboard_state_age_seconds",
      help: "Age of the cached state reading these metrics come from",
      registers,
    });
    this.#stateLoad = new Gauge({
      name: "karton_dashboard_state_load_seconds",
      help: "Duration of the last full state reading (all binds, clients and task documents)",
      registers,
    });
    this.#stateLoads = new Counter({
      name: "karton_dashboard_state_loads_total",
      help: "Full state readings done by this dashboard",
      registers,
    });
  }

  /** Sets every gauge from a snapshot (clearing queues that disappeared). */
  update(cached: CachedValue<DashboardSnapshot>, totalLoads: number, nowMs: number = Date.now()): void {
    const { state, metrics } = cached.value;
    const now = nowMs / 1000;
    this.#tasks.reset();
    this.#replicas.reset();
    this.#oldest.reset();
    this.#metrics.reset();
    for (const queue of state.queues.values()) {
      if (queue.bind === null) continue;
      const name = safeMetricName(queue.identity);
      const counts = new Map<string, number>();
      for (const task of [...queue.pendingTasks, ...queue.crashedTasks]) {
        const key = `${task.priority}\0${task.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const priority of Object.values(TaskPriority)) {
        for (const status of Object.values(TaskState)) {
          this.#tasks.set({ name, priority, status }, counts.get(`${priority}\0${status}`) ?? 0);
        }
      }
      this.#replicas.set({ name, version: queue.bind.version }, queue.replicas);
      let oldest: number | undefined;
      for (const task of queue.pendingTasks) {
        if (task.status !== TaskState.Spawned) continue;
        if (oldest === undefined || task.lastUpdate < oldest) oldest = task.lastUpdate;
      }
      this.#oldest.set({ name }, oldest === undefined ? 0 : Math.max(0, now - oldest));
    }
    for (const metric of METRIC_ORDER) {
      const values = metrics[metric as keyof typeof metrics] ?? {};
      for (const [name, value] of Object.entries(values)) {
        if (Number.isFinite(value)) this.#metrics.set({ metric, name }, value);
      }
    }
    this.#stateAge.set(Math.max(0, (nowMs - cached.loadedAt) / 1000));
    this.#stateLoad.set(cached.loadMs / 1000);
    if (totalLoads > this.#countedLoads) {
      this.#stateLoads.inc(totalLoads - this.#countedLoads);
      this.#countedLoads = totalLoads;
    }
  }

  /** The text exposition format. */
  async render(): Promise<string> {
    return await this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * `KartonState`: a point-in-time read model of a Karton deployment, shared by the `karton` CLI and
 * the dashboard (the TypeScript counterpart of Python's `karton.core.inspect`, spec §12).
 *
 * Cost of {@link KartonState.load} (with the defaults):
 * - one `HGETALL karton.binds` and one `CLIENT LIST`;
 * - one pass over every task document (`SCAN MATCH karton.task:* COUNT 1000` + `MGET` of 1000 keys
 *   per round trip); every document is parsed (resources are not decoded) and kept in memory, so
 *   memory grows with the number of stored tasks, as with Python's dashboard;
 * - per bind, one pipeline of four `LLEN` (bare legacy list and the three priorities), all binds
 *   in parallel with the scan.
 * Pass `{ tasks: false }` and/or `{ queueLengths: false }` to skip the scan or the lengths when a
 * view does not need them (e.g. `karton list`).
 */
import type { BindsSnapshot, KartonBackend } from "../backend/backend.js";
import type { OnlineClient } from "../backend/types.js";
import type { Bind } from "../bind/bind.js";
import { nowSeconds, type Task } from "../task/task.js";
import {
  byLastUpdate,
  isCrashed,
  isPending,
  type ParsedTasks,
  parseRawTasks,
  receiverOf,
  type UnparsableTask,
} from "./tasks.js";

/** A `karton.binds` entry that could not be parsed. */
export interface InvalidBind {
  identity: string;
  raw: string;
  reason: string;
}

/** Lengths of a consumer's queues: the bare legacy list and the three priorities. */
export interface QueueLengths {
  bare: number;
  high: number;
  normal: number;
  low: number;
}

/** A running service as the extended client names show it (spec §1.3), aggregated. */
export interface ServiceInfo {
  identity: string;
  kartonVersion: string;
  serviceVersion: string | null;
  /** Connections with this exact (identity, karton version, service version). */
  count: number;
}

/** An extended client name that was left out of {@link KartonState.services}, with the reason. */
export interface SkippedClientName {
  name: string;
  reason: string;
}

/**
 * One consumer queue: the bind, the replicas online and the tasks routed to it.
 *
 * In {@link KartonState.queues} (one per `karton.binds` entry) `bind` is null only when the entry
 * is unreadable (`invalidBind` says why). In {@link KartonState.unboundQueues} (receivers of stored
 * tasks that have no bind) both are null.
 */
export interface KartonQueue {
  identity: string;
  bind: Bind | null;
  invalidBind: InvalidBind | null;
  /** Connections whose client name (cut at `?`) is the identity. */
  replicas: number;
  /** Tasks with `receiver` = identity and a status other than Finished/Crashed, oldest first. */
  pendingTasks: Task[];
  /** Tasks with `receiver` = identity and status Crashed, oldest first. */
  crashedTasks: Task[];
  /** Newest `last_update` of the pending and crashed tasks; null without tasks. */
  lastUpdate: number | null;
  /** Queue lengths, or null when not loaded (`queueLengths: false`, unbound queues). */
  lengths: QueueLengths | null;
}

/** The unfinished tasks of one analysis (task tree), by `root_uid`. */
export interface KartonAnalysis {
  rootUid: string;
  /** Pending and crashed tasks of the tree, oldest first. */
  tasks: Task[];
  pendingTasks: Task[];
  crashedTasks: Task[];
  /** Newest `last_update` of {@link tasks}. */
  lastUpdate: number;
}

/** Options of {@link KartonState.load}. */
export interface LoadStateOptions {
  /** Scan and parse every task document (default true). Without it task lists are empty. */
  tasks?: boolean;
  /** Read the queue lengths of every bind (default true). */
  queueLengths?: boolean;
  /** Keys per SCAN/MGET round trip (default: the backend's, 1000). */
  chunkSize?: number;
}

/** What {@link KartonState.fromParts} builds a state from (all already read). */
export interface StateParts {
  binds: BindsSnapshot;
  clients: OnlineClient[];
  /** Parsed tasks, or null when tasks were not loaded. */
  tasks?: ParsedTasks | null;
  /** Lengths per identity, or null when not loaded. */
  queueLengths?: Map<string, QueueLengths> | null;
  /** Unix time (float seconds) of the reading; default now. */
  loadedAt?: number;
}

/** Connection counts per identity (client name cut at the first `?`; unnamed clients under ""). */
export function countReplicas(clients: readonly OnlineClient[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const client of clients) out.set(client.identity, (out.get(client.identity) ?? 0) + 1);
  return out;
}

/**
 * Services from extended client names (`identity?karton_version=…[&service_version=…]`), aggregated
 * by (identity, karton version, service version) in order of first appearance; names without
 * `karton_version` are skipped (and reported).
 */
export function aggregateServices(clients: readonly OnlineClient[]): {
  services: ServiceInfo[];
  skipped: SkippedClientName[];
} {
  const services = new Map<string, ServiceInfo>();
  const skipped: SkippedClientName[] = [];
  for (const client of clients) {
    if (!client.name.includes("?")) continue;
    const kartonVersion = client.params.karton_version;
    if (kartonVersion === undefined) {
      skipped.push({ name: client.name, reason: "no karton_version parameter" });
      continue;
    }
    const serviceVersion = client.params.service_version ?? null;
    const key = JSON.stringify([client.identity, kartonVersion, serviceVersion]);
    const entry = services.get(key);
    if (entry) entry.count += 1;
    else services.set(key, { identity: client.identity, kartonVersion, serviceVersion, count: 1 });
  }
  return { services: [...services.values()], skipped };
}

function emptyQueue(identity: string, replicas: number): KartonQueue {
  return {
    identity,
    bind: null,
    invalidBind: null,
    replicas,
    pendingTasks: [],
    crashedTasks: [],
    lastUpdate: null,
    lengths: null,
  };
}

/** A point-in-time view of binds, replicas, services, tasks, queues and analyses (spec §12). */
export class KartonState {
  /** Readable binds, in `HGETALL` order. */
  readonly binds: Bind[];
  /** Unreadable `karton.binds` entries. */
  readonly invalidBinds: InvalidBind[];
  /** Online connections per identity (client name before `?`; unnamed ones under ""). */
  readonly replicas: Map<string, number>;
  /** Services from extended client names. */
  readonly services: ServiceInfo[];
  /** Extended client names left out of {@link services}. */
  readonly skippedClientNames: SkippedClientName[];
  /** Whether task documents were loaded (false: every task list below is empty). */
  readonly tasksLoaded: boolean;
  /** Every parsed task document (resources not decoded), in scan order. */
  readonly tasks: Task[];
  /** Stored documents that could not be parsed, with the reason. */
  readonly unparsableTasks: UnparsableTask[];
  /** Tasks with a status other than Finished and Crashed, oldest first. */
  readonly pendingTasks: Task[];
  /** Tasks with status Crashed, oldest first. */
  readonly crashedTasks: Task[];
  /** One queue per `karton.binds` entry (readable ones in HGETALL order, then unreadable ones). */
  readonly queues: Map<string, KartonQueue>;
  /** Receivers of pending or crashed tasks that have no `karton.binds` entry. */
  readonly unboundQueues: Map<string, KartonQueue>;
  /** Pending and crashed tasks grouped by `root_uid`, oldest analysis first. */
  readonly analyses: Map<string, KartonAnalysis>;
  /** Unix time (float seconds) of the reading. */
  readonly loadedAt: number;

  readonly #byUid: Map<string, Task>;

  private constructor(parts: StateParts) {
    this.loadedAt = parts.loadedAt ?? nowSeconds();
    this.binds = parts.binds.binds;
    this.invalidBinds = parts.binds.invalid;
    this.replicas = countReplicas(parts.clients);
    const { services, skipped } = aggregateServices(parts.clients);
    this.services = services;
    this.skippedClientNames = skipped;
    this.tasksLoaded = parts.tasks !== null && parts.tasks !== undefined;
    this.tasks = parts.tasks?.tasks ?? [];
    this.unparsableTasks = parts.tasks?.unparsable ?? [];
    this.#byUid = new Map(this.tasks.map((t) => [t.uid, t]));
    this.pendingTasks = this.tasks.filter(isPending).sort(byLastUpdate);
    this.crashedTasks = this.tasks.filter(isCrashed).sort(byLastUpdate);

    const lengths = parts.queueLengths ?? null;
    this.queues = new Map();
    for (const bind of this.binds) {
      const queue = emptyQueue(bind.identity, this.replicas.get(bind.identity) ?? 0);
      queue.bind = bind;
      queue.lengths = lengths?.get(bind.identity) ?? null;
      this.queues.set(bind.identity, queue);
    }
    for (const invalid of this.invalidBinds) {
      const queue = emptyQueue(invalid.identity, this.replicas.get(invalid.identity) ?? 0);
      queue.invalidBind = invalid;
      queue.lengths = lengths?.get(invalid.identity) ?? null;
      this.queues.set(invalid.identity, queue);
    }
    this.unboundQueues = new Map();
    // pendingTasks/crashedTasks are sorted, so every per-queue list comes out sorted too.
    for (const [list, key] of [
      [this.pendingTasks, "pendingTasks"],
      [this.crashedTasks, "crashedTasks"],
    ] as const) {
      for (const task of list) {
        const receiver = receiverOf(task);
        if (receiver === null) continue;
        let queue = this.queues.get(receiver) ?? this.unboundQueues.get(receiver);
        if (!queue) {
          queue = emptyQueue(receiver, this.replicas.get(receiver) ?? 0);
          this.unboundQueues.set(receiver, queue);
        }
        queue[key].push(task);
        queue.lastUpdate = Math.max(queue.lastUpdate ?? task.lastUpdate, task.lastUpdate);
      }
    }

    const analyses = new Map<string, KartonAnalysis>();
    for (const task of [...this.pendingTasks, ...this.crashedTasks].sort(byLastUpdate)) {
      let analysis = analyses.get(task.rootUid);
      if (!analysis) {
        analysis = { rootUid: task.rootUid, tasks: [], pendingTasks: [], crashedTasks: [], lastUpdate: 0 };
        analyses.set(task.rootUid, analysis);
      }
      analysis.tasks.push(task);
      (isCrashed(task) ? analysis.crashedTasks : analysis.pendingTasks).push(task);
      analysis.lastUpdate = Math.max(analysis.lastUpdate, task.lastUpdate);
    }
    this.analyses = analyses;
  }

  /** Builds a state from already-read parts (no I/O); see {@link load}. */
  static fromParts(parts: StateParts): KartonState {
    return new KartonState(parts);
  }

  /**
   * Reads the whole state: binds and clients, then (in parallel) one scan of every task document
   * and the queue lengths of every bind. See the module comment for the cost.
   */
  static async load(backend: KartonBackend, options: LoadStateOptions = {}): Promise<KartonState> {
    const loadedAt = nowSeconds();
    const [binds, clients] = await Promise.all([backend.getBinds(), backend.onlineClients()]);
    const identities = [...binds.binds.map((b) => b.identity), ...binds.invalid.map((b) => b.identity)];
    const [tasks, queueLengths] = await Promise.all([
      options.tasks === false ? null : scanAllTasks(backend, options.chunkSize),
      options.queueLengths === false ? null : readQueueLengths(backend, identities),
    ]);
    return new KartonState({ binds, clients, tasks, queueLengths, loadedAt });
  }

  /** A loaded task by its full uid. */
  getTask(uid: string): Task | undefined {
    return this.#byUid.get(uid);
  }

  /** The queue of a bind, or of a receiver without bind. */
  getQueue(identity: string): KartonQueue | undefined {
    return this.queues.get(identity) ?? this.unboundQueues.get(identity);
  }

  getAnalysis(rootUid: string): KartonAnalysis | undefined {
    return this.analyses.get(rootUid);
  }
}

/** Every task document, parsed chunk by chunk (raw text of parsed documents is not kept). */
export async function scanAllTasks(backend: KartonBackend, chunkSize?: number): Promise<ParsedTasks> {
  const out: ParsedTasks = { tasks: [], unparsable: [] };
  const options = chunkSize === undefined ? {} : { chunkSize };
  for await (const chunk of backend.scanTasks(options)) parseRawTasks(chunk, out);
  return out;
}

/** Queue lengths of the given identities, read in parallel. */
export async function readQueueLengths(
  backend: KartonBackend,
  identities: readonly string[],
): Promise<Map<string, QueueLengths>> {
  const lengths = await Promise.all(identities.map((identity) => backend.queueLengths(identity)));
  return new Map(identities.map((identity, i) => [identity, lengths[i] as QueueLengths]));
}

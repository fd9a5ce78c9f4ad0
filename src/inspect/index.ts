/**
 * The read model of a Karton deployment and the operator actions, shared by the `karton` CLI and
 * the dashboard. Everything goes through `KartonBackend` operations (no Redis/S3 here).
 *
 * - {@link KartonState.load}: binds, replicas, services, tasks, queues, analyses in one reading.
 * - {@link loadAnalysis}: one task tree.
 * - {@link findTask}: one task document, parsed or with the reason it cannot be.
 * - actions: {@link restartTask}, {@link cancelTask}, {@link restartCrashed}, {@link cancelCrashed},
 *   {@link cancelPending}.
 */
export {
  type BulkOptions,
  type BulkResult,
  type CancelResult,
  cancelCrashed,
  cancelPending,
  cancelTask,
  planRestart,
  queueTasks,
  type RestartResult,
  restartCrashed,
  restartTask,
} from "./actions.js";
export {
  type AnalysisLink,
  type AnalysisNode,
  type AnalysisTree,
  buildAnalysisTree,
  type LoadAnalysisOptions,
  loadAnalysis,
  walkAnalysis,
} from "./analysis.js";
export { InspectError, type InspectErrorCode } from "./errors.js";
export { type FoundTask, findTask, normalizeTaskUid, requireTask } from "./find.js";
export {
  aggregateServices,
  countReplicas,
  type InvalidBind,
  type KartonAnalysis,
  type KartonQueue,
  KartonState,
  type LoadStateOptions,
  type QueueLengths,
  readQueueLengths,
  type ServiceInfo,
  type SkippedClientName,
  type StateParts,
  scanAllTasks,
} from "./state.js";
export {
  byLastUpdate,
  isCrashed,
  isPending,
  lastErrorLine,
  type ParsedTasks,
  parseRawTasks,
  parseStoredTask,
  receiverOf,
  type UnparsableTask,
} from "./tasks.js";

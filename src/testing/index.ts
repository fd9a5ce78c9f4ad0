/**
 * `karton-ts/testing`: test helpers for karton-ts services, independent of the test framework.
 *
 * - {@link runTask} / {@link assertTasksEqual}: Python's `KartonTestCase.run_task` and
 *   `assertTasksEqual` (one service, `process()` called directly, no Redis or S3).
 * - {@link PipelineHarness}: several services with the real karton-system router on the embedded
 *   backend; `send`, `drain`, then assert on the `analysis` tree.
 * - {@link collectAnalysis}: the task tree of an analysis from any backend (also Redis + S3).
 */
export {
  type Analysis,
  Analysis as AnalysisTree,
  type AnalysisNode,
  collectAnalysis,
  isFinalStatus,
  resourceNames,
  rootUidOf,
  type UnreadableTask,
  type WaitForAnalysisOptions,
  waitForAnalysis,
} from "./analysis.js";
export {
  assertTasksEqual,
  contentSha256,
  type FlatLeaf,
  type FlatPayload,
  type FlatTask,
  flattenPayload,
  taskDifferences,
} from "./assert-tasks.js";
export { InMemoryObjectStore } from "./memory-object-store.js";
export {
  type DrainOptions,
  DrainTimeoutError,
  type PendingTask,
  PipelineHarness,
  type PipelineHarnessOptions,
  type ServiceSource,
} from "./pipeline-harness.js";
export {
  type ConsumerClass,
  prepareInputTask,
  type RunTaskOptions,
  runTask,
  type TestConfig,
  type TestKarton,
  type TestKartonOptions,
  testKarton,
} from "./run-task.js";
export { createTestBackend, TEST_BUCKET, TestBackend, type TestBackendOptions } from "./test-backend.js";

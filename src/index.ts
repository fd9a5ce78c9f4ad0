/**
 * karton-ts public API: write Karton services in TypeScript, wire-compatible with Python
 * karton-core 5.9.1 (same Redis keys, task JSON, binds, logs, metrics and S3 layout).
 */

export type { KartonBackend } from "./backend/backend.js";
export { createBackend } from "./backend/create-backend.js";
// The embedded backend (`[karton] backend = embedded`): one process, no Redis, no S3
export { LocalObjectStore, MemoryBackend, MemoryStore } from "./backend/memory/index.js";
export { KartonMetric } from "./backend/types.js";
// Binds and backend
export { type Bind, InvalidBindError } from "./bind/bind.js";
// Configuration
export {
  ConfigError,
  KartonConfig,
  type KartonOptions,
  type LoggingOptions,
  type RedisOptions,
  type S3Options,
  type SignalingOptions,
  type SystemOptions,
} from "./config/index.js";
// Filters
export { compileFilters, FilterError, matchFilters, QueryError } from "./filters/index.js";
// Operators: the read model and actions behind the CLI and the dashboard
export {
  cancelCrashed,
  cancelPending,
  cancelTask,
  InspectError,
  KartonState,
  loadAnalysis,
  restartCrashed,
  restartTask,
} from "./inspect/index.js";
// JSON values of task documents (lossless numbers)
export { type JsonObject, type JsonValue, PyFloat } from "./json/index.js";
// Resources
export {
  DIRECTORY_FLAG,
  type DirectoryResourceOptions,
  LocalResource,
  type LocalResourceOptions,
  RemoteResource,
  Resource,
  ResourceBase,
  ResourceError,
} from "./resource/index.js";
// Services
export {
  BindRemovedError,
  CLAIM_BLOCK_SECONDS,
  ConsoleHandler,
  Consumer,
  EXIT_FATAL,
  EXIT_OK,
  EXIT_USAGE,
  InvalidFiltersError,
  InvalidIdentityError,
  Karton,
  KartonServiceBase,
  KartonServiceError,
  LogConsumer,
  type LogEvent,
  Logger,
  type LogHandler,
  LogLevel,
  type LogLoopOptions,
  type LogOptions,
  type LogRecord,
  type LoopOptions,
  type PostHook,
  type PreHook,
  type ProcessContext,
  Producer,
  PublishHandler,
  SendTaskError,
  type SendTaskStep,
  type ServiceArgs,
  type ServiceOptions,
  SIGNALING_STATUS_TYPE,
  TaskInterruptedError,
  TaskTimeoutError,
} from "./service/index.js";
// karton-system in-process (router + garbage collector + claim recovery)
export { SystemService, type SystemServiceOptions } from "./system/index.js";
// Tasks
export {
  type Headers,
  InvalidTaskError,
  type Payload,
  PayloadError,
  type PayloadValue,
  parseTask,
  serializeTask,
  Task,
  TaskError,
  type TaskOptions,
  TaskPriority,
  TaskState,
} from "./task/index.js";
export { LIBRARY_VERSION } from "./version.js";

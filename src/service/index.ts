export { CLAIM_BLOCK_SECONDS, Consumer, type LoopOptions } from "./consumer.js";
export {
  BindRemovedError,
  InvalidFiltersError,
  InvalidIdentityError,
  KartonServiceError,
  SendTaskError,
  type SendTaskStep,
  TaskInterruptedError,
  TaskTimeoutError,
} from "./errors.js";
export type { PostHook, PreHook } from "./hooks.js";
export { debugIdentity, validateIdentity } from "./identity.js";
export { Karton, SIGNALING_STATUS_TYPE } from "./karton.js";
export { LogConsumer, type LogEvent, type LogLoopOptions } from "./log-consumer.js";
export {
  buildLogBody,
  ConsoleHandler,
  Logger,
  type LogHandler,
  LogLevel,
  type LogOptions,
  type LogRecord,
  levelName,
  NO_TASK_ID,
  PublishHandler,
  parseLevel,
  serializeLogRecord,
} from "./logging.js";
export { Producer } from "./producer.js";
export {
  EXIT_FATAL,
  EXIT_OK,
  EXIT_USAGE,
  KartonServiceBase,
  type ServiceArgs,
  type ServiceOptions,
} from "./service-base.js";
export type { ProcessContext, TaskContext } from "./task-context.js";
export { errorMessage, exceptionLine, formatException, formatExceptionText } from "./traceback.js";

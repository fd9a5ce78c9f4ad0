export type { ParseTaskOptions } from "./document.js";
export {
  decodeResources,
  HEADERS_PERSISTENT_KEY,
  parseTask,
  serializeTask,
  taskFromDocument,
  taskToDocument,
} from "./document.js";
export { isTaskPriority, isTaskState, PRIORITY_ORDER, TaskPriority, TaskState } from "./enums.js";
export { InvalidTaskError, PayloadError, TaskError } from "./errors.js";
export type { Headers, Payload, PayloadPath, PayloadValue, TaskOptions } from "./task.js";
export { nowSeconds, Task } from "./task.js";
export { fquidToUid, makeUid, newUuid } from "./uid.js";

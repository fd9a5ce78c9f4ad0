export { PRIORITY_ORDER, TaskPriority, TaskState, isTaskPriority, isTaskState } from "./enums.js";
export { InvalidTaskError, PayloadError, TaskError } from "./errors.js";
export { HEADERS_PERSISTENT_KEY, decodeResources, parseTask, serializeTask, taskFromDocument, taskToDocument } from "./document.js";
export type { ParseTaskOptions } from "./document.js";
export { Task, nowSeconds } from "./task.js";
export type { Headers, Payload, PayloadPath, PayloadValue, TaskOptions } from "./task.js";
export { fquidToUid, makeUid, newUuid } from "./uid.js";

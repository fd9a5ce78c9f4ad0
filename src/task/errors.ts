/** A task document that cannot be read, or a payload operation that is not allowed. */
export class TaskError extends Error {
  readonly code: string;
  readonly taskUid: string | undefined;

  constructor(code: string, message: string, taskUid?: string) {
    super(taskUid === undefined ? message : `task ${taskUid}: ${message}`);
    this.name = "TaskError";
    this.code = code;
    this.taskUid = taskUid;
  }
}

export class InvalidTaskError extends TaskError {
  constructor(message: string, taskUid?: string) {
    super("INVALID_TASK", message, taskUid);
    this.name = "InvalidTaskError";
  }
}

export class PayloadError extends TaskError {
  constructor(message: string, taskUid?: string) {
    super("PAYLOAD_ERROR", message, taskUid);
    this.name = "PayloadError";
  }
}

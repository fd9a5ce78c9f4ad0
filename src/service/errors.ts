/**
 * Errors raised by services. Each has a stable `code` for scripts and tests that do not want
 * `instanceof`, and a message that names what failed.
 */

/** Base class of service errors. */
export class KartonServiceError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KartonServiceError";
    this.code = code;
  }
}

/** An identity that cannot be used (empty for a consumer, or containing whitespace or `?`). */
export class InvalidIdentityError extends KartonServiceError {
  constructor(
    readonly identity: string,
    reason: string,
  ) {
    super("INVALID_IDENTITY", `Invalid service identity ${JSON.stringify(identity)}: ${reason}`);
    this.name = "InvalidIdentityError";
  }
}

/** The filters of a consumer class cannot be used (not a list of objects, or a bad rule). */
export class InvalidFiltersError extends KartonServiceError {
  constructor(identity: string, reason: string, options?: { cause?: unknown }) {
    super("INVALID_FILTERS", `Invalid filters of service "${identity}": ${reason}`, options);
    this.name = "InvalidFiltersError";
  }
}

/** Steps of `sendTask`, in order; a failure names the step it happened in. */
export type SendTaskStep = "prepare" | "declare" | "upload" | "enqueue";

/**
 * `sendTask` failed. When the failure happened at `upload` or `enqueue`, the task document is left
 * `Declared` outside the routing queue: no router picks it up, and karton-system's garbage collector
 * deletes it after `[system] task_dispatched_timeout`.
 */
export class SendTaskError extends KartonServiceError {
  constructor(
    readonly taskUid: string,
    readonly step: SendTaskStep,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super("SEND_TASK_FAILED", `Cannot send task ${taskUid}: ${detail}`, options);
    this.name = "SendTaskError";
  }
}

/** `process()` did not finish within the task timeout; the task is marked Crashed. */
export class TaskTimeoutError extends KartonServiceError {
  constructor(readonly timeoutSeconds: number) {
    super(
      "TASK_TIMEOUT",
      `process() did not finish within the task timeout of ${timeoutSeconds} second${timeoutSeconds === 1 ? "" : "s"}`,
    );
    this.name = "TaskTimeoutError";
  }
}

/** `process()` was aborted by a forced shutdown (second SIGINT/SIGTERM); the task is marked Crashed. */
export class TaskInterruptedError extends KartonServiceError {
  constructor(reason = "the consumer was interrupted by a second shutdown signal") {
    super("TASK_INTERRUPTED", `process() was interrupted: ${reason}`);
    this.name = "TaskInterruptedError";
  }
}

/** The consumer's bind disappeared from the store (e.g. GC removed a non-persistent bind). */
export class BindRemovedError extends KartonServiceError {
  constructor(readonly identity: string) {
    super(
      "BIND_REMOVED",
      `The bind of "${identity}" disappeared from karton.binds (removed by the garbage collector or ` +
        `"karton delete"); stopping. Restart the service to register it again.`,
    );
    this.name = "BindRemovedError";
  }
}

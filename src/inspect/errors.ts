/** Why an inspection or an operator action could not be done. */
export type InspectErrorCode =
  /** No document under that uid. */
  | "TASK_NOT_FOUND"
  /** The document exists but cannot be parsed (see the message for the reason). */
  | "TASK_UNREADABLE"
  /** The task has no `receiver` header (an unrouted task): it has no queue to go back to. */
  | "TASK_NOT_ROUTED";

/**
 * An operator action or look-up refused on the data (missing task, unreadable document, unrouted
 * task). Storage failures are not InspectErrors: they reach the caller as the backend threw them.
 */
export class InspectError extends Error {
  constructor(
    readonly code: InspectErrorCode,
    message: string,
    readonly uid?: string,
  ) {
    super(message);
    this.name = "InspectError";
  }
}

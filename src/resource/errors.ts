/** A resource that cannot be read, written or extracted; `code` is stable for scripts and tests. */
export class ResourceError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "ResourceError";
    this.code = code;
  }
}

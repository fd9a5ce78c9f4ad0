/**
 * Stable error codes of {@link ResourceError}:
 *
 * | code                  | when                                                                         |
 * |-----------------------|------------------------------------------------------------------------------|
 * | `RESOURCE_NOT_FOUND`  | the object is missing from the object store                                  |
 * | `RESOURCE_UNBOUND`    | a remote resource has no object store to read from                           |
 * | `RESOURCE_SOURCE`     | a local source (file, directory, stream, spooled temp file) cannot be read   |
 * | `RESOURCE_DESTINATION`| a local destination (download path, extraction directory) cannot be written  |
 * | `INVALID_RESOURCE`    | malformed marker, missing bucket, or content that is not a readable zip      |
 * | `UNSAFE_ZIP_ENTRY`    | a zip entry would escape the target directory, or is a symbolic link         |
 * | `ZIP_LIMIT_EXCEEDED`  | extraction/reading went over one of the `ExtractOptions` limits, or an entry |
 * |                       | inflated to more bytes than its header declares (`limit: "declaredSize"`)    |
 * | `ZIP_ENTRY_NOT_FOUND` | `ZipReader.read()/openStream()` of a name that is not in the archive         |
 */
export type ResourceErrorCode =
  | "RESOURCE_NOT_FOUND"
  | "RESOURCE_UNBOUND"
  | "RESOURCE_SOURCE"
  | "RESOURCE_DESTINATION"
  | "INVALID_RESOURCE"
  | "UNSAFE_ZIP_ENTRY"
  | "ZIP_LIMIT_EXCEEDED"
  | "ZIP_ENTRY_NOT_FOUND";

/** Structured context of a ResourceError (also spelled out in the message). */
export interface ResourceErrorDetails {
  /** Resource name (user-facing file name). */
  resource?: string;
  /** Resource uid (S3 key). */
  uid?: string;
  /** Local path involved (source, destination, extraction target). */
  path?: string;
  /** Zip entry name as stored in the archive. */
  entry?: string;
  /** Name of the exceeded limit (`maxTotalBytes`, `maxEntries`, `maxRatio`). */
  limit?: string;
  cause?: unknown;
}

/** A resource that cannot be read, written or extracted; `code` is stable for scripts and tests. */
export class ResourceError extends Error {
  readonly code: ResourceErrorCode | (string & {});
  readonly resource: string | undefined;
  readonly uid: string | undefined;
  readonly path: string | undefined;
  readonly entry: string | undefined;
  readonly limit: string | undefined;

  constructor(code: ResourceErrorCode | (string & {}), message: string, details: ResourceErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ResourceError";
    this.code = code;
    this.resource = details.resource;
    this.uid = details.uid;
    this.path = details.path;
    this.entry = details.entry;
    this.limit = details.limit;
  }
}

/** `resource "name" (uid)`, the prefix of every message about one resource. */
export function describeResource(name: string, uid: string): string {
  return `resource ${JSON.stringify(name)} (${uid})`;
}

/** The errno code or message of a low-level error, for messages. */
export function errnoText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === "string") return e.code;
    if (typeof e.message === "string") return e.message;
  }
  return String(err);
}

import type { Readable } from "node:stream";

/** Where an upload reads its bytes from: memory, a file (streamed from disk), or a stream of unknown length. */
export type UploadBody = Buffer | { path: string } | Readable;

/**
 * What resources need from an object store. Implemented by the backends (S3, the embedded
 * local-directory store, the test harness); resources never talk to S3 themselves.
 */
export interface ObjectStorage {
  /**
   * Streams an object's bytes; rejects with a ResourceError (code RESOURCE_NOT_FOUND) if missing.
   * Resources re-throw that error with their name and uid in the message.
   */
  getObjectStream(bucket: string, key: string): Promise<Readable>;
  /**
   * Stores an object, streaming in parts so memory stays bounded whatever the size. `size`, when
   * given, is the exact byte length of `body` (resources always know it before uploading).
   */
  putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void>;
}

/**
 * An object store held in memory (bucket → key → bytes), the "mock S3" of {@link runTask}: no
 * network, no files. It implements the whole `ObjectStore` interface, so resources, `sendTask` and
 * even the garbage collector can use it.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ObjectStore } from "../backend/types.js";
import { ResourceError } from "../resource/errors.js";
import type { UploadBody } from "../resource/object-storage.js";

/** Every byte of an upload body (bytes, a file path or a stream). */
async function readBody(body: UploadBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return Buffer.from(body);
  const stream =
    "path" in body && typeof (body as { path?: unknown }).path === "string"
      ? createReadStream((body as { path: string }).path)
      : (body as Readable);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

export class InMemoryObjectStore implements ObjectStore {
  readonly #buckets = new Map<string, Map<string, Buffer>>();

  /** @param buckets buckets that exist from the start. */
  constructor(buckets: readonly string[] = []) {
    for (const bucket of buckets) this.#buckets.set(bucket, new Map());
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return this.#buckets.has(bucket);
  }

  async createBucket(bucket: string): Promise<void> {
    if (!this.#buckets.has(bucket)) this.#buckets.set(bucket, new Map());
  }

  /** Stores a copy of the bytes. A missing bucket is created (tests need no set-up). */
  async putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void> {
    const data = await readBody(body);
    if (size !== undefined && size !== data.length) {
      throw new Error(`putObject ${bucket}/${key}: ${data.length} bytes read, ${size} announced`);
    }
    let objects = this.#buckets.get(bucket);
    if (objects === undefined) {
      objects = new Map();
      this.#buckets.set(bucket, objects);
    }
    objects.set(key, data);
  }

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    const data = this.getObject(bucket, key);
    if (data === undefined) {
      throw new ResourceError(
        "RESOURCE_NOT_FOUND",
        `no object ${JSON.stringify(key)} in bucket ${JSON.stringify(bucket)} (in-memory store)`,
        { uid: key },
      );
    }
    return Readable.from([data], { objectMode: false });
  }

  async headObject(bucket: string, key: string): Promise<number | null> {
    return this.getObject(bucket, key)?.length ?? null;
  }

  /** One version (`"null"`) per object: the store is unversioned. */
  async listObjectVersions(bucket: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const key of this.#buckets.get(bucket)?.keys() ?? []) out.set(key, ["null"]);
    return out;
  }

  async deleteObjects(bucket: string, entries: { key: string; versionId?: string }[]): Promise<void> {
    const objects = this.#buckets.get(bucket);
    for (const { key } of entries) objects?.delete(key);
  }

  // ---- for tests --------------------------------------------------------------------------------

  /** The stored bytes (not a copy), or undefined. */
  getObject(bucket: string, key: string): Buffer | undefined {
    return this.#buckets.get(bucket)?.get(key);
  }

  /** Keys of a bucket, in upload order. */
  keys(bucket: string): string[] {
    return [...(this.#buckets.get(bucket)?.keys() ?? [])];
  }

  /** Names of the buckets. */
  buckets(): string[] {
    return [...this.#buckets.keys()];
  }

  /** Removes every object and bucket. */
  clear(): void {
    this.#buckets.clear();
  }
}

import { Readable } from "node:stream";
import { errnoText, ResourceError } from "./errors.js";
import type { ObjectStorage } from "./object-storage.js";
import { type LocalContent, ResourceBase, type ResourceMarker } from "./resource-base.js";

/**
 * A resource stored in S3 (received in a task). Content is fetched lazily through the object
 * storage it is bound to; putting it into an outgoing task passes it by reference (no re-upload:
 * it is not a LocalResource, so it is not part of `task.localResources()`).
 *
 * `download()` keeps the content in memory; while it is loaded, every other read
 * (`content`, `openStream`, `downloadToFile`, `zipFile`, `extract*`) uses that copy instead of S3
 * (Python: "call download() first to use memory"). `unload()` drops it.
 */
export class RemoteResource extends ResourceBase {
  private storage: ObjectStorage | undefined;
  private cached: Buffer | undefined;

  constructor(marker: ResourceMarker, storage?: ObjectStorage) {
    super(marker);
    this.storage = storage;
  }

  /** Binds the resource to the object store it is read from. */
  bind(storage: ObjectStorage): this {
    this.storage = storage;
    return this;
  }

  /** True when bound to an object store. */
  get bound(): boolean {
    return this.storage !== undefined;
  }

  /** True when the content is held in memory. */
  get loaded(): boolean {
    return this.cached !== undefined;
  }

  /** Drops the in-memory content. */
  unload(): void {
    this.cached = undefined;
  }

  /** The whole content in memory (downloaded on first use, then kept). */
  async content(): Promise<Buffer> {
    return this.cached ?? (await this.download());
  }

  /** Downloads the content into memory and keeps it there (replacing a loaded copy). */
  async download(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.fetchStream()) chunks.push(chunk as Buffer);
    this.cached = Buffer.concat(chunks);
    return this.cached;
  }

  /** A readable stream of the content (from memory when loaded). */
  async openStream(): Promise<Readable> {
    if (this.cached !== undefined) return Readable.from([this.cached], { objectMode: false });
    return this.fetchStream();
  }

  protected localContent(): LocalContent | undefined {
    return this.cached === undefined ? undefined : { buffer: this.cached };
  }

  private async fetchStream(): Promise<Readable> {
    const storage = this.requireStorage();
    const bucket = this.requireBucket();
    try {
      return await storage.getObjectStream(bucket, this.uid);
    } catch (err) {
      if (err instanceof ResourceError && err.code === "RESOURCE_NOT_FOUND") {
        throw new ResourceError(
          "RESOURCE_NOT_FOUND",
          `${this.label} not found: no object ${JSON.stringify(this.uid)} in bucket ${JSON.stringify(bucket)}`,
          { resource: this.name, uid: this.uid, cause: err },
        );
      }
      if (err instanceof ResourceError) throw err;
      throw new ResourceError(
        "RESOURCE_SOURCE",
        `${this.label}: cannot read from bucket ${JSON.stringify(bucket)}: ${errnoText(err)}`,
        {
          resource: this.name,
          uid: this.uid,
          cause: err,
        },
      );
    }
  }

  protected requireStorage(): ObjectStorage {
    if (!this.storage) {
      throw new ResourceError("RESOURCE_UNBOUND", `${this.label} is not bound to an object store`, {
        resource: this.name,
        uid: this.uid,
      });
    }
    return this.storage;
  }

  protected requireBucket(): string {
    if (!this.bucket) {
      throw new ResourceError("INVALID_RESOURCE", `${this.label} has no bucket`, {
        resource: this.name,
        uid: this.uid,
      });
    }
    return this.bucket;
  }
}

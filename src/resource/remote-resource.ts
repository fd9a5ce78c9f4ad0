import { Readable } from "node:stream";
import type { ObjectStorage } from "./object-storage.js";
import { ResourceBase, type ResourceMarker } from "./resource-base.js";
import { ResourceError } from "./errors.js";

/**
 * A resource stored in S3 (received in a task). Content is fetched lazily through the object
 * storage it is bound to; putting it into an outgoing task passes it by reference (no re-upload).
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

  /** True when the content is held in memory. */
  get loaded(): boolean {
    return this.cached !== undefined;
  }

  /** Drops the in-memory content. */
  unload(): void {
    this.cached = undefined;
  }

  /** The whole content in memory (downloaded on first use). */
  async content(): Promise<Buffer> {
    return this.cached ?? (await this.download());
  }

  /** Downloads the content into memory and keeps it there. */
  async download(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openStream()) chunks.push(chunk as Buffer);
    this.cached = Buffer.concat(chunks);
    return this.cached;
  }

  /** A readable stream of the content (from memory when loaded). */
  async openStream(): Promise<NodeJS.ReadableStream> {
    if (this.cached !== undefined) return Readable.from([this.cached]);
    return this.requireStorage().getObjectStream(this.requireBucket(), this.uid);
  }

  protected requireStorage(): ObjectStorage {
    if (!this.storage) {
      throw new ResourceError("RESOURCE_UNBOUND", `resource "${this.name}" (${this.uid}) is not bound to an object store`);
    }
    return this.storage;
  }

  protected requireBucket(): string {
    if (!this.bucket) throw new ResourceError("INVALID_RESOURCE", `resource "${this.name}" (${this.uid}) has no bucket`);
    return this.bucket;
  }
}

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { JsonObject } from "../json/values.js";
import { ResourceError } from "./errors.js";
import type { ObjectStorage } from "./object-storage.js";
import { ResourceBase } from "./resource-base.js";

export interface LocalResourceOptions {
  bucket?: string;
  metadata?: JsonObject;
  uid?: string;
  /** Trusted as given (not checked), like Python's `sha256=` argument. */
  sha256?: string;
  flags?: string[];
}

type Source = { kind: "bytes"; data: Buffer } | { kind: "file"; path: string };

/** A resource created by this process; uploaded to S3 when the task carrying it is sent. */
export class LocalResource extends ResourceBase {
  protected readonly source: Source;

  protected constructor(name: string, source: Source, options: LocalResourceOptions = {}) {
    super({ name, ...options });
    this.source = source;
    if (source.kind === "bytes") {
      this._size = source.data.length;
      this._sha256 ??= createHash("sha256").update(source.data).digest("hex");
    }
  }

  /** From bytes or a string (UTF-8 encoded). */
  static fromBytes(name: string, data: Uint8Array | string, options?: LocalResourceOptions): LocalResource {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    return new LocalResource(name, { kind: "bytes", data: buf }, options);
  }

  /** From a file path; size and hash are computed when the task is sent. */
  static fromFile(name: string, path: string, options?: LocalResourceOptions): LocalResource {
    return new LocalResource(name, { kind: "file", path }, options);
  }

  /** Computes size and sha256 (streaming for files) before the task document is written. */
  async prepare(): Promise<void> {
    if (this.source.kind !== "file") return;
    const path = this.source.path;
    const info = await stat(path).catch((err: NodeJS.ErrnoException) => {
      throw new ResourceError("RESOURCE_SOURCE", `resource "${this.name}": cannot read ${path}: ${err.code ?? err.message}`);
    });
    this._size = info.size;
    if (this._sha256 === null) {
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(this.source.path)) hash.update(chunk as Buffer);
      this._sha256 = hash.digest("hex");
    }
  }

  /** The whole content in memory. */
  async content(): Promise<Buffer> {
    if (this.source.kind === "bytes") return this.source.data;
    const chunks: Buffer[] = [];
    for await (const chunk of this.openStream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  openStream(): Readable {
    if (this.source.kind === "file") return createReadStream(this.source.path);
    return Readable.from([this.source.data]);
  }

  /** Uploads the content to `storage` under this resource's bucket and uid. */
  async upload(storage: ObjectStorage): Promise<void> {
    if (!this.bucket) throw new ResourceError("INVALID_RESOURCE", `resource "${this.name}" has no bucket to upload to`);
    const body = this.source.kind === "bytes" ? this.source.data : { path: this.source.path };
    await storage.putObject(this.bucket, this.uid, body, this._size ?? undefined);
  }
}

/** `Resource` is the name the seed documentation uses for local resources. */
export const Resource = LocalResource;

/**
 * In-process object stores for resource tests (not a mock of S3, just stores that really stream).
 *
 * - MemoryObjectStorage keeps objects in a Map keyed by `bucket/key`, serves them back in small
 *   chunks, and records every call.
 * - NullSinkStorage consumes uploads without keeping them (size + sha256 only), for memory tests.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { ResourceError } from "../../src/resource/errors.js";
import type { ObjectStorage, UploadBody } from "../../src/resource/object-storage.js";

/** Chunks of an upload body, whatever its kind. */
async function* bodyChunks(body: UploadBody): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    yield body;
    return;
  }
  const stream =
    "path" in body && typeof body.path === "string" ? createReadStream(body.path) : (body as Readable);
  for await (const chunk of stream) yield typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
}

function bodyKind(body: UploadBody): "buffer" | "path" | "stream" {
  if (Buffer.isBuffer(body)) return "buffer";
  return "path" in body && typeof body.path === "string" ? "path" : "stream";
}

export interface PutRecord {
  bucket: string;
  key: string;
  size: number | undefined;
  kind: "buffer" | "path" | "stream";
}

export class MemoryObjectStorage implements ObjectStorage {
  readonly objects = new Map<string, Buffer>();
  readonly puts: PutRecord[] = [];
  readonly gets: { bucket: string; key: string }[] = [];

  constructor(private readonly chunkSize = 64 * 1024) {}

  static id(bucket: string, key: string): string {
    return `${bucket}/${key}`;
  }

  async putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void> {
    this.puts.push({ bucket, key, size, kind: bodyKind(body) });
    const chunks: Buffer[] = [];
    for await (const chunk of bodyChunks(body)) chunks.push(chunk);
    const data = Buffer.concat(chunks);
    if (size !== undefined && size !== data.length) {
      throw new Error(`putObject ${bucket}/${key}: declared size ${size} but body has ${data.length} bytes`);
    }
    this.objects.set(MemoryObjectStorage.id(bucket, key), data);
  }

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    this.gets.push({ bucket, key });
    const data = this.objects.get(MemoryObjectStorage.id(bucket, key));
    if (data === undefined) {
      throw new ResourceError("RESOURCE_NOT_FOUND", `no object ${key} in bucket ${bucket}`);
    }
    const chunkSize = this.chunkSize;
    return Readable.from(
      (function* () {
        for (let at = 0; at < data.length; at += chunkSize) yield data.subarray(at, at + chunkSize);
      })(),
      { objectMode: false },
    );
  }

  /** Test convenience: stores bytes directly. */
  set(bucket: string, key: string, data: Uint8Array | string): void {
    this.objects.set(MemoryObjectStorage.id(bucket, key), Buffer.from(data));
  }

  get(bucket: string, key: string): Buffer | undefined {
    return this.objects.get(MemoryObjectStorage.id(bucket, key));
  }
}

/** Keeps only size and sha256 of what was uploaded; nothing can be read back. */
export class NullSinkStorage implements ObjectStorage {
  readonly received = new Map<
    string,
    { size: number; sha256: string; declaredSize: number | undefined; kind: string }
  >();

  async putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void> {
    const hash = createHash("sha256");
    let total = 0;
    for await (const chunk of bodyChunks(body)) {
      hash.update(chunk);
      total += chunk.length;
    }
    this.received.set(MemoryObjectStorage.id(bucket, key), {
      size: total,
      sha256: hash.digest("hex"),
      declaredSize: size,
      kind: bodyKind(body),
    });
  }

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    throw new ResourceError("RESOURCE_NOT_FOUND", `null sink keeps no content (${bucket}/${key})`);
  }
}

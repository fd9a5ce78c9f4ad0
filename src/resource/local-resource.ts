import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, type Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as yazl from "yazl";
import type { JsonObject } from "../json/values.js";
import { errnoText, ResourceError } from "./errors.js";
import { HashingStream, hashFile, makeTempDir, removeQuietly } from "./fs-util.js";
import type { ObjectStorage } from "./object-storage.js";
import { DIRECTORY_FLAG, type LocalContent, ResourceBase } from "./resource-base.js";

export interface LocalResourceOptions {
  /** Bucket to upload to; the producer fills in the default bucket when absent. */
  bucket?: string;
  /** User metadata; a `sha256` key in it is taken as the (trusted) hash. */
  metadata?: JsonObject;
  /** S3 key; a random uuid4 by default. Used verbatim. */
  uid?: string;
  /** Trusted as given (not checked), like Python's `sha256=` argument. */
  sha256?: string;
  /** Resource flags (Python's `_flags`); `["Directory"]` is set by `fromDirectory`. */
  flags?: string[];
}

export interface DirectoryResourceOptions {
  /** `deflate` (default, Python's ZIP_DEFLATED) or `store` (ZIP_STORED). */
  compression?: "deflate" | "store";
  /** Build the zip in memory instead of a temporary file (default false). */
  inMemory?: boolean;
  bucket?: string;
  metadata?: JsonObject;
  uid?: string;
}

type Source =
  | { kind: "bytes"; data: Buffer }
  | { kind: "file"; path: string }
  /** A temporary file owned by the resource (spooled stream, zipped directory). */
  | { kind: "temp"; path: string; directory: string };

/**
 * A resource created by this process; uploaded to S3 when the task carrying it is sent.
 *
 * Creation paths: `fromBytes` (bytes, or a string encoded as UTF-8), `fromFile` (hashed when the
 * task is sent), `fromStream` (spooled to a temporary file while hashing) and `fromDirectory`
 * (zipped to a temporary file or to memory). Zero-byte content is allowed here, unlike in Python,
 * which treats `b""` as "no content" and refuses it; Python consumers read such resources fine.
 *
 * Resources with a temporary file (`fromStream`, `fromDirectory` without `inMemory`) delete it after
 * a successful upload or on `dispose()`; their content cannot be read (or uploaded again) afterwards.
 */
export class LocalResource extends ResourceBase {
  protected source: Source;
  private released = false;
  /** The author gave the hash (option or `metadata.sha256`): trusted, never computed. */
  private readonly sha256Given: boolean;
  /** size + mtime of the file when it was last hashed, to skip re-hashing an unchanged file. */
  private hashedFile: { size: number; mtimeMs: number } | undefined;

  protected constructor(name: string, source: Source, options: LocalResourceOptions = {}) {
    super({ name, ...options });
    this.source = source;
    this.sha256Given = this._sha256 !== null;
    if (source.kind === "bytes") {
      this._size = source.data.length;
      this._sha256 ??= createHash("sha256").update(source.data).digest("hex");
    }
  }

  /** From bytes or a string (UTF-8 encoded). The bytes are copied. */
  static fromBytes(name: string, data: Uint8Array | string, options?: LocalResourceOptions): LocalResource {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data);
    return new LocalResource(name, { kind: "bytes", data: buf }, options);
  }

  /**
   * From a file path; size and sha256 are computed (streaming) by `prepare()`, i.e. when the task
   * is sent, and the file is uploaded from disk. A missing file is reported then (`RESOURCE_SOURCE`).
   */
  static fromFile(name: string, path: string, options?: LocalResourceOptions): LocalResource {
    return new LocalResource(name, { kind: "file", path: resolve(path) }, options);
  }

  /**
   * From a stream of unknown length (a Node Readable, web ReadableStream or any async iterable of
   * bytes/strings): the stream is consumed now, spooled to a private temporary file while being
   * hashed, so memory stays bounded. The temporary file is deleted after upload or `dispose()`.
   */
  static async fromStream(
    name: string,
    stream: AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream,
    options?: LocalResourceOptions,
  ): Promise<LocalResource> {
    const directory = await makeTempDir("karton-resource-");
    const path = join(directory, "content");
    const hasher = new HashingStream();
    try {
      await pipeline(
        stream as AsyncIterable<Uint8Array | string>,
        hasher,
        createWriteStream(path, { flags: "wx", mode: 0o600 }),
      );
    } catch (err) {
      await removeQuietly(directory);
      throw new ResourceError(
        "RESOURCE_SOURCE",
        `resource ${JSON.stringify(name)}: cannot spool the stream: ${errnoText(err)}`,
        {
          resource: name,
          cause: err,
        },
      );
    }
    const resource = new LocalResource(name, { kind: "temp", path, directory }, options);
    resource._size = hasher.size;
    resource._sha256 ??= hasher.digest();
    return resource;
  }

  /**
   * Zips every regular file below `directoryPath` (recursively; symbolic links to files are
   * followed, links to directories are not, like Python's `os.walk`; FIFOs, sockets and devices are
   * skipped). Entry names are relative paths with `/`; there are no directory entries, so empty
   * directories are dropped. Files of a directory come before its subdirectories, each sorted by
   * name. `flags = ["Directory"]`; size and sha256 are those of the zip bytes.
   */
  static async fromDirectory(
    name: string,
    directoryPath: string,
    options: DirectoryResourceOptions = {},
  ): Promise<LocalResource> {
    const { compression = "deflate", inMemory = false, ...rest } = options;
    if (compression !== "deflate" && compression !== "store") {
      throw new RangeError(`resource ${JSON.stringify(name)}: compression must be "deflate" or "store"`);
    }
    const root = resolve(directoryPath);
    const sourceError = (path: string, err: unknown, what = "cannot read"): ResourceError =>
      new ResourceError(
        "RESOURCE_SOURCE",
        `resource ${JSON.stringify(name)}: ${what} ${path}: ${errnoText(err)}`,
        {
          resource: name,
          path,
          cause: err,
        },
      );
    const rootInfo = await stat(root).catch((err) => {
      throw sourceError(root, err);
    });
    if (!rootInfo.isDirectory()) throw sourceError(root, "ENOTDIR", "not a directory:");

    const files = await walkDirectory(root, sourceError);
    const zip = new yazl.ZipFile();
    zip.on("error", (err: Error) => (zip.outputStream as Readable).destroy(err));
    for (const file of files) {
      zip.addFile(file.path, file.entryName, {
        mtime: file.stats.mtime,
        mode: file.stats.mode,
        compress: compression === "deflate",
        forceDosTimestamp: true,
      });
    }
    zip.end();

    const hasher = new HashingStream();
    const resourceOptions: LocalResourceOptions = { ...rest, flags: [DIRECTORY_FLAG] };
    let resource: LocalResource;
    if (inMemory) {
      const chunks: Buffer[] = [];
      try {
        await pipeline(zip.outputStream, hasher, async (zipped: AsyncIterable<Buffer>) => {
          for await (const chunk of zipped) chunks.push(chunk);
        });
      } catch (err) {
        throw sourceError(root, err, "cannot zip");
      }
      resource = new LocalResource(name, { kind: "bytes", data: Buffer.concat(chunks) }, resourceOptions);
    } else {
      const directory = await makeTempDir("karton-resource-");
      const path = join(directory, "directory.zip");
      try {
        await pipeline(zip.outputStream, hasher, createWriteStream(path, { flags: "wx", mode: 0o600 }));
      } catch (err) {
        await removeQuietly(directory);
        throw sourceError(root, err, "cannot zip");
      }
      resource = new LocalResource(name, { kind: "temp", path, directory }, resourceOptions);
      resource._size = hasher.size;
    }
    resource._sha256 ??= hasher.digest();
    return resource;
  }

  /** True once the temporary file of a spooled/zipped resource was deleted (upload or dispose). */
  get disposed(): boolean {
    return this.released;
  }

  /**
   * Computes size and sha256 (streaming, for files) before the task document is written. A file
   * that has not changed (same size and mtime) since the last call is not hashed again.
   */
  async prepare(): Promise<void> {
    this.ensureAvailable();
    if (this.source.kind !== "file") return;
    const path = this.source.path;
    const info = await stat(path).catch((err: unknown) => {
      throw this.sourceError(path, err);
    });
    if (!info.isFile()) throw this.sourceError(path, "not a regular file");
    this._size = info.size;
    if (this.sha256Given) return;
    if (this.hashedFile?.size === info.size && this.hashedFile.mtimeMs === info.mtimeMs) return;
    const { size, sha256 } = await hashFile(path).catch((err: unknown) => {
      throw this.sourceError(path, err);
    });
    this._size = size;
    this._sha256 = sha256;
    this.hashedFile = { size, mtimeMs: info.mtimeMs };
  }

  /** The whole content in memory. */
  async content(): Promise<Buffer> {
    this.ensureAvailable();
    if (this.source.kind === "bytes") return this.source.data;
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openStream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async openStream(): Promise<Readable> {
    this.ensureAvailable();
    if (this.source.kind === "bytes") return Readable.from([this.source.data], { objectMode: false });
    const path = this.source.path;
    const stream = createReadStream(path);
    await new Promise<void>((ok, fail) => {
      stream.once("open", () => ok());
      stream.once("error", (err) => fail(this.sourceError(path, err)));
    });
    return stream;
  }

  /**
   * Uploads the content to `storage` under this resource's bucket and uid, streaming from disk for
   * file-backed resources. Prepares first if needed. A temporary file is deleted after success.
   */
  async upload(storage: ObjectStorage): Promise<void> {
    if (!this.bucket) {
      throw new ResourceError("INVALID_RESOURCE", `${this.label} has no bucket to upload to`, {
        resource: this.name,
        uid: this.uid,
      });
    }
    if (this._size === null || this._sha256 === null) await this.prepare();
    this.ensureAvailable();
    const body = this.source.kind === "bytes" ? this.source.data : { path: this.source.path };
    await storage.putObject(this.bucket, this.uid, body, this._size ?? undefined);
    if (this.source.kind === "temp") await this.dispose();
  }

  /** Deletes the temporary file of a spooled/zipped resource (no-op otherwise). Idempotent. */
  async dispose(): Promise<void> {
    if (this.source.kind !== "temp" || this.released) return;
    this.released = true;
    await removeQuietly(this.source.directory);
  }

  protected localContent(): LocalContent | undefined {
    this.ensureAvailable();
    return this.source.kind === "bytes" ? { buffer: this.source.data } : { path: this.source.path };
  }

  private ensureAvailable(): void {
    if (this.released) {
      throw new ResourceError(
        "RESOURCE_SOURCE",
        `${this.label}: the temporary content was deleted (after upload or dispose())`,
        { resource: this.name, uid: this.uid },
      );
    }
  }

  private sourceError(path: string, err: unknown): ResourceError {
    return new ResourceError("RESOURCE_SOURCE", `${this.label}: cannot read ${path}: ${errnoText(err)}`, {
      resource: this.name,
      uid: this.uid,
      path,
      cause: err,
    });
  }
}

/** `Resource` is the name the seed documentation uses for local resources. */
export const Resource = LocalResource;
export type Resource = LocalResource;

interface WalkedFile {
  path: string;
  entryName: string;
  stats: Stats;
}

/** Regular files below `root`, os.walk order (files first, then subdirectories; names sorted). */
async function walkDirectory(
  root: string,
  sourceError: (path: string, err: unknown, what?: string) => ResourceError,
): Promise<WalkedFile[]> {
  const out: WalkedFile[] = [];
  const visit = async (directory: string, prefix: string): Promise<void> => {
    const dirents = await readdir(directory, { withFileTypes: true }).catch((err) => {
      throw sourceError(directory, err);
    });
    dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirectories: string[] = [];
    for (const dirent of dirents) {
      const path = join(directory, dirent.name);
      if (dirent.isDirectory()) {
        subdirectories.push(dirent.name);
        continue;
      }
      if (!dirent.isFile() && !dirent.isSymbolicLink()) continue;
      const stats = await stat(path).catch((err) => {
        throw sourceError(path, err);
      });
      if (!stats.isFile()) continue;
      out.push({ path, entryName: prefix + dirent.name, stats });
    }
    for (const name of subdirectories) await visit(join(directory, name), `${prefix}${name}/`);
  };
  await visit(root, "");
  return out;
}

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { JsonObject, JsonValue } from "../json/values.js";
import { isJsonObject } from "../json/values.js";
import { newUuid } from "../task/uid.js";
import { describeResource, errnoText, ResourceError } from "./errors.js";
import { makeTempDir, removeQuietly } from "./fs-util.js";
import { type ExtractOptions, ZipArchive, type ZipReader } from "./zip.js";

/** Key of the marker object that stands for a resource inside a payload (spec §3.1). */
export const RESOURCE_MARKER = "__karton_resource__";

/** Flag of resources holding a zipped directory. */
export const DIRECTORY_FLAG = "Directory";

export interface ResourceFields {
  name: string;
  uid?: string | undefined;
  bucket?: string | null | undefined;
  size?: number | null | undefined;
  sha256?: string | null | undefined;
  metadata?: JsonObject | undefined;
  flags?: string[] | undefined;
}

/** The marker's inner object, as read from a task document. */
export interface ResourceMarker {
  uid: string;
  name: string;
  bucket: string | null;
  size: number | null;
  metadata: JsonObject;
  flags: string[];
  sha256: string | null;
}

/** Options of `downloadTemporaryFile`. */
export interface TemporaryFileOptions {
  /** Appended to the temporary file name (e.g. `.exe`), like Python's `suffix=`; no separators. */
  suffix?: string;
}

/** Where a zip can be opened without copying: bytes in memory or a local file. */
export type LocalContent = { buffer: Buffer } | { path: string };

/**
 * Fields shared by local (to be uploaded) and remote (stored in S3) resources, and the content
 * API built on `openStream()`: `downloadToFile`, `downloadTemporaryFile`, `zipFile`,
 * `extractTemporary`, `extractToDirectory` (Python has these on RemoteResource only; here a local
 * resource offers them too, reading its own bytes or file).
 */
export abstract class ResourceBase {
  readonly name: string;
  readonly uid: string;
  bucket: string | null;
  /** User metadata; `sha256` is kept separately and merged back in on write. */
  readonly metadata: JsonObject;
  readonly flags: string[];
  protected _size: number | null;
  protected _sha256: string | null;

  protected constructor(fields: ResourceFields) {
    if (typeof fields.name !== "string")
      throw new ResourceError("INVALID_RESOURCE", "resource name must be a string");
    this.name = fields.name;
    this.uid = fields.uid ?? newUuid();
    this.bucket = fields.bucket ?? null;
    const { sha256: metaSha, ...metadata } = fields.metadata ?? {};
    this.metadata = metadata;
    // An explicit sha256 (even null, as a marker's top-level key) wins over metadata.sha256 (spec §3.1).
    this._sha256 = fields.sha256 !== undefined ? fields.sha256 : typeof metaSha === "string" ? metaSha : null;
    this._size = fields.size ?? null;
    this.flags = [...(fields.flags ?? [])];
  }

  get size(): number | null {
    return this._size;
  }

  get sha256(): string | null {
    return this._sha256;
  }

  /** True for zipped directories (`Resource.fromDirectory`). */
  get isDirectory(): boolean {
    return this.flags.includes(DIRECTORY_FLAG);
  }

  /** `resource "name" (uid)`, used in error messages. */
  get label(): string {
    return describeResource(this.name, this.uid);
  }

  /** The whole content in memory. */
  abstract content(): Promise<Buffer>;

  /** A readable stream of the content. */
  abstract openStream(): Promise<Readable>;

  /** The content when it is already local (in memory or a file), so no download is needed. */
  protected abstract localContent(): LocalContent | undefined;

  /**
   * Writes the content to `path`, streaming. Like Python, the directory of `path` must exist
   * (`RESOURCE_DESTINATION` otherwise). The file appears atomically (written beside it, then renamed).
   */
  async downloadToFile(path: string): Promise<void> {
    const destination = resolve(path);
    const directory = dirname(destination);
    const info = await stat(directory).catch(() => null);
    if (!info?.isDirectory()) {
      throw new ResourceError(
        "RESOURCE_DESTINATION",
        `${this.label}: cannot download to ${destination}: directory ${directory} does not exist`,
        { resource: this.name, uid: this.uid, path: destination },
      );
    }
    // Open the source first, so a missing object leaves nothing behind.
    const source = await this.openStream();
    const partial = join(directory, `.${basename(destination)}.${newUuid().slice(0, 8)}.part`);
    let writeError: unknown;
    const out = createWriteStream(partial, { flags: "wx" });
    out.on("error", (err) => {
      writeError ??= err;
    });
    try {
      await pipeline(source, out);
      await rename(partial, destination).catch((err) => {
        writeError = err;
        throw err;
      });
    } catch (err) {
      if (!out.closed) {
        out.destroy();
        await once(out, "close").catch(() => undefined);
      }
      await rm(partial, { force: true }).catch(() => undefined);
      if (writeError !== undefined && !(err instanceof ResourceError)) {
        throw new ResourceError(
          "RESOURCE_DESTINATION",
          `${this.label}: cannot write ${destination}: ${errnoText(writeError)}`,
          {
            resource: this.name,
            uid: this.uid,
            path: destination,
            cause: writeError,
          },
        );
      }
      throw err;
    }
  }

  /**
   * Downloads the content into a fresh private temporary file, calls `fn(path)` and removes the
   * file afterwards, also when `fn` throws.
   */
  async downloadTemporaryFile<T>(
    fn: (path: string) => Promise<T> | T,
    options: TemporaryFileOptions = {},
  ): Promise<T> {
    const suffix = options.suffix ?? "";
    if (/[/\\\0]/.test(suffix)) {
      throw new RangeError(
        `${this.label}: temporary file suffix must not contain separators (${JSON.stringify(suffix)})`,
      );
    }
    const directory = await makeTempDir("karton-resource-");
    try {
      const file = join(directory, `content${suffix}`);
      await this.downloadToFile(file);
      return await fn(file);
    } finally {
      await removeQuietly(directory);
    }
  }

  /**
   * Opens the content as a zip and calls `fn` with a small read API; the archive (and the
   * temporary file it was downloaded to, unless the content is in memory) is released afterwards.
   * Streams from `zip.openStream()` must be consumed before `fn` settles.
   */
  async zipFile<T>(fn: (zip: ZipReader) => Promise<T> | T, options?: ExtractOptions): Promise<T> {
    return this.withArchive((archive) => fn(archive), options);
  }

  /**
   * Extracts the zip content into `path` (created if missing), refusing unsafe entries and
   * enforcing the limits of `options` (over `extractDefaults`).
   */
  async extractToDirectory(path: string, options?: ExtractOptions): Promise<void> {
    await this.withArchive((archive) => archive.extractTo(path), options);
  }

  /**
   * Extracts the zip content into a fresh temporary directory, calls `fn(dirPath)` and removes the
   * directory afterwards, also when `fn` or the extraction throws.
   */
  async extractTemporary<T>(fn: (dirPath: string) => Promise<T> | T, options?: ExtractOptions): Promise<T> {
    const directory = await makeTempDir("karton-extract-");
    try {
      await this.extractToDirectory(directory, options);
      return await fn(directory);
    } finally {
      await removeQuietly(directory);
    }
  }

  private async withArchive<T>(
    fn: (archive: ZipArchive) => Promise<T> | T,
    options?: ExtractOptions,
  ): Promise<T> {
    const context = { label: this.label, resource: this.name, uid: this.uid };
    const run = async (source: LocalContent): Promise<T> => {
      const archive = await ZipArchive.open(source, context, options);
      try {
        return await fn(archive);
      } finally {
        archive.close();
      }
    };
    const local = this.localContent();
    if (local) return run(local);
    return this.downloadTemporaryFile((path) => run({ path }), { suffix: ".zip" });
  }

  /** The resource as it is stored in a task document (`{"__karton_resource__": {...}}`). */
  toJSON(): JsonObject {
    return {
      [RESOURCE_MARKER]: {
        bucket: this.bucket,
        flags: [...this.flags],
        metadata: { ...this.metadata, sha256: this._sha256 },
        name: this.name,
        sha256: this._sha256,
        size: this._size,
        uid: this.uid,
      },
    };
  }
}

/** True for a payload object that encodes a resource. */
export function isResourceMarker(value: JsonValue | undefined): boolean {
  return isJsonObject(value) && Object.hasOwn(value, RESOURCE_MARKER);
}

/**
 * Reads a marker object with the lenient rules of spec §3.1: `uid`, `name`, `bucket` required,
 * `metadata` defaults to {}, `size` and `flags` may be absent, a top-level `sha256` (even null) wins.
 */
export function readResourceMarker(value: JsonObject, where: string): ResourceMarker {
  const inner = value[RESOURCE_MARKER];
  if (!isJsonObject(inner))
    throw new ResourceError("INVALID_RESOURCE", `${where}: resource marker is not an object`);
  for (const key of ["uid", "name"] as const) {
    if (typeof inner[key] !== "string") {
      throw new ResourceError("INVALID_RESOURCE", `${where}: resource field "${key}" must be a string`);
    }
  }
  if (!Object.hasOwn(inner, "bucket") || (inner.bucket !== null && typeof inner.bucket !== "string")) {
    throw new ResourceError("INVALID_RESOURCE", `${where}: resource field "bucket" must be a string`);
  }
  const metadata = inner.metadata === undefined || inner.metadata === null ? {} : inner.metadata;
  if (!isJsonObject(metadata)) {
    throw new ResourceError("INVALID_RESOURCE", `${where}: resource field "metadata" must be an object`);
  }
  let sha256 = metadata.sha256;
  if (Object.hasOwn(inner, "sha256")) sha256 = inner.sha256;
  const size = inner.size;
  const flags = inner.flags;
  return {
    uid: inner.uid as string,
    name: inner.name as string,
    bucket: inner.bucket as string | null,
    size: typeof size === "number" ? size : typeof size === "bigint" ? Number(size) : null,
    metadata,
    flags: Array.isArray(flags) ? flags.filter((f): f is string => typeof f === "string") : [],
    sha256: typeof sha256 === "string" ? sha256 : null,
  };
}

/**
 * The embedded backend's object store: S3 semantics over a local directory (`[embedded] storage_dir`).
 *
 * Layout: `<root>/<bucket>/<key>`, bucket and key names encoded reversibly by {@link encodeName}
 * (every byte outside `[A-Za-z0-9_-]` of the UTF-8 name becomes `%XX`), so any key — uids, names
 * with `/`, `..`, NUL, spaces or non-ASCII text — maps to one file inside its bucket directory and
 * can never reach outside it. Encoded names longer than {@link SEGMENT_CHARS} are split into
 * directories named `<part>+` (a character encoded names never contain), keeping every path
 * component under the 255-byte limit of common file systems.
 *
 * Writes go to a temporary file in the bucket directory (`.tmp-<uuid>`, a name no encoded key can
 * take) and are renamed into place once complete: readers see the old object or the new one, never
 * a partial one. Bodies are streamed both ways, so memory stays bounded whatever the object size.
 * An open read keeps reading the version it opened even if the object is replaced or deleted.
 *
 * Versions: each object has exactly one version, `"null"` (an unversioned S3 bucket); deleting with
 * no version id or with `"null"` removes the object, any other version id matches nothing.
 *
 * Names are compared byte for byte, so the root must be on a case-sensitive file system.
 */
import { randomUUID } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { copyFile, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ResourceError } from "../../resource/errors.js";
import type { UploadBody } from "../../resource/object-storage.js";
import type { ObjectStore } from "../types.js";

/** Longest encoded path component before the name is split into `<part>+` directories. */
export const SEGMENT_CHARS = 200;
/** Prefix of in-progress uploads inside a bucket directory (never an encoded name: those have no `.`). */
const TEMP_PREFIX = ".tmp-";
/** The only version id objects have. */
export const NULL_VERSION = "null";

export type LocalObjectStoreErrorCode =
  | "NO_SUCH_BUCKET"
  | "BUCKET_NOT_EMPTY"
  | "INVALID_NAME"
  | "SIZE_MISMATCH"
  | "LOCAL_STORE_ERROR";

/** Failures of the local object store, naming the operation, bucket, key and directory. */
export class LocalObjectStoreError extends Error {
  readonly code: LocalObjectStoreErrorCode;
  constructor(code: LocalObjectStoreErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "LocalObjectStoreError";
    this.code = code;
  }
}

export interface LocalObjectStoreOptions {
  /** Directory holding one subdirectory per bucket; created with the first bucket. */
  root: string;
}

/** Temporary roots to remove when the process exits. */
const temporaryRoots = new Set<string>();
let exitHookInstalled = false;

function removeTemporaryRoots(): void {
  for (const dir of temporaryRoots) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort at exit
    }
  }
  temporaryRoots.clear();
}

export class LocalObjectStore implements ObjectStore {
  /** Absolute path of the root directory. */
  readonly root: string;

  constructor(options: LocalObjectStoreOptions) {
    if (!options.root)
      throw new LocalObjectStoreError("INVALID_NAME", "local object store: empty root directory");
    this.root = resolve(options.root);
  }

  /**
   * A store in a new temporary directory (`<os tmpdir>/<prefix>XXXXXX`), removed when the process
   * exits normally (the `exit` event: end of the event loop, `process.exit()`, or a signal handler
   * that exits) or by {@link dispose}.
   */
  static temporary(prefix = "karton-objects-"): LocalObjectStore {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    temporaryRoots.add(dir);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once("exit", removeTemporaryRoots);
    }
    return new LocalObjectStore({ root: dir });
  }

  /** Removes the whole root directory now (temporary stores; tests). */
  async dispose(): Promise<void> {
    temporaryRoots.delete(this.root);
    await rm(this.root, { recursive: true, force: true });
  }

  /** Nothing to release (the S3 store closes its HTTP agent here). */
  close(): void {}

  // ---- paths ------------------------------------------------------------------------------------

  #bucketDir(bucket: string): string {
    if (bucket === "") throw new LocalObjectStoreError("INVALID_NAME", "empty bucket name");
    const encoded = encodeName(bucket);
    if (encoded.length > SEGMENT_CHARS) {
      throw new LocalObjectStoreError("INVALID_NAME", `bucket name too long: "${bucket.slice(0, 80)}…"`);
    }
    return join(this.root, encoded);
  }

  /** Absolute file path of an object; checked to stay inside its bucket directory. */
  #objectPath(bucket: string, key: string): { bucketDir: string; file: string } {
    const bucketDir = this.#bucketDir(bucket);
    if (key === "") throw new LocalObjectStoreError("INVALID_NAME", `empty object key in bucket "${bucket}"`);
    const file = join(bucketDir, ...keySegments(key));
    const rel = relative(bucketDir, file);
    if (rel === "" || rel.startsWith("..") || rel.split(sep).some((part) => part === ".." || part === ".")) {
      // Unreachable with the encoding above; kept as a guard against future changes.
      throw new LocalObjectStoreError(
        "INVALID_NAME",
        `object key escapes its bucket: ${JSON.stringify(key)}`,
      );
    }
    return { bucketDir, file };
  }

  #where(bucket: string, key?: string): string {
    return `${key === undefined ? `bucket "${bucket}"` : `"${bucket}/${key}"`} in ${this.root}`;
  }

  async #requireBucket(operation: string, bucket: string, key?: string): Promise<string> {
    const dir = this.#bucketDir(bucket);
    if (!(await isDirectory(dir))) {
      throw new LocalObjectStoreError(
        "NO_SUCH_BUCKET",
        `${operation} of ${this.#where(bucket, key)}: no such bucket (create it, e.g. karton-system --setup-bucket)`,
      );
    }
    return dir;
  }

  // ---- ObjectStorage ----------------------------------------------------------------------------

  async getObjectStream(bucket: string, key: string): Promise<Readable> {
    return this.#read(bucket, key, 0, undefined);
  }

  /** Bytes [start, end) of an object (end exclusive). */
  async getObjectRange(bucket: string, key: string, start: number, end: number): Promise<Readable> {
    if (end <= start) return Readable.from([]);
    return this.#read(bucket, key, start, end - 1);
  }

  async #read(
    bucket: string,
    key: string,
    start: number,
    endInclusive: number | undefined,
  ): Promise<Readable> {
    const { bucketDir, file } = this.#objectPath(bucket, key);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(file, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
        const noBucket = !(await isDirectory(bucketDir));
        throw new ResourceError(
          "RESOURCE_NOT_FOUND",
          `object "${bucket}/${key}" not found in ${this.root}${noBucket ? " (no such bucket)" : ""}`,
          { uid: key, cause: err },
        );
      }
      throw new LocalObjectStoreError(
        "LOCAL_STORE_ERROR",
        `read of ${this.#where(bucket, key)} failed: ${errText(err)}`,
        err,
      );
    }
    // The open handle pins this version: a concurrent replace (rename) or delete does not affect it.
    return handle.createReadStream({ start, ...(endInclusive !== undefined ? { end: endInclusive } : {}) });
  }

  async putObject(bucket: string, key: string, body: UploadBody, size?: number): Promise<void> {
    const { bucketDir, file } = this.#objectPath(bucket, key);
    await this.#requireBucket("put", bucket, key);
    const temp = join(bucketDir, `${TEMP_PREFIX}${randomUUID()}`);
    try {
      let written: number;
      if (Buffer.isBuffer(body)) {
        await writeFile(temp, body);
        written = body.length;
      } else if (!(body instanceof Readable) && typeof body.path === "string") {
        await copyFile(body.path, temp);
        written = (await stat(temp)).size;
      } else {
        written = 0;
        const counter = new Transform({
          transform(chunk: Buffer | string, _encoding, callback) {
            const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            written += buf.length;
            callback(null, buf);
          },
        });
        await pipeline(body as Readable, counter, createWriteStream(temp));
      }
      if (size !== undefined && size !== written) {
        throw new LocalObjectStoreError(
          "SIZE_MISMATCH",
          `put of ${this.#where(bucket, key)}: declared size ${size} but the body has ${written} bytes`,
        );
      }
      if (dirname(file) !== bucketDir) await mkdir(dirname(file), { recursive: true });
      await rename(temp, file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      if (err instanceof LocalObjectStoreError || err instanceof ResourceError) throw err;
      throw new LocalObjectStoreError(
        "LOCAL_STORE_ERROR",
        `put of ${this.#where(bucket, key)} failed: ${errText(err)}`,
        err,
      );
    }
  }

  // ---- ObjectStore ------------------------------------------------------------------------------

  async headObject(bucket: string, key: string): Promise<number | null> {
    const { file } = this.#objectPath(bucket, key);
    try {
      const st = await stat(file);
      return st.isFile() ? st.size : null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return null;
      throw new LocalObjectStoreError(
        "LOCAL_STORE_ERROR",
        `stat of ${this.#where(bucket, key)} failed: ${errText(err)}`,
        err,
      );
    }
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return isDirectory(this.#bucketDir(bucket));
  }

  /** Creates the bucket (and the root); a bucket that exists already is fine. */
  async createBucket(bucket: string): Promise<void> {
    await mkdir(this.#bucketDir(bucket), { recursive: true });
  }

  /** Removes an empty bucket (leftover temporary files included); a missing bucket is fine. */
  async deleteBucket(bucket: string): Promise<void> {
    const dir = this.#bucketDir(bucket);
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new LocalObjectStoreError(
        "LOCAL_STORE_ERROR",
        `delete of ${this.#where(bucket)} failed: ${errText(err)}`,
        err,
      );
    }
    if (entries.some((name) => !name.startsWith(TEMP_PREFIX))) {
      throw new LocalObjectStoreError(
        "BUCKET_NOT_EMPTY",
        `delete of ${this.#where(bucket)}: the bucket is not empty`,
      );
    }
    await rm(dir, { recursive: true, force: true });
  }

  async listObjectVersions(bucket: string): Promise<Map<string, string[]>> {
    const dir = await this.#requireBucket("list", bucket);
    const out = new Map<string, string[]>();
    const walk = async (path: string, prefix: string): Promise<void> => {
      const entries = await readdir(path, { withFileTypes: true });
      for (const entry of entries) {
        if (entry.name.startsWith(".")) continue; // uploads in progress
        if (entry.isDirectory() && entry.name.endsWith("+")) {
          await walk(join(path, entry.name), prefix + entry.name.slice(0, -1));
        } else if (entry.isFile()) {
          const key = decodeName(prefix + entry.name);
          if (key !== null) out.set(key, [NULL_VERSION]);
        }
      }
    };
    try {
      await walk(dir, "");
    } catch (err) {
      throw new LocalObjectStoreError(
        "LOCAL_STORE_ERROR",
        `list of ${this.#where(bucket)} failed: ${errText(err)}`,
        err,
      );
    }
    return out;
  }

  async deleteObjects(bucket: string, entries: { key: string; versionId?: string }[]): Promise<void> {
    const dir = await this.#requireBucket("delete", bucket);
    for (const { key, versionId } of entries) {
      if (versionId !== undefined && versionId !== NULL_VERSION) continue; // no such version
      const { file } = this.#objectPath(bucket, key);
      try {
        await unlink(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw new LocalObjectStoreError(
          "LOCAL_STORE_ERROR",
          `delete of ${this.#where(bucket, key)} failed: ${errText(err)}`,
          err,
        );
      }
      // Remove the `<part>+` directories of a long key when they became empty.
      for (let parent = dirname(file); parent !== dir && parent.startsWith(dir); parent = dirname(parent)) {
        try {
          await rmdir(parent);
        } catch {
          break;
        }
      }
    }
  }
}

// ---- name encoding ----------------------------------------------------------------------------

const KEPT = /^[A-Za-z0-9_-]$/;

/**
 * Reversible, file-name-safe form of a bucket name or key: the UTF-8 bytes, every one outside
 * `[A-Za-z0-9_-]` written as `%XX` (upper-case hex). The result never contains `/`, `\`, `.`, `+`
 * or NUL, so it can be neither `.`/`..` nor a hidden or temporary file.
 */
export function encodeName(name: string): string {
  let out = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const c = String.fromCharCode(byte);
    out += KEPT.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Inverse of {@link encodeName}; null for text that no name encodes to. */
export function decodeName(encoded: string): string | null {
  if (!/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})*$/.test(encoded)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "%") {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/**
 * Path components of a key below its bucket directory: the encoded name, split every
 * {@link SEGMENT_CHARS} characters (never inside a `%XX`), all parts but the last suffixed `+`.
 */
export function keySegments(key: string): string[] {
  const encoded = encodeName(key);
  const parts: string[] = [];
  let at = 0;
  while (encoded.length - at > SEGMENT_CHARS) {
    let cut = at + SEGMENT_CHARS;
    if (encoded[cut - 1] === "%") cut -= 1;
    else if (encoded[cut - 2] === "%") cut -= 2;
    parts.push(`${encoded.slice(at, cut)}+`);
    at = cut;
  }
  parts.push(encoded.slice(at));
  return parts;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return false;
    throw err;
  }
}

function errText(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.message === "string") return e.message;
  }
  return String(err);
}

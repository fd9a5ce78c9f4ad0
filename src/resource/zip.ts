/**
 * Reading and extracting zip archives held by resources (directory resources, or any resource a
 * consumer chooses to open as a zip), with the safety rules of the resource API:
 *
 * - extraction refuses entries that would land outside the target directory (absolute paths,
 *   drive letters, `..` that climbs above the root after normalisation; backslashes count as
 *   separators) and symbolic links (entries whose Unix mode says `S_IFLNK`): `UNSAFE_ZIP_ENTRY`;
 * - limits against zip bombs (total bytes, entry count, per-entry compression ratio) are checked
 *   against the declared sizes up front AND against the bytes actually produced while inflating:
 *   `ZIP_LIMIT_EXCEEDED`;
 * - every entry is verified after inflating (size and CRC-32), like Python's zipfile does.
 */
import { constants as fsConstants } from "node:fs";
import { mkdir, open as openFile, realpath, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import * as yauzl from "yauzl";
import { errnoText, ResourceError, type ResourceErrorDetails } from "./errors.js";

/** Limits applied when a resource is read or extracted as a zip. `Infinity` disables one. */
export interface ExtractOptions {
  /** Most bytes inflated in total (extraction: the whole archive; ZipReader: all reads). Default 1 GiB. */
  maxTotalBytes?: number;
  /** Most entries (files and directories) an archive may have. Default 10,000. */
  maxEntries?: number;
  /** Highest uncompressed/compressed ratio of one entry. Default 200. */
  maxRatio?: number;
  /**
   * The ratio is only enforced once an entry has produced more than this many bytes, so small,
   * very compressible files (a few KiB of zeros) stay extractable. Default 1 MiB.
   */
  ratioThresholdBytes?: number;
}

export type ExtractLimits = Required<ExtractOptions>;

/** The built-in limits (frozen); `extractDefaults` starts as a copy of them. */
export const BUILTIN_EXTRACT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxTotalBytes: 1024 * 1024 * 1024,
  maxEntries: 10_000,
  maxRatio: 200,
  ratioThresholdBytes: 1024 * 1024,
});

/**
 * Process-wide defaults used when an extract/zip method gets no (or a partial) `ExtractOptions`.
 * This object is the only module-level state of the resource API; an application may change its
 * fields at start-up (e.g. `extractDefaults.maxTotalBytes = 8 * 2 ** 30`).
 */
export const extractDefaults: ExtractLimits = { ...BUILTIN_EXTRACT_LIMITS };

/** The effective limits: explicit options over `extractDefaults`, validated. */
export function resolveExtractLimits(options: ExtractOptions = {}): ExtractLimits {
  const limits: ExtractLimits = { ...extractDefaults };
  for (const key of Object.keys(BUILTIN_EXTRACT_LIMITS) as (keyof ExtractLimits)[]) {
    const value = options[key] ?? extractDefaults[key];
    if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      throw new RangeError(`ExtractOptions.${key} must be a non-negative number (got ${String(value)})`);
    }
    limits[key] = value;
  }
  return limits;
}

/** One entry of an archive, as listed by `ZipReader.entries`. */
export interface ZipEntryInfo {
  /** Name as stored (UTF-8 or CP437 decoded, Info-ZIP Unicode path honoured), separators untouched. */
  name: string;
  /** Declared uncompressed size. */
  size: number;
  compressedSize: number;
  /** 0 = stored, 8 = deflated; others cannot be read. */
  method: number;
  crc32: number;
  /** The name ends with a separator. */
  isDirectory: boolean;
  /** The Unix mode in the external attributes says symbolic link. */
  isSymlink: boolean;
  /** Unix mode (type and permission bits) when the archive records one, else null. */
  mode: number | null;
  isEncrypted: boolean;
  /** Modification time (DOS timestamp interpreted as local time, or the Info-ZIP UTC timestamp). */
  lastModified: Date;
}

/** Small read API over a zip archive (`resource.zipFile(fn)`). */
export interface ZipReader {
  /** Every entry in archive order (directories included). */
  readonly entries: readonly ZipEntryInfo[];
  /** Entry names in archive order, like Python's `namelist()`. */
  names(): string[];
  has(name: string): boolean;
  /** The entry of that name (the last one when a name repeats), or undefined. */
  getEntry(name: string): ZipEntryInfo | undefined;
  /** The entry's content in memory (limits checked while inflating, size and CRC verified). */
  read(name: string): Promise<Buffer>;
  /** The entry's content as a stream (limits checked while inflating, size and CRC verified at the end). */
  openStream(name: string): Promise<Readable>;
}

/** Who the archive belongs to, for error messages. */
export interface ZipContext {
  /** e.g. `resource "dumps" (uid)`. */
  label: string;
  resource: string;
  uid: string;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === "function" ? (data, value) => zlib.crc32(data, value) : crc32Fallback;

let crcTable: Uint32Array | undefined;
function crc32Fallback(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * Where an entry goes, relative to the extraction root, as path segments; or why it must not be
 * extracted. Backslashes are separators; `.` and empty segments are dropped; `..` may only undo
 * a segment of the entry itself (`a/../b` is `b`, `a/../../b` is refused).
 */
export function safeEntrySegments(name: string): { segments: string[] } | { reason: string } {
  if (name.includes("\0")) return { reason: "contains a NUL character" };
  const normal = name.replace(/\\/g, "/");
  if (normal.startsWith("/")) return { reason: "is an absolute path" };
  if (/^[A-Za-z]:/.test(normal)) return { reason: "starts with a drive letter" };
  const segments: string[] = [];
  for (const segment of normal.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length === 0) return { reason: "climbs out of the target directory with '..'" };
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return { segments };
}

/** An opened archive: entries listed and checked against `maxEntries`. Close it when done. */
export class ZipArchive implements ZipReader {
  readonly entries: ZipEntryInfo[];
  private readonly raw: yauzl.Entry[];
  private readonly byName = new Map<string, number>();
  /** Bytes inflated through this archive so far (all entries, all reads). */
  private inflated = 0;

  private constructor(
    private readonly zip: yauzl.ZipFile,
    raw: yauzl.Entry[],
    readonly context: ZipContext,
    readonly limits: ExtractLimits,
  ) {
    this.raw = raw;
    this.entries = raw.map(describeEntry);
    this.entries.forEach((entry, i) => {
      this.byName.set(entry.name, i);
    });
  }

  /** Opens a zip held in a file or in memory; `INVALID_RESOURCE` when it is not a readable zip. */
  static async open(
    source: { path: string } | { buffer: Buffer },
    context: ZipContext,
    options?: ExtractOptions,
  ): Promise<ZipArchive> {
    const limits = resolveExtractLimits(options);
    const yauzlOptions: yauzl.Options = {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: false,
      validateEntrySizes: false,
    };
    let zip: yauzl.ZipFile;
    try {
      zip =
        "path" in source
          ? await yauzl.openPromise(source.path, yauzlOptions)
          : await yauzl.fromBufferPromise(source.buffer, yauzlOptions);
    } catch (err) {
      throw new ResourceError(
        "INVALID_RESOURCE",
        `${context.label} is not a readable zip archive: ${errnoText(err)}`,
        {
          ...details(context),
          cause: err,
        },
      );
    }
    const raw: yauzl.Entry[] = [];
    try {
      for await (const entry of zip.eachEntry()) {
        raw.push(entry);
        if (raw.length > limits.maxEntries) {
          const name = describeEntry(entry).name;
          throw new ResourceError(
            "ZIP_LIMIT_EXCEEDED",
            `${context.label}: zip has more than maxEntries=${limits.maxEntries} entries (at entry ${JSON.stringify(name)}, ${zip.entryCount} declared)`,
            { ...details(context), entry: name, limit: "maxEntries" },
          );
        }
      }
    } catch (err) {
      zip.close();
      if (err instanceof ResourceError) throw err;
      throw new ResourceError(
        "INVALID_RESOURCE",
        `${context.label}: cannot read the zip directory: ${errnoText(err)}`,
        {
          ...details(context),
          cause: err,
        },
      );
    }
    return new ZipArchive(zip, raw, context, limits);
  }

  close(): void {
    if (this.zip.isOpen) this.zip.close();
  }

  names(): string[] {
    return this.entries.map((entry) => entry.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  getEntry(name: string): ZipEntryInfo | undefined {
    const index = this.byName.get(name);
    return index === undefined ? undefined : this.entries[index];
  }

  async read(name: string): Promise<Buffer> {
    const index = this.indexOf(name);
    const entry = this.entries[index]!;
    // Fail fast on an honest header; the stream re-checks the real byte count anyway.
    if (this.inflated + entry.size > this.limits.maxTotalBytes) throw this.totalLimitError(entry.name);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.openIndex(index)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async openStream(name: string): Promise<Readable> {
    return this.openIndex(this.indexOf(name));
  }

  /** Extracts every entry below `target` (created if missing) after checking the whole archive. */
  async extractTo(target: string): Promise<void> {
    const { context } = this;
    const root = resolve(target);
    try {
      await mkdir(root, { recursive: true });
    } catch (err) {
      throw new ResourceError(
        "RESOURCE_DESTINATION",
        `${context.label}: cannot create extraction directory ${root}: ${errnoText(err)}`,
        { ...details(context), path: root, cause: err },
      );
    }
    const realRoot = await realpath(root);

    // 1. Check everything before writing anything.
    const plan: { index: number; segments: string[]; isDirectory: boolean }[] = [];
    let declaredTotal = 0;
    this.entries.forEach((entry, index) => {
      const where = `${context.label}: zip entry ${JSON.stringify(entry.name)}`;
      const unsafe = (reason: string): never => {
        throw new ResourceError("UNSAFE_ZIP_ENTRY", `${where} ${reason}; refusing to extract`, {
          ...details(context),
          entry: entry.name,
          path: root,
        });
      };
      const safe = safeEntrySegments(entry.name);
      if ("reason" in safe) unsafe(`${safe.reason}`);
      const segments = (safe as { segments: string[] }).segments;
      if (entry.isSymlink) unsafe("is a symbolic link");
      if (segments.length === 0 && !entry.isDirectory) unsafe("has an empty path");
      this.checkReadable(entry);
      if (!entry.isDirectory) {
        declaredTotal += entry.size;
        if (this.inflated + declaredTotal > this.limits.maxTotalBytes) throw this.totalLimitError(entry.name);
        if (this.ratioExceeded(entry.size, entry.compressedSize))
          throw this.ratioLimitError(entry, entry.size);
      }
      plan.push({ index, segments, isDirectory: entry.isDirectory });
    });

    // 2. Write.
    for (const { index, segments, isDirectory } of plan) {
      const entry = this.entries[index]!;
      const destination = join(realRoot, ...segments);
      if (destination !== realRoot && !destination.startsWith(realRoot + sep)) {
        throw new ResourceError(
          "UNSAFE_ZIP_ENTRY",
          `${context.label}: zip entry ${JSON.stringify(entry.name)} resolves outside ${root}; refusing to extract`,
          {
            ...details(context),
            entry: entry.name,
            path: root,
          },
        );
      }
      const failWrite = (err: unknown): never => {
        if (err instanceof ResourceError) throw err;
        throw new ResourceError(
          "RESOURCE_DESTINATION",
          `${context.label}: cannot extract zip entry ${JSON.stringify(entry.name)} to ${destination}: ${errnoText(err)}`,
          { ...details(context), entry: entry.name, path: destination, cause: err },
        );
      };
      if (isDirectory) {
        await mkdir(destination, { recursive: true }).catch(failWrite);
        continue;
      }
      const parent = dirname(destination);
      await mkdir(parent, { recursive: true }).catch(failWrite);
      // A directory that already existed in the target may be a symbolic link: never write through it.
      const realParent = await realpath(parent).catch(failWrite);
      if (realParent !== realRoot && !realParent.startsWith(realRoot + sep)) {
        throw new ResourceError(
          "UNSAFE_ZIP_ENTRY",
          `${context.label}: zip entry ${JSON.stringify(entry.name)} would be written through ${parent}, which resolves outside ${root}; refusing to extract`,
          { ...details(context), entry: entry.name, path: root },
        );
      }
      const handle = await openFile(
        destination,
        fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | (fsConstants.O_NOFOLLOW ?? 0),
        0o666,
      ).catch(failWrite);
      try {
        await pipeline(await this.openIndex(index), handle.createWriteStream({ autoClose: true }));
      } catch (err) {
        await handle.close().catch(() => undefined);
        await rm(destination, { force: true }).catch(() => undefined);
        failWrite(err);
      }
    }
  }

  private indexOf(name: string): number {
    const index = this.byName.get(name);
    if (index === undefined) {
      throw new ResourceError(
        "ZIP_ENTRY_NOT_FOUND",
        `${this.context.label}: there is no entry named ${JSON.stringify(name)} in the zip`,
        { ...details(this.context), entry: name },
      );
    }
    return index;
  }

  private checkReadable(entry: ZipEntryInfo): void {
    const where = `${this.context.label}: zip entry ${JSON.stringify(entry.name)}`;
    if (entry.isEncrypted) {
      throw new ResourceError("INVALID_RESOURCE", `${where} is encrypted, which is not supported`, {
        ...details(this.context),
        entry: entry.name,
      });
    }
    if (entry.method !== 0 && entry.method !== 8) {
      throw new ResourceError(
        "INVALID_RESOURCE",
        `${where} uses compression method ${entry.method} (only stored and deflated are supported)`,
        {
          ...details(this.context),
          entry: entry.name,
        },
      );
    }
  }

  private ratioExceeded(bytes: number, compressedSize: number): boolean {
    const { maxRatio, ratioThresholdBytes } = this.limits;
    return bytes > ratioThresholdBytes && bytes > maxRatio * Math.max(compressedSize, 1);
  }

  private totalLimitError(entryName: string): ResourceError {
    return new ResourceError(
      "ZIP_LIMIT_EXCEEDED",
      `${this.context.label}: zip entry ${JSON.stringify(entryName)} takes the archive over maxTotalBytes=${this.limits.maxTotalBytes} uncompressed bytes`,
      { ...details(this.context), entry: entryName, limit: "maxTotalBytes" },
    );
  }

  private ratioLimitError(entry: ZipEntryInfo, bytes: number): ResourceError {
    const ratio = (bytes / Math.max(entry.compressedSize, 1)).toFixed(1);
    return new ResourceError(
      "ZIP_LIMIT_EXCEEDED",
      `${this.context.label}: zip entry ${JSON.stringify(entry.name)} exceeds maxRatio=${this.limits.maxRatio} (${bytes} bytes from ${entry.compressedSize} compressed, ratio ${ratio})`,
      { ...details(this.context), entry: entry.name, limit: "maxRatio" },
    );
  }

  /** The entry's bytes through the limit/size/CRC checker; errors carry a ResourceError. */
  private async openIndex(index: number): Promise<Readable> {
    const entry = this.entries[index]!;
    this.checkReadable(entry);
    let source: Readable;
    try {
      source = await this.zip.openReadStreamPromise(this.raw[index]!);
    } catch (err) {
      throw new ResourceError(
        "INVALID_RESOURCE",
        `${this.context.label}: cannot read zip entry ${JSON.stringify(entry.name)}: ${errnoText(err)}`,
        {
          ...details(this.context),
          entry: entry.name,
          cause: err,
        },
      );
    }
    const checker = new EntryChecker(this, entry);
    source.on("error", (err) => {
      checker.destroy(
        err instanceof ResourceError
          ? err
          : new ResourceError(
              "INVALID_RESOURCE",
              `${this.context.label}: zip entry ${JSON.stringify(entry.name)} is corrupt: ${errnoText(err)}`,
              {
                ...details(this.context),
                entry: entry.name,
                cause: err,
              },
            ),
      );
    });
    checker.on("close", () => {
      if (!source.destroyed) {
        source.unpipe(checker);
        source.destroy();
      }
    });
    source.pipe(checker);
    return checker;
  }

  /** Called by EntryChecker for every chunk; returns the error to fail with, if any. */
  account(entry: ZipEntryInfo, entryBytes: number, chunkLength: number): ResourceError | undefined {
    this.inflated += chunkLength;
    if (this.inflated > this.limits.maxTotalBytes) return this.totalLimitError(entry.name);
    if (this.ratioExceeded(entryBytes, entry.compressedSize)) return this.ratioLimitError(entry, entryBytes);
    if (entryBytes > entry.size) {
      return new ResourceError(
        "ZIP_LIMIT_EXCEEDED",
        `${this.context.label}: zip entry ${JSON.stringify(entry.name)} inflates to more than its declared size of ${entry.size} bytes (crafted or corrupt archive)`,
        { ...details(this.context), entry: entry.name, limit: "declaredSize" },
      );
    }
    return undefined;
  }
}

/** Counts, limits and verifies the bytes of one entry. */
class EntryChecker extends Transform {
  private bytes = 0;
  private crc = 0;

  constructor(
    private readonly archive: ZipArchive,
    private readonly entry: ZipEntryInfo,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    const error = this.archive.account(this.entry, this.bytes, chunk.length);
    if (error) {
      callback(error);
      return;
    }
    this.crc = crc32(chunk, this.crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const { label } = this.archive.context;
    const name = JSON.stringify(this.entry.name);
    const fail = (what: string): void =>
      callback(
        new ResourceError("INVALID_RESOURCE", `${label}: zip entry ${name} is corrupt: ${what}`, {
          ...details(this.archive.context),
          entry: this.entry.name,
        }),
      );
    if (this.bytes !== this.entry.size)
      fail(`${this.bytes} bytes instead of the declared ${this.entry.size}`);
    else if (this.crc !== this.entry.crc32) fail("CRC-32 mismatch");
    else callback();
  }
}

function details(context: ZipContext): ResourceErrorDetails {
  return { resource: context.resource, uid: context.uid };
}

function describeEntry(entry: yauzl.Entry): ZipEntryInfo {
  const rawName = entry.fileNameRaw ?? (entry.fileName as unknown as Buffer);
  const name = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, rawName, entry.extraFields, true);
  const high = entry.externalFileAttributes >>> 16;
  const madeBy = entry.versionMadeBy >> 8;
  // The high half is a Unix mode for Unix (3) and macOS (19) archivers; trust a symlink type bit
  // whoever wrote it (refusing is the safe reading).
  const mode = high !== 0 && (madeBy === 3 || madeBy === 19 || (high & S_IFMT) === S_IFLNK) ? high : null;
  let lastModified: Date;
  try {
    lastModified = entry.getLastModDate();
  } catch {
    lastModified = new Date(Number.NaN);
  }
  return {
    name,
    size: entry.uncompressedSize,
    compressedSize: entry.compressedSize,
    method: entry.compressionMethod,
    crc32: entry.crc32,
    isDirectory: name.endsWith("/") || name.endsWith("\\"),
    isSymlink: mode !== null && (mode & S_IFMT) === S_IFLNK,
    mode,
    isEncrypted: (entry.generalPurposeBitFlag & 0x1) !== 0,
    lastModified,
  };
}

/**
 * Public API of resources: local (to upload), remote (in S3), their markers, zip access and errors.
 *
 * Creating (LocalResource, alias Resource):
 * - `Resource.fromBytes(name, bytes | string)`: strings are UTF-8; zero-byte content is allowed
 *   (Python refuses `b""`; Python consumers read such objects fine).
 * - `Resource.fromFile(name, path)`: size and sha256 computed by `prepare()` (streaming) when the
 *   task is sent; uploaded from disk.
 * - `await Resource.fromStream(name, stream)`: spooled to a private temp file while hashing.
 * - `await Resource.fromDirectory(name, dir, { compression, inMemory })`: zipped with yazl.
 * Options: `bucket`, `metadata`, `uid` (verbatim S3 key), `sha256` (trusted unchecked). Temp files
 * are deleted after a successful `upload()` or on `dispose()`.
 *
 * Reading (any resource; RemoteResource downloads lazily through its ObjectStorage, or uses the
 * in-memory copy after `download()`): `content()`, `openStream()`, `downloadToFile(path)`,
 * `downloadTemporaryFile(fn)`, `zipFile(fn)`, `extractTemporary(fn)`, `extractToDirectory(path)`.
 * Extraction refuses unsafe entries (UNSAFE_ZIP_ENTRY) and enforces `ExtractOptions` limits, checked
 * on declared sizes and on the bytes actually inflated (ZIP_LIMIT_EXCEEDED); see `zip.ts`.
 */
export { ResourceError, type ResourceErrorCode, type ResourceErrorDetails } from "./errors.js";
export {
  type DirectoryResourceOptions,
  LocalResource,
  type LocalResourceOptions,
  Resource,
} from "./local-resource.js";
export type { ObjectStorage, UploadBody } from "./object-storage.js";
export { RemoteResource } from "./remote-resource.js";
export {
  DIRECTORY_FLAG,
  isResourceMarker,
  type LocalContent,
  RESOURCE_MARKER,
  ResourceBase,
  type ResourceFields,
  type ResourceMarker,
  readResourceMarker,
  type TemporaryFileOptions,
} from "./resource-base.js";
export {
  BUILTIN_EXTRACT_LIMITS,
  type ExtractLimits,
  type ExtractOptions,
  extractDefaults,
  resolveExtractLimits,
  safeEntrySegments,
  type ZipEntryInfo,
  type ZipReader,
} from "./zip.js";

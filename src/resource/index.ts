/** Public API of resources: local (to upload), remote (in S3), their markers, zip access and errors. */
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

/**
 * The embedded backend: in-process queues ({@link MemoryStore}, shared by name between the handles
 * of one process) and a local-directory object store ({@link LocalObjectStore}). Selected with
 * `[karton] backend = embedded`; see create-embedded-backend.ts for its options.
 */
export {
  createEmbeddedBackend,
  DEFAULT_EMBEDDED_BUCKET,
  EMBEDDED_BACKEND,
  isEmbeddedBackendSelected,
} from "./create-embedded-backend.js";
export {
  decodeName,
  encodeName,
  keySegments,
  LocalObjectStore,
  LocalObjectStoreError,
  type LocalObjectStoreErrorCode,
  type LocalObjectStoreOptions,
  NULL_VERSION,
} from "./local-object-store.js";
export {
  MemoryBackend,
  type MemoryBackendEventHandler,
  type MemoryBackendEventLevel,
  type MemoryBackendOptions,
} from "./memory-backend.js";
export { DEFAULT_STORE_NAME, MemoryStore, type PushWait, type StoreClient } from "./memory-store.js";
export { redisGlob, redisGlobMatch } from "./redis-glob.js";

/**
 * Builds the backend a service or tool uses from its configuration: the Redis + S3 backend, or the
 * embedded one (./memory/) when the configuration selects it (`[karton] backend = embedded`, env
 * `KARTON_KARTON_BACKEND=embedded`); callers do not change.
 */
import type { KartonConfig } from "../config/config.js";
import type { RedisOptions, S3Options } from "../config/options.js";
import type { KartonBackend } from "./backend.js";
import { createEmbeddedBackend, isEmbeddedBackendSelected } from "./memory/create-embedded-backend.js";
import type { ConnectionEventLevel } from "./redis/connection.js";
import { RedisBackend } from "./redis/redis-backend.js";
import { S3ObjectStore } from "./s3/s3-object-store.js";

/** Something the backend wants the service to log (connection loss, reconnects, warnings). */
export interface BackendEvent {
  level: ConnectionEventLevel;
  message: string;
}

export interface CreateBackendOptions {
  /** Identity of the service (used in messages; may be "" for anonymous producers). */
  identity: string;
  /**
   * Name of the main Redis connection (spec §1.3): usually the identity or its extended form built
   * with `clientName()` from ./redis/connection.js. Null/undefined/"" = unnamed.
   */
  clientName?: string | null;
  onEvent?: (event: BackendEvent) => void;
  /** `[system] enable_null_version_deletion` for the GC's DeleteObjects (default false). */
  enableNullVersionDeletion?: boolean;
}

/** The parts of the configuration the backend needs (a `KartonConfig`, or plain options in tests). */
export type BackendConfig =
  | Pick<KartonConfig, "redisOptions" | "s3Options">
  | { redisOptions(): RedisOptions; s3Options(): S3Options };

/**
 * Creates the backend (not connected yet: call `ping()` to connect and check it). Throws a
 * ConfigError when `[redis]`/`[s3]` are incomplete.
 */
export function createBackend(config: BackendConfig, options: CreateBackendOptions): KartonBackend {
  // embedded backend (`[karton] backend = embedded`): no [redis]/[s3] needed, see ./memory/
  if (isEmbeddedBackendSelected(config)) return createEmbeddedBackend(config, options);
  const redis = config.redisOptions();
  const s3 = config.s3Options();
  const onEvent = options.onEvent;
  const objects = new S3ObjectStore({
    address: s3.address,
    ...(s3.accessKey !== undefined ? { accessKey: s3.accessKey } : {}),
    ...(s3.secretKey !== undefined ? { secretKey: s3.secretKey } : {}),
    iamAuth: s3.iamAuth,
    enableNullVersionDeletion: options.enableNullVersionDeletion ?? false,
  });
  return new RedisBackend({
    redis,
    objects,
    ...(s3.bucket !== undefined ? { defaultBucket: s3.bucket } : {}),
    ...(options.clientName ? { clientName: options.clientName } : {}),
    ...(onEvent
      ? { onEvent: (level: ConnectionEventLevel, message: string) => onEvent({ level, message }) }
      : {}),
  });
}

/**
 * Selection and construction of the embedded backend from the configuration.
 *
 * | option                   | meaning                                                                    |
 * |--------------------------|----------------------------------------------------------------------------|
 * | `[karton] backend`       | `redis` (default: Redis + S3) or `embedded`; env `KARTON_KARTON_BACKEND`  |
 * | `[embedded] name`        | store shared by the handles of this process with the same name (`default`) |
 * | `[embedded] storage_dir` | object directory (e.g. `./.karton-objects`, relative to the working        |
 * |                          | directory); default: a temporary directory removed when the process exits  |
 * | `[s3] bucket`            | default bucket, if set; otherwise `karton` (created on `ping()`)            |
 *
 * With the embedded backend `[redis]` and `[s3]` are neither read nor required (the configuration
 * must then be loaded with `checkRequired: false`).
 */
import { resolve } from "node:path";
import { ConfigError } from "../../config/errors.js";
import type { CreateBackendOptions } from "../create-backend.js";
import { LocalObjectStore } from "./local-object-store.js";
import { MemoryBackend } from "./memory-backend.js";
import { DEFAULT_STORE_NAME, MemoryStore } from "./memory-store.js";

/** Value of `[karton] backend` that selects the embedded backend. */
export const EMBEDDED_BACKEND = "embedded";
/** Default bucket of the embedded backend when `[s3] bucket` is not set. */
export const DEFAULT_EMBEDDED_BUCKET = "karton";

/** The part of a configuration the embedded backend reads (a `KartonConfig`). */
interface ConfigReader {
  get(section: string, option: string): string | undefined;
  invalid?(section: string, option: string, expected: string): Error;
}

function reader(config: object): ConfigReader | undefined {
  return typeof (config as Partial<ConfigReader>).get === "function" ? (config as ConfigReader) : undefined;
}

function text(config: ConfigReader, section: string, option: string): string | undefined {
  const value = config.get(section, option)?.trim();
  return value ? value : undefined;
}

/**
 * True when the configuration selects the embedded backend (`[karton] backend = embedded`, any
 * case). Configurations without a `get` method (plain option objects) never do. Throws a
 * ConfigError for a value other than `redis` or `embedded`.
 */
export function isEmbeddedBackendSelected(config: object): boolean {
  const cfg = reader(config);
  if (cfg === undefined) return false;
  const value = text(cfg, "karton", "backend")?.toLowerCase();
  if (value === undefined || value === "redis") return false;
  if (value === EMBEDDED_BACKEND) return true;
  throw (
    cfg.invalid?.("karton", "backend", '"redis" or "embedded"') ??
    new ConfigError(`[karton] backend: expected "redis" or "embedded", got "${value}"`, {
      section: "karton",
      option: "backend",
    })
  );
}

/** Builds a handle on the embedded store named by `[embedded] name` (see the module table). */
export function createEmbeddedBackend(config: object, options: CreateBackendOptions): MemoryBackend {
  const cfg = reader(config);
  const name = (cfg && text(cfg, "embedded", "name")) ?? DEFAULT_STORE_NAME;
  const storageDir = cfg && text(cfg, "embedded", "storage_dir");
  const bucket = (cfg && text(cfg, "s3", "bucket")) ?? DEFAULT_EMBEDDED_BUCKET;
  const store = MemoryStore.shared(name);
  const onEvent = options.onEvent;
  return new MemoryBackend({
    store,
    objects: storageDir !== undefined ? new LocalObjectStore({ root: resolve(storageDir) }) : store.objects,
    defaultBucket: bucket,
    createDefaultBucket: true,
    ...(options.clientName ? { clientName: options.clientName } : {}),
    ...(onEvent ? { onEvent: (level, message) => onEvent({ level, message }) } : {}),
  });
}

import type { JsonObject, JsonValue } from "../json/values.js";
import { isJsonObject } from "../json/values.js";
import { newUuid } from "../task/uid.js";
import { ResourceError } from "./errors.js";

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

/** Fields shared by local (to be uploaded) and remote (stored in S3) resources. */
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
    if (typeof fields.name !== "string") throw new ResourceError("INVALID_RESOURCE", "resource name must be a string");
    this.name = fields.name;
    this.uid = fields.uid ?? newUuid();
    this.bucket = fields.bucket ?? null;
    const { sha256: metaSha, ...metadata } = fields.metadata ?? {};
    this.metadata = metadata;
    this._sha256 = fields.sha256 ?? (typeof metaSha === "string" ? metaSha : null);
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
export function isResourceMarker(value: JsonValue | undefined): value is JsonObject {
  return isJsonObject(value) && Object.hasOwn(value, RESOURCE_MARKER);
}

/**
 * Reads a marker object with the lenient rules of spec §3.1: `uid`, `name`, `bucket` required,
 * `metadata` defaults to {}, `size` and `flags` may be absent, a top-level `sha256` (even null) wins.
 */
export function readResourceMarker(value: JsonObject, where: string): ResourceMarker {
  const inner = value[RESOURCE_MARKER];
  if (!isJsonObject(inner)) throw new ResourceError("INVALID_RESOURCE", `${where}: resource marker is not an object`);
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

import { parse, stringify } from "../json/index.js";
import type { JsonObject, JsonValue } from "../json/values.js";
import { isJsonObject } from "../json/values.js";

/** A consumer's registration in `karton.binds` (spec §4.1), parsed. */
export interface Bind {
  identity: string;
  filters: JsonObject[];
  info: string | null;
  /** Library version of the consumer; only displayed, never compared numerically. */
  version: string;
  persistent: boolean;
  serviceVersion: string | null;
  isAsync: boolean;
}

export class InvalidBindError extends Error {
  readonly code = "INVALID_BIND";
  constructor(
    readonly identity: string,
    message: string,
  ) {
    super(`bind of "${identity}": ${message}`);
    this.name = "InvalidBindError";
  }
}

/** The bind as Python writes it (sorted keys; the identity is the hash field, not part of the value). */
export function serializeBind(bind: Bind): string {
  return stringify({
    filters: bind.filters,
    info: bind.info,
    is_async: bind.isAsync,
    persistent: bind.persistent,
    service_version: bind.serviceVersion,
    version: bind.version,
  });
}

/**
 * Parses a bind value, accepting the legacy 2.x array form and `filters: {}` (read as `[]`).
 * Throws InvalidBindError naming the identity when the value cannot be read.
 */
export function parseBind(identity: string, raw: string): Bind {
  let value: JsonValue;
  try {
    value = parse(raw);
  } catch (err) {
    throw new InvalidBindError(identity, `value is not JSON (${(err as Error).message})`);
  }
  if (Array.isArray(value)) {
    return {
      identity,
      filters: checkFilters(identity, value),
      info: null,
      version: "2.x.x",
      persistent: !identity.endsWith(".test"),
      serviceVersion: null,
      isAsync: false,
    };
  }
  if (!isJsonObject(value)) throw new InvalidBindError(identity, "value is neither an object nor a list");
  const filters = isJsonObject(value.filters) && Object.keys(value.filters).length === 0 ? [] : value.filters;
  const optionalString = (key: string): string | null => {
    const v = value[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") throw new InvalidBindError(identity, `"${key}" must be a string or null`);
    return v;
  };
  const version = value.version;
  if (typeof version !== "string") throw new InvalidBindError(identity, '"version" must be a string');
  if (typeof value.persistent !== "boolean")
    throw new InvalidBindError(identity, '"persistent" must be a boolean');
  const isAsync = value.is_async ?? false;
  if (typeof isAsync !== "boolean") throw new InvalidBindError(identity, '"is_async" must be a boolean');
  return {
    identity,
    filters: checkFilters(identity, filters),
    info: optionalString("info"),
    version,
    persistent: value.persistent,
    serviceVersion: optionalString("service_version"),
    isAsync,
  };
}

function checkFilters(identity: string, filters: JsonValue | undefined): JsonObject[] {
  if (!Array.isArray(filters)) throw new InvalidBindError(identity, '"filters" must be a list of objects');
  filters.forEach((rule, i) => {
    if (!isJsonObject(rule)) throw new InvalidBindError(identity, `filter rule ${i} is not an object`);
  });
  return filters as JsonObject[];
}

/** Binds compared field by field as parsed values (spec §4.2), never as strings. */
export function bindsEqual(a: Bind, b: Bind): boolean {
  return (
    a.identity === b.identity &&
    a.info === b.info &&
    a.version === b.version &&
    a.persistent === b.persistent &&
    a.serviceVersion === b.serviceVersion &&
    a.isAsync === b.isAsync &&
    stringify(a.filters) === stringify(b.filters)
  );
}

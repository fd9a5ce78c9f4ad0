import type { Bind } from "../bind/bind.js";
import { compileFilters } from "../filters/index.js";
import type { JsonObject } from "../json/values.js";
import { isJsonObject } from "../json/values.js";
import { LIBRARY_VERSION } from "../version.js";
import { InvalidFiltersError } from "./errors.js";

/** The compiled form of a filter list (`matches` may throw on evaluation errors). */
export type CompiledFilterList = ReturnType<typeof compileFilters>;

/**
 * Validates a consumer's filter list (an array of plain objects, spec §11.1) and compiles it;
 * throws an {@link InvalidFiltersError} naming the identity and the problem.
 */
export function checkFilters(
  identity: string,
  filters: unknown,
): { filters: JsonObject[]; compiled: CompiledFilterList } {
  if (!Array.isArray(filters)) {
    throw new InvalidFiltersError(
      identity,
      `"static filters" must be an array of objects, got ${describe(filters)}`,
    );
  }
  filters.forEach((rule, i) => {
    if (!isJsonObject(rule)) {
      throw new InvalidFiltersError(
        identity,
        `filter rule ${i} must be a plain object, got ${describe(rule)}`,
      );
    }
  });
  try {
    return { filters: filters as JsonObject[], compiled: compileFilters(filters as JsonObject[]) };
  } catch (error) {
    throw new InvalidFiltersError(identity, (error as Error).message, { cause: error });
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object that is not a plain object" : typeof value;
}

/** The bind a consumer registers (spec §4.1). */
export function buildBind(fields: {
  identity: string;
  filters: JsonObject[];
  info: string | null;
  persistent: boolean;
  serviceVersion: string | null;
}): Bind {
  return {
    identity: fields.identity,
    filters: fields.filters,
    info: fields.info,
    version: LIBRARY_VERSION,
    persistent: fields.persistent,
    serviceVersion: fields.serviceVersion,
    isAsync: false,
  };
}

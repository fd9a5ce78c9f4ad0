/**
 * Access to the golden fixtures captured from Python karton-core 5.9.1 (see the README in that directory).
 *
 * The fixtures live outside the repository, in `shared/` next to the clone (`<clone>/../shared/...`).
 * Set KARTON_FIXTURES_DIR to use another location.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isJsonObject, type JsonValue, parse } from "../../src/json/index.js";

/** Absolute path of the fixture root directory (with a trailing separator). */
export const FIXTURES_DIR: string = process.env.KARTON_FIXTURES_DIR
  ? join(process.env.KARTON_FIXTURES_DIR, "/")
  : fileURLToPath(new URL("../../../shared/fixtures/python-karton-5.9.1/", import.meta.url));

/** Absolute path of a fixture file, e.g. `fixturePath("tasks/11-special-values.json")`. */
export function fixturePath(rel: string): string {
  return join(FIXTURES_DIR, rel);
}

/** A fixture file as UTF-8 text. */
export function readFixtureText(rel: string): string {
  return readFileSync(fixturePath(rel), "utf8");
}

/** A fixture file as raw bytes. */
export function readFixtureBytes(rel: string): Buffer {
  return readFileSync(fixturePath(rel));
}

/** A JSON fixture file, read with the lossless parser (big integers stay exact, `1.0` stays a PyFloat). */
export function readFixtureJson(rel: string): JsonValue {
  return parse(readFixtureText(rel));
}

/** Names (relative to the fixture root, sorted) of the files in a fixture directory, optionally by extension. */
export function listFixtures(relDir: string, ext?: string): string[] {
  return readdirSync(fixturePath(relDir))
    .filter((name) => ext === undefined || name.endsWith(ext.startsWith(".") ? ext : `.${ext}`))
    .sort()
    .map((name) => `${relDir.replace(/\/+$/, "")}/${name}`);
}

/**
 * Undoes the fixture convention for non-finite floats: `{"$nonfinite": "NaN" | "Infinity" | "-Infinity"}`
 * in `parsed` values becomes the number itself. Containers are changed **in place** (so objects keep their
 * identity and the key order the parser remembered); the result is returned.
 */
export function decodeNonFinite(value: JsonValue): JsonValue {
  const marker = nonFiniteMarker(value);
  if (marker !== undefined) return marker;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeNonFinite(value[i] as JsonValue);
  } else if (isJsonObject(value)) {
    for (const k of Object.keys(value)) {
      const v = value[k] as JsonValue;
      const decoded = decodeNonFinite(v);
      if (decoded !== v) {
        Object.defineProperty(value, k, {
          value: decoded,
          writable: true,
          enumerable: true,
          configurable: true,
        });
      }
    }
  }
  return value;
}

function nonFiniteMarker(value: JsonValue): number | undefined {
  if (!isJsonObject(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== "$nonfinite") return undefined;
  const marker = value.$nonfinite;
  if (marker === "NaN") return Number.NaN;
  if (marker === "Infinity") return Number.POSITIVE_INFINITY;
  if (marker === "-Infinity") return Number.NEGATIVE_INFINITY;
  throw new Error(`unknown $nonfinite marker ${String(marker)}`);
}

/** One captured value: an object holding `raw` (exact text) and `parsed` (the value Python decoded). */
export interface CapturedValue {
  /** Where the object sits in the fixture file, e.g. `tasks[1]`. */
  path: string;
  /** The `label` field, when present. */
  label: string | undefined;
  raw: string;
  /** With the `$nonfinite` markers already decoded (in place, see {@link decodeNonFinite}). */
  parsed: JsonValue;
  /** The whole captured object (redis_key, raw_len, raw_sha256, ...). */
  entry: Record<string, JsonValue>;
}

/**
 * Every object in a fixture document that has a string `raw` (or `<prefix>raw`) and a `parsed`
 * (`<prefix>parsed`) key, at any depth, in document order. `prefix` is `""` for tasks and binds, `"data_"`
 * for log messages.
 */
export function findCapturedValues(doc: JsonValue, prefix = ""): CapturedValue[] {
  const found: CapturedValue[] = [];
  const rawKey = `${prefix}raw`;
  const parsedKey = `${prefix}parsed`;
  const walk = (v: JsonValue, path: string): void => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        walk(item, `${path}[${i}]`);
      });
      return;
    }
    if (!isJsonObject(v)) return;
    const raw = v[rawKey];
    if (typeof raw === "string" && parsedKey in v) {
      const label = v.label;
      found.push({
        path,
        label: typeof label === "string" ? label : undefined,
        raw,
        parsed: decodeNonFinite(v[parsedKey] as JsonValue),
        entry: v,
      });
    }
    for (const k of Object.keys(v)) {
      if (k !== parsedKey) walk(v[k] as JsonValue, path === "" ? k : `${path}.${k}`);
    }
  };
  walk(doc, "");
  return found;
}

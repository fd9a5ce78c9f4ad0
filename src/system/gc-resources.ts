/**
 * Resource references of task documents, for the garbage collector's resource phase (spec §6.3),
 * and the deletion entries it sends. Pure functions over parsed JSON (no resource decoding).
 */
import { isJsonObject, type JsonObject, type JsonValue, parse } from "../json/index.js";
import { RESOURCE_MARKER } from "../resource/resource-base.js";

/**
 * Calls `onKey` with the S3 key (resource uid) of every resource in the default bucket referenced by
 * a task document, at any depth of `payload` and `payload_persistent`.
 *
 * Conservative where Python would fail: a marker whose bucket is null or missing counts as the default
 * bucket, and a marker with a string `uid` counts even when its other fields are invalid. Returns false
 * when the text is not a JSON object with object payloads — the caller must then fall back to
 * {@link textMentions} so that no object referenced by an unreadable document is deleted.
 */
export function forEachReferencedKey(raw: string, bucket: string, onKey: (key: string) => void): boolean {
  // Many documents carry no resource at all: skip parsing them. Writers never escape the ASCII
  // letters of the marker key, but a document with any `\u00XX` escape is parsed to be sure.
  if (!raw.includes(RESOURCE_MARKER) && !raw.includes("\\u00")) return true;
  let doc: JsonValue;
  try {
    doc = parseForGc(raw);
  } catch {
    return false;
  }
  if (!isJsonObject(doc)) return false;
  const payload = doc.payload;
  const persistent = doc.payload_persistent;
  if (!isJsonObject(payload) || !isJsonObject(persistent)) return false;
  walk(payload, bucket, onKey, 0);
  walk(persistent, bucket, onKey, 0);
  return true;
}

/**
 * A task document parsed for the garbage collector's decisions (status, time, receiver, resource
 * keys), which do not need the lossless parser's exact numbers: the built-in JSON.parse (faster, and
 * less garbage on passes over millions of documents), or the lossless parser when JSON.parse refuses
 * the text (`NaN`, `Infinity`, which Python writes). Throws when neither can read it. Documents that
 * are written back (crashed tasks) must be parsed again with the lossless parser.
 */
export function parseForGc(raw: string): JsonValue {
  try {
    return JSON.parse(raw) as JsonValue;
  } catch {
    return parse(raw);
  }
}

function walk(value: JsonValue, bucket: string, onKey: (key: string) => void, depth: number): void {
  if (depth > 10_000) return;
  if (Array.isArray(value)) {
    for (const item of value)
      if (typeof item === "object" && item !== null) walk(item, bucket, onKey, depth + 1);
    return;
  }
  if (!isJsonObject(value)) return;
  if (Object.hasOwn(value, RESOURCE_MARKER)) {
    const inner = value[RESOURCE_MARKER];
    if (isJsonObject(inner) && typeof inner.uid === "string") {
      const b = inner.bucket;
      if (b === bucket || b === null || b === undefined) onKey(inner.uid);
    }
    return;
  }
  for (const key in value) {
    const item = (value as JsonObject)[key] as JsonValue;
    if (typeof item === "object" && item !== null) walk(item, bucket, onKey, depth + 1);
  }
}

/** Keys of `candidates` that appear anywhere in `raw` (fallback for unreadable documents). */
export function textMentions(raw: string, candidates: Iterable<string>): string[] {
  const found: string[] = [];
  for (const key of candidates) if (key !== "" && raw.includes(key)) found.push(key);
  return found;
}

/**
 * DeleteObjects entries for every remaining version (spec §6.3): `{key, versionId}`, except that a
 * `"null"` version id is sent without `versionId` unless `[system] enable_null_version_deletion`.
 */
export function deletionEntries(
  versions: ReadonlyMap<string, readonly string[]>,
  explicitNullVersion: boolean,
): { key: string; versionId?: string }[] {
  const entries: { key: string; versionId?: string }[] = [];
  for (const [key, ids] of versions) {
    for (const versionId of ids) {
      entries.push(versionId !== "null" || explicitNullVersion ? { key, versionId } : { key });
    }
  }
  return entries;
}

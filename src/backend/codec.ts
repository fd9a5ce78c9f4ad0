/**
 * Encodings of values that both backends store the same way: log bodies, quarantine records,
 * and the cheap root check of legacy task documents. One place, so the embedded backend cannot
 * drift from the Redis one.
 */
import { isJsonObject, parse } from "../json/index.js";
import type { QuarantineRecord } from "./types.js";

/** Longest `raw` value kept in a quarantine record; longer ones are truncated with a note. */
export const QUARANTINE_RAW_LIMIT = 64 * 1024;

/** Decodes a log body with the lossless parser; a string `task` is decoded too (spec §8.3). */
export function decodeLogBody(message: string): Record<string, unknown> | null {
  let body: unknown;
  try {
    body = parse(message);
  } catch {
    return null;
  }
  if (!isJsonObject(body)) return null;
  const out: Record<string, unknown> = { ...body };
  if (typeof out.task === "string") {
    try {
      out.task = parse(out.task);
    } catch {
      // keep the string: a task that cannot be read is still worth showing
    }
  }
  return out;
}

export function encodeQuarantine(record: QuarantineRecord): string {
  const raw =
    record.raw !== null && record.raw.length > QUARANTINE_RAW_LIMIT
      ? `${record.raw.slice(0, QUARANTINE_RAW_LIMIT)}…[truncated, ${record.raw.length} chars]`
      : record.raw;
  return JSON.stringify({ ...record, raw });
}

/** Reads stored quarantine records; an unreadable one is shown as such, never dropped. */
export function decodeQuarantine(raws: string[]): QuarantineRecord[] {
  return raws.map((raw) => {
    try {
      return JSON.parse(raw) as QuarantineRecord;
    } catch {
      return { subject: "?", kind: "task", reason: "unreadable quarantine record", raw, at: 0, reporter: "" };
    }
  });
}

/** Cheap check of a legacy document's root (full parse only when the text mentions the root). */
export function documentHasRoot(raw: string, root: string): boolean {
  if (!raw.includes(root)) return false;
  try {
    const doc = parse(raw);
    return isJsonObject(doc) && doc.root_uid === root;
  } catch {
    return false;
  }
}

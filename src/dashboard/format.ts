/**
 * Value formatting shared by pages and the JSON API: times, sizes, uids, error lines, and the
 * lossless indented JSON of task documents.
 */
import { stringify } from "../json/index.js";
import { isJsonObject, PyFloat } from "../json/values.js";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `YYYY-MM-DD HH:MM:SS` in the server's local time (Python's dashboard shows local time too). */
export function formatTimestamp(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  const d = new Date(seconds * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** ISO 8601 (UTC) for `<time datetime>`; "" for non-finite values. */
export function isoTimestamp(seconds: number): string {
  if (!Number.isFinite(seconds)) return "";
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** "42 seconds ago", "17 minutes ago", "5 hours ago", "3 days ago" (or "in …" for future times). */
export function formatAge(seconds: number, now: number): string {
  if (!Number.isFinite(seconds)) return "-";
  let diff = Math.round(now - seconds);
  const future = diff < 0;
  diff = Math.abs(diff);
  let text: string;
  if (diff < 180) text = `${diff} second${diff === 1 ? "" : "s"}`;
  else if (diff < 180 * 60) text = `${Math.floor(diff / 60)} minutes`;
  else if (diff < 72 * 3600) text = `${Math.floor(diff / 3600)} hours`;
  else text = `${Math.floor(diff / 86400)} days`;
  return future ? `in ${text}` : `${text} ago`;
}

/** Byte count as `123 B`, `1.5 KiB`, `2.0 MiB` …; "unknown" for null. */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) return "unknown size";
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Short id of a uid: the part after the last `:` (spec §2.3). */
export function shortUid(uid: string): string {
  const i = uid.lastIndexOf(":");
  return i < 0 ? uid : uid.slice(i + 1);
}

/** The whole traceback as Python's dashboard shows it: the lines concatenated without separator. */
export function errorText(error: readonly string[] | null): string {
  return error === null ? "" : error.join("");
}

/** The last non-empty line of a traceback (the exception line), or "". */
export function lastErrorLine(error: readonly string[] | null): string {
  const lines = errorText(error)
    .split("\n")
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== "");
  return lines[lines.length - 1] ?? "";
}

/** Header value as text (`key:value` badges, search): strings verbatim, anything else as JSON. */
export function headerText(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return stringify(value, { sortKeys: false });
  } catch {
    return String(value);
  }
}

/**
 * Indented JSON of a document read losslessly (big integers exact, `1.0`, NaN kept), in its key
 * order. Strings are written with JSON.stringify (readable non-ASCII); numbers with the lossless writer.
 */
export function prettyJson(value: unknown, indent = 2, level = 0): string {
  const pad1 = " ".repeat(indent * (level + 1));
  const pad0 = " ".repeat(indent * level);
  if (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof PyFloat)) {
    const toJSON = (value as { toJSON?: () => unknown }).toJSON;
    if (!isJsonObject(value) && typeof toJSON === "function")
      return prettyJson(toJSON.call(value), indent, level);
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return "{}";
    const body = entries.map(([k, v]) => `${pad1}${JSON.stringify(k)}: ${prettyJson(v, indent, level + 1)}`);
    return `{\n${body.join(",\n")}\n${pad0}}`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${pad1}${prettyJson(v, indent, level + 1)}`).join(",\n")}\n${pad0}]`;
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "null";
  return stringify(value);
}

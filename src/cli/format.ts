/** Text rendering helpers of the `karton` command (tables, times, headers, payloads). */
import { isJsonObject, type JsonObject, type JsonValue, stringify } from "../json/index.js";
import { isResourceMarker, readResourceMarker } from "../resource/resource-base.js";

/** Python's `str.ljust`: pads to `width` code points; longer values are not truncated. */
export function ljust(text: string, width: number): string {
  const length = [...text].length;
  return length >= width ? text : text + " ".repeat(width - length);
}

/** Left-aligned columns separated by two spaces (the last column is not padded). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, [...cell].length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : ljust(cell, widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** Unix seconds as ISO 8601 UTC (`2024-01-02T03:04:05.678Z`); `-` when not a valid time. */
export function isoTime(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "-";
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? "-" : date.toISOString();
}

/** A JSON value in one line for summaries: strings bare unless they need quoting. */
export function inlineValue(value: unknown): string {
  if (typeof value === "string") return value !== "" && !/[\s"=]/.test(value) ? value : JSON.stringify(value);
  try {
    return stringify(value, { sortKeys: false });
  } catch {
    return String(value);
  }
}

/** `key=value` pairs of headers (in their order), leaving out `exclude`. */
export function headersSummary(headers: Record<string, unknown>, exclude: readonly string[] = []): string {
  return Object.entries(headers)
    .filter(([key]) => !exclude.includes(key))
    .map(([key, value]) => `${key}=${inlineValue(value)}`)
    .join(" ");
}

/** A resource marker as one line: name, size, hash, where it is stored. */
export function resourceSummary(marker: JsonObject): string {
  try {
    const r = readResourceMarker(marker, "payload");
    const parts = [`<resource ${JSON.stringify(r.name)}`];
    parts.push(r.size === null ? "size unknown" : `${r.size} bytes`);
    if (r.flags.length > 0) parts.push(`flags ${r.flags.join(",")}`);
    parts.push(`sha256 ${r.sha256 ?? "-"}`);
    parts.push(`s3://${r.bucket ?? "?"}/${r.uid}>`);
    return parts.join(", ");
  } catch (error) {
    return `<invalid resource: ${error instanceof Error ? error.message : String(error)}>`;
  }
}

/** Options of {@link prettyPayload}. */
export interface PrettyOptions {
  /** Strings longer than this many characters are cut, with a note (default 300). */
  maxString?: number;
  /** Items shown per array / keys per object before `… N more` (default 50). */
  maxItems?: number;
}

/**
 * A payload as indented JSON-like text for people: resources as one-line summaries, long strings
 * and containers cut. Numbers are written losslessly.
 */
export function prettyPayload(value: JsonValue, options: PrettyOptions = {}, indent = ""): string {
  const maxString = options.maxString ?? 300;
  const maxItems = options.maxItems ?? 50;
  const inner = `${indent}  `;
  if (typeof value === "string") {
    if (value.length <= maxString) return stringify(value);
    return `${stringify(value.slice(0, maxString))}… (${value.length - maxString} more characters)`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.slice(0, maxItems).map((item) => inner + prettyPayload(item, options, inner));
    if (value.length > maxItems) items.push(`${inner}… ${value.length - maxItems} more items`);
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  if (isJsonObject(value)) {
    if (isResourceMarker(value)) return resourceSummary(value);
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const items = entries
      .slice(0, maxItems)
      .map(([key, item]) => `${inner}${stringify(key)}: ${prettyPayload(item as JsonValue, options, inner)}`);
    if (entries.length > maxItems) items.push(`${inner}… ${entries.length - maxItems} more keys`);
    return `{\n${items.join(",\n")}\n${indent}}`;
  }
  return stringify(value);
}

/** Every resource marker of a payload with its path (`payload.sample`, `payload.list[0]`). */
export function listResources(
  value: JsonValue,
  path: string,
  out: { path: string; resource: JsonValue }[] = [],
): { path: string; resource: JsonValue }[] {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      listResources(item, `${path}[${i}]`, out);
    });
  } else if (isJsonObject(value)) {
    if (isResourceMarker(value)) out.push({ path, resource: value.__karton_resource__ as JsonValue });
    else
      for (const [key, item] of Object.entries(value))
        listResources(item as JsonValue, `${path}.${key}`, out);
  }
  return out;
}

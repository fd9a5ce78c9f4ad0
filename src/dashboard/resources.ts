/**
 * Resources referenced by a task document (markers `{"__karton_resource__": {...}}` at any depth of
 * `payload` and `payload_persistent`, spec §3.1), read from a task parsed without decoding
 * resources. The dashboard only serves downloads of resources found this way in the task shown.
 */
import { isJsonObject, type JsonValue, toNumber } from "../json/values.js";
import { RESOURCE_MARKER } from "../resource/resource-base.js";
import type { Task } from "../task/task.js";

export interface TaskResource {
  /** Where it sits, e.g. `payload.sample` or `payload_persistent.files[0]`. */
  path: string;
  uid: string;
  name: string;
  bucket: string | null;
  size: number | null;
  sha256: string | null;
  flags: string[];
}

function readMarker(inner: JsonValue | undefined, path: string): TaskResource | undefined {
  if (!isJsonObject(inner)) return undefined;
  const { uid, name, bucket, size, sha256, metadata, flags } = inner;
  if (typeof uid !== "string" || uid === "") return undefined;
  const metaSha = isJsonObject(metadata) && typeof metadata.sha256 === "string" ? metadata.sha256 : null;
  const sizeValue = typeof size === "number" || typeof size === "bigint" ? toNumber(size) : null;
  return {
    path,
    uid,
    name: typeof name === "string" ? name : uid,
    bucket: typeof bucket === "string" ? bucket : null,
    size: sizeValue !== null && Number.isFinite(sizeValue) ? sizeValue : null,
    // A top-level sha256 key (even null) wins over metadata.sha256 (spec §3.1).
    sha256: Object.hasOwn(inner, "sha256") ? (typeof sha256 === "string" ? sha256 : null) : metaSha,
    flags: Array.isArray(flags) ? flags.filter((f): f is string => typeof f === "string") : [],
  };
}

function walk(value: unknown, path: string, out: TaskResource[], depth: number): void {
  if (depth > 200) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      walk(item, `${path}[${i}]`, out, depth + 1);
    });
    return;
  }
  if (!isJsonObject(value)) return;
  if (Object.hasOwn(value, RESOURCE_MARKER)) {
    const resource = readMarker(value[RESOURCE_MARKER], path);
    if (resource) out.push(resource);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    walk(
      item,
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
      out,
      depth + 1,
    );
  }
}

/** Every resource marker of the task, persistent payload first (as lookups see it). */
export function taskResources(task: Task): TaskResource[] {
  const out: TaskResource[] = [];
  walk(task.payloadPersistent, "payload_persistent", out, 0);
  walk(task.payload, "payload", out, 0);
  return out;
}

/** The resource with this uid in the task (the first one when several share it), if any. */
export function findTaskResource(task: Task, uid: string): TaskResource | undefined {
  return taskResources(task).find((r) => r.uid === uid);
}

/** A file name safe for `Content-Disposition`: the name without path parts and control characters. */
export function downloadName(resource: TaskResource): string {
  const base = resource.name.split(/[/\\]/).pop() ?? "";
  const clean = base.replace(/[\u0000-\u001f\u007f"]/g, "_").trim();
  return clean === "" || clean === "." || clean === ".." ? (resource.sha256 ?? resource.uid) : clean;
}

/** `Content-Disposition: attachment` with an ASCII fallback and the UTF-8 name (RFC 6266). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/[\\"]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

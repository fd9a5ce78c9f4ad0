import { randomUUID } from "node:crypto";

/** A fresh lowercase, hyphenated uuid4 (Python `str(uuid4())`). */
export function newUuid(): string {
  return randomUUID();
}

/** New-style task uid `{<root_uid>}:<uuid>` (spec §2.3). */
export function makeUid(rootUid: string, uuid: string = newUuid()): string {
  return `{${rootUid}}:${uuid}`;
}

/**
 * Short task id: the text after the last `:` (the whole uid when there is none).
 * Used in log records and titles; Python calls it `fquid_to_uid`.
 */
export function fquidToUid(fquid: string): string {
  const at = fquid.lastIndexOf(":");
  return at < 0 ? fquid : fquid.slice(at + 1);
}

/**
 * Reports unreadable task documents and binds to the quarantine (a karton-ts extension) once per
 * distinct value per process, so that a broken document seen by every GC pass is reported once.
 */
import { createHash } from "node:crypto";
import type { KartonBackend } from "../backend/backend.js";
import type { QuarantineRecord } from "../backend/types.js";

/** How many distinct reports are remembered before the memory is reset. */
const MAX_REMEMBERED = 100_000;

export class QuarantineReporter {
  readonly #backend: Pick<KartonBackend, "quarantine">;
  #seen = new Set<string>();

  constructor(backend: Pick<KartonBackend, "quarantine">) {
    this.#backend = backend;
  }

  /** True when this record (kind, subject, value) was already reported or remembered. */
  seen(record: Pick<QuarantineRecord, "kind" | "subject" | "raw">): boolean {
    return this.#seen.has(recordKey(record));
  }

  /** Remembers records reported by someone else (e.g. the backend applying a route plan). */
  remember(records: readonly Pick<QuarantineRecord, "kind" | "subject" | "raw">[]): void {
    for (const record of records) this.#add(recordKey(record));
  }

  /** Stores the records not reported before; returns the ones it stored. */
  async report(records: readonly QuarantineRecord[]): Promise<QuarantineRecord[]> {
    const fresh: QuarantineRecord[] = [];
    const keys: string[] = [];
    for (const record of records) {
      const key = recordKey(record);
      if (this.#seen.has(key) || keys.includes(key)) continue;
      keys.push(key);
      fresh.push(record);
    }
    if (fresh.length === 0) return fresh;
    await this.#backend.quarantine(fresh);
    for (const key of keys) this.#add(key);
    return fresh;
  }

  #add(key: string): void {
    if (this.#seen.size >= MAX_REMEMBERED) this.#seen = new Set();
    this.#seen.add(key);
  }
}

function recordKey(record: Pick<QuarantineRecord, "kind" | "subject" | "raw">): string {
  const digest = record.raw === null ? "-" : createHash("sha1").update(record.raw).digest("base64");
  return `${record.kind}\u0000${record.subject}\u0000${digest}`;
}

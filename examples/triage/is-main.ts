import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * True when the module of `metaUrl` (pass `import.meta.url`) is the program node was started with
 * (`node dist/examples/triage/classifier.js`, `node --import tsx examples/triage/classifier.ts`),
 * false when it is imported (by the demo, by tests).
 */
export function isMainModule(metaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(metaUrl));
  } catch {
    return false;
  }
}

/**
 * karton.triage-reporter: receives every classified sample and collects the results per analysis
 * (root uid): name, hashes, what the classifier found, where it came from.
 *
 * In this process the results are in {@link Reporter.results}; run on its own
 * (`node dist/examples/triage/reporter.js --config-file karton.ini`) it logs one line per sample.
 */
import { Consumer, type ResourceBase, type Task } from "../../src/index.js";
import { isMainModule } from "./is-main.js";

/** What the reporter keeps of one classified sample. */
export interface ReportEntry {
  name: string;
  sha256: string | null;
  size: number | null;
  stage: string;
  kind: string;
  platform: string | null;
  extension: string | null;
  magic: string | null;
  /** Name of the archive the sample was extracted from, if any. */
  parent: string | null;
  /** Archive nesting level (0 for a submitted sample). */
  depth: number;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

export class Reporter extends Consumer {
  static override identity = "karton.triage-reporter";
  static override version = "1.0.0";
  static override description = "Collects the classification of every sample, per analysis.";
  static override filters = [
    { type: "sample", stage: "recognized" },
    { type: "sample", stage: "unrecognized" },
  ];

  /** Root uid → classified samples, in arrival order. */
  readonly results = new Map<string, ReportEntry[]>();

  process(task: Task): void {
    const sample = task.getResource("sample");
    const parent = task.getPayload("parent");
    const entry: ReportEntry = {
      name: sample.name,
      sha256: sample.sha256,
      size: sample.size,
      stage: String(task.headers.stage),
      kind: String(task.headers.kind),
      platform: text(task.headers.platform),
      extension: text(task.headers.extension),
      magic: text(task.getPayload("magic")),
      parent:
        parent !== null && typeof parent === "object" && "name" in parent
          ? (parent as ResourceBase).name
          : null,
      depth: Number(task.getPayload("extraction_depth", 0)) || 0,
    };
    let list = this.results.get(task.rootUid);
    if (list === undefined) {
      list = [];
      this.results.set(task.rootUid, list);
    }
    list.push(entry);
    const what = [entry.kind, entry.platform, entry.extension].filter((x) => x !== null).join("/");
    const from = entry.parent === null ? "" : ` (from ${entry.parent})`;
    this.log.info(`[${task.rootUid}] ${entry.name}: ${what}${from}`);
  }

  /** The samples of one analysis, sorted by name. */
  report(rootUid: string): ReportEntry[] {
    return [...(this.results.get(rootUid) ?? [])].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
  }
}

if (isMainModule(import.meta.url)) await Reporter.main();

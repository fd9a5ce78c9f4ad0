/**
 * karton.archive-extractor: unpacks recognised zip archives and sends every file back into the
 * pipeline as a raw sample (`{type: "sample", kind: "raw"}`, payload `sample` = the file, `parent` =
 * the archive), so that nested archives are unpacked too — up to a depth limit.
 *
 * Extraction uses the resource's safe API (`extractTemporary`): entries escaping the target
 * directory and symbolic links are refused, and zip-bomb limits (total bytes, entries, ratio) are
 * enforced while inflating. A refused archive crashes the task with a `ResourceError`.
 *
 * Configuration (`[extractor]` in karton.ini, `KARTON_EXTRACTOR_<OPTION>`, or the flags):
 *
 * | option            | flag                | default   | meaning                                     |
 * |-------------------|---------------------|-----------|---------------------------------------------|
 * | `max_depth`       | `--max-depth`       | 3         | nesting levels extracted (archive in archive) |
 * | `max_total_bytes` | `--max-total-bytes` | 64 MiB    | bytes inflated per archive                  |
 * | `max_entries`     | `--max-entries`     | 500       | entries per archive                         |
 * | `max_file_size`   | `--max-file-size`   | 16 MiB    | larger files are skipped (logged)           |
 *
 * The depth travels in the plain payload key `extraction_depth` (0 for a submitted sample). It
 * cannot be persistent payload: a child inherits its parent's persistent payload and the parent's
 * value wins, so a persistent counter could never grow.
 *
 * Run it on its own: `node dist/examples/triage/archive-extractor.js --config-file karton.ini`.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import {
  Karton,
  type KartonConfig,
  type ProcessContext,
  Resource,
  type ServiceArgs,
  type ServiceOptions,
  Task,
} from "../../src/index.js";
import { isMainModule } from "./is-main.js";

/** Limits of the extractor (see the module documentation). */
export interface ExtractorLimits {
  maxDepth: number;
  maxTotalBytes: number;
  maxEntries: number;
  maxFileSize: number;
}

export const DEFAULT_EXTRACTOR_LIMITS: Readonly<ExtractorLimits> = Object.freeze({
  maxDepth: 3,
  maxTotalBytes: 64 * 1024 * 1024,
  maxEntries: 500,
  maxFileSize: 16 * 1024 * 1024,
});

const OPTIONS: readonly [keyof ExtractorLimits, string][] = [
  ["maxDepth", "max_depth"],
  ["maxTotalBytes", "max_total_bytes"],
  ["maxEntries", "max_entries"],
  ["maxFileSize", "max_file_size"],
];

/** A file found in the extraction directory. */
interface ExtractedFile {
  /** Path inside the archive, with `/`. */
  name: string;
  path: string;
}

/** Regular files below `root`, sorted by their path inside the archive. */
async function listFiles(root: string): Promise<ExtractedFile[]> {
  const out: ExtractedFile[] = [];
  const visit = async (dir: string, prefix: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path, `${prefix}${entry.name}/`);
      else if (entry.isFile()) out.push({ name: `${prefix}${entry.name}`, path });
    }
  };
  await visit(root, "");
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function nonNegativeInteger(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} must be a non-negative integer`);
    return Number(value);
  };
}

export class ArchiveExtractor extends Karton {
  static override identity = "karton.archive-extractor";
  static override version = "1.0.0";
  static override description =
    "Extracts zip archives (safely, with depth and size limits) into new samples.";
  static override filters = [{ type: "sample", stage: "recognized", kind: "archive" }];

  readonly limits: ExtractorLimits;

  constructor(options?: ServiceOptions) {
    super(options);
    const limits = { ...DEFAULT_EXTRACTOR_LIMITS };
    for (const [key, option] of OPTIONS) {
      const value = this.config.getInt("extractor", option, limits[key]);
      if (value < 0) throw this.config.invalid("extractor", option, "a non-negative integer");
      limits[key] = value;
    }
    this.limits = limits;
  }

  async process(task: Task, { signal }: ProcessContext): Promise<void> {
    const archive = task.getResource("sample");
    if (task.headers.extension !== "zip") {
      this.log.info(`${archive.name}: ${String(task.headers.extension)} archives are not supported`);
      return;
    }
    const depth = Number(task.getPayload("extraction_depth", 0)) || 0;
    if (depth >= this.limits.maxDepth) {
      this.log.warning(`${archive.name}: not extracted, depth limit ${this.limits.maxDepth} reached`);
      return;
    }
    const quality = typeof task.headers.quality === "string" ? task.headers.quality : "high";
    let sent = 0;
    await archive.extractTemporary(
      async (directory) => {
        for (const file of await listFiles(directory)) {
          signal.throwIfAborted();
          const child = Resource.fromFile(file.name, file.path);
          await child.prepare();
          if ((child.size ?? 0) > this.limits.maxFileSize) {
            this.log.warning(`${archive.name}: ${file.name} skipped (${child.size} bytes > max_file_size)`);
            continue;
          }
          // Sent (and uploaded) before the temporary directory is removed.
          await this.sendTask(
            new Task(
              { type: "sample", kind: "raw", quality },
              { payload: { sample: child, parent: archive, extraction_depth: depth + 1 } },
            ),
          );
          sent++;
        }
      },
      { maxTotalBytes: this.limits.maxTotalBytes, maxEntries: this.limits.maxEntries },
    );
    this.log.info(`${archive.name}: extracted ${sent} file(s) at depth ${depth + 1}`);
  }

  static override argsParser() {
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `this` bound to the subclass (identity, version)
    return super
      .argsParser()
      .option("--max-depth <n>", "Nesting levels to extract", nonNegativeInteger("--max-depth"))
      .option("--max-total-bytes <n>", "Bytes inflated per archive", nonNegativeInteger("--max-total-bytes"))
      .option("--max-entries <n>", "Entries per archive", nonNegativeInteger("--max-entries"))
      .option("--max-file-size <n>", "Larger files are skipped", nonNegativeInteger("--max-file-size"));
  }

  static override configFromArgs(config: KartonConfig, args: ServiceArgs): void {
    // biome-ignore lint/complexity/noThisInStatic: `super` keeps `this` bound to the subclass
    super.configFromArgs(config, args);
    config.loadFromDict({
      extractor: {
        max_depth: args.maxDepth as number | undefined,
        max_total_bytes: args.maxTotalBytes as number | undefined,
        max_entries: args.maxEntries as number | undefined,
        max_file_size: args.maxFileSize as number | undefined,
      },
    });
  }
}

if (isMainModule(import.meta.url)) await ArchiveExtractor.main();

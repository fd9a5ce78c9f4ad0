/**
 * karton.classifier: recognises raw samples by their magic bytes and sends them on as
 * `{type: "sample", stage: "recognized", kind, platform?, extension?}`, like the ecosystem's
 * karton-classifier (unrecognised content goes on as `stage: "unrecognized"`).
 *
 * Run it on its own: `node dist/examples/triage/classifier.js --config-file karton.ini`.
 */
import { Karton, type Task } from "../../src/index.js";
import { isMainModule } from "./is-main.js";
import { classify } from "./magic.js";

export class Classifier extends Karton {
  static override identity = "karton.classifier";
  static override version = "1.0.0";
  static override description = "Recognises samples by their magic bytes (kind, platform, extension).";
  static override filters = [{ type: "sample", kind: "raw" }];

  async process(task: Task): Promise<void> {
    const sample = task.getResource("sample");
    const found = classify(await sample.content());
    const headers: Record<string, string> = {
      type: "sample",
      stage: found.stage,
      kind: found.kind,
      quality: typeof task.headers.quality === "string" ? task.headers.quality : "high",
    };
    if (found.platform !== undefined) headers.platform = found.platform;
    if (found.extension !== undefined) headers.extension = found.extension;
    // The derived task carries the whole payload on (sample, parent, extraction depth...).
    const derived = task.deriveTask(headers);
    derived.payload.magic = found.magic;
    this.log.info(`${sample.name}: ${found.magic}`);
    await this.sendTask(derived);
  }
}

if (isMainModule(import.meta.url)) await Classifier.main();

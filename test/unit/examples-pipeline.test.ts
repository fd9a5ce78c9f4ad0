// The whole triage pipeline (classifier, archive extractor, reporter) with the real karton-system
// router on the embedded backend (PipelineHarness): analysis trees of the generated samples, crashes
// of unsafe archives, the depth limit.
import { afterEach, describe, expect, it } from "vitest";
import { ArchiveExtractor } from "../../examples/triage/archive-extractor.js";
import { Classifier } from "../../examples/triage/classifier.js";
import { PRODUCER_IDENTITY, sampleTask } from "../../examples/triage/producer.js";
import { Reporter } from "../../examples/triage/reporter.js";
import { buildTriageView, renderSampleTree } from "../../examples/triage/sample-tree.js";
import { generateSamples, zipOf } from "../../examples/triage/samples.js";
import { TaskState } from "../../src/task/enums.js";
import type { Analysis } from "../../src/testing/index.js";
import { PipelineHarness } from "../../src/testing/index.js";

/** Expected sample trees of the generated samples (render without sizes and hashes). */
const GENERATED_TREES: Record<string, string> = {
  "invoice.exe": "invoice.exe  runnable · win32 · exe",
  "bundle.zip": [
    "bundle.zip  archive · zip",
    "├─ README.txt  text · txt",
    "├─ bin/helper.dll  runnable · win32 · dll",
    "├─ nested/inner.zip  archive · zip",
    "│  ├─ linux/agent  runnable · linux · elf",
    "│  └─ run.py  script · linux · py",
    "└─ tools/install.sh  script · linux · sh",
  ].join("\n"),
  "deploy.sh": "deploy.sh  script · linux · sh",
  "notes.txt": "notes.txt  text · txt",
};

function tree(analysis: Analysis): string {
  const view = buildTriageView(
    analysis.rootUid,
    analysis.tasks.map((n) => n.task),
  );
  return view.sample ? renderSampleTree(view.sample, { details: false }) : "(none)";
}

let harness: PipelineHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe("triage pipeline (PipelineHarness)", () => {
  it("classifies every sample and extracts nested archives", async () => {
    harness = new PipelineHarness({ producerIdentity: PRODUCER_IDENTITY });
    harness.add(Classifier, ArchiveExtractor, Reporter);
    const samples = await generateSamples();
    const roots = [];
    for (const sample of samples)
      roots.push({ name: sample.name, task: await harness.send(sampleTask(sample)) });
    await harness.drain({ timeoutMs: 20_000 });

    for (const { name, task } of roots) {
      const analysis = await harness.analysis(task.rootUid);
      expect(analysis.crashed).toEqual([]);
      expect(analysis.complete).toBe(true);
      expect(tree(analysis)).toBe(GENERATED_TREES[name]);
    }

    // The task tree of the bundle: submitted task → classifier → recognized → extractor + reporter.
    const bundle = await harness.analysis(roots[1]!.task.rootUid);
    const top = bundle.root!;
    expect(top.headers).toEqual({ type: "sample", kind: "raw", quality: "high", origin: PRODUCER_IDENTITY });
    expect(top.children.map((c) => c.receiver)).toEqual(["karton.classifier"]);
    const recognizedArchive = top.children[0]!.children[0]!;
    expect(recognizedArchive.headers).toMatchObject({
      stage: "recognized",
      kind: "archive",
      extension: "zip",
    });
    expect(recognizedArchive.children.map((c) => c.receiver)).toEqual([
      "karton.archive-extractor",
      "karton.triage-reporter",
    ]);
    expect(bundle.byReceiver("karton.archive-extractor")).toHaveLength(2); // bundle.zip and nested/inner.zip
    expect(bundle.byReceiver("karton.classifier")).toHaveLength(7);
    expect(bundle.byReceiver("karton.triage-reporter")).toHaveLength(7);
    expect(bundle.tasks.every((n) => n.status === TaskState.Finished)).toBe(true);
    const agent = bundle.find(
      (n) =>
        n.receiver === null &&
        n.headers.kind === "raw" &&
        n.task.getResource("sample").name === "linux/agent",
    );
    expect(agent?.task.getPayload("extraction_depth")).toBe(2);
    expect(agent?.task.getResource("parent").name).toBe("nested/inner.zip");

    const reporter = harness.services.find((s): s is Reporter => s instanceof Reporter)!;
    expect(reporter.report(roots[1]!.task.rootUid).map((e) => `${e.depth} ${e.name} ${e.kind}`)).toEqual([
      "1 README.txt text",
      "1 bin/helper.dll runnable",
      "0 bundle.zip archive",
      "2 linux/agent runnable",
      "1 nested/inner.zip archive",
      "2 run.py script",
      "1 tools/install.sh script",
    ]);
  });

  it("shows a refused archive as a crash of the extractor, and honours the depth limit", async () => {
    harness = new PipelineHarness({ logLevel: "CRITICAL", config: { extractor: { max_depth: 1 } } });
    harness.add(Classifier, ArchiveExtractor, Reporter);
    const placeholder = "aaaaaaaaaa";
    const slip = await zipOf([{ name: placeholder, data: "#!/bin/sh\n" }]);
    for (let at = slip.indexOf(placeholder); at >= 0; at = slip.indexOf(placeholder, at + 1))
      slip.write("../evil.sh", at);
    const slipAnalysis = await harness.run(sampleTask({ name: "slip.zip", data: slip }));
    expect(slipAnalysis.crashed.map((n) => [n.receiver, n.errorMessage?.split(":")[0]])).toEqual([
      ["karton.archive-extractor", "ResourceError"],
    ]);
    expect(tree(slipAnalysis)).toMatch(
      /^slip\.zip {2}archive · zip\n! karton\.archive-extractor: ResourceError: .*"\.\.\/evil\.sh" climbs out of the target directory/,
    );

    const bundle = (await generateSamples())[1]!;
    const limited = await harness.run(sampleTask(bundle));
    expect(limited.crashed).toEqual([]);
    expect(tree(limited)).toBe(
      [
        "bundle.zip  archive · zip",
        "├─ README.txt  text · txt",
        "├─ bin/helper.dll  runnable · win32 · dll",
        "├─ nested/inner.zip  archive · zip",
        "└─ tools/install.sh  script · linux · sh",
      ].join("\n"),
    );
  });
});

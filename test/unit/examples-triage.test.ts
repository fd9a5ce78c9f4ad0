// The triage example's services, one at a time, with the project's own harness (runTask,
// assertTasksEqual): classifier, archive extractor (limits, unsafe archives), reporter, producer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ArchiveExtractor, DEFAULT_EXTRACTOR_LIMITS } from "../../examples/triage/archive-extractor.js";
import { Classifier } from "../../examples/triage/classifier.js";
import { classify, scriptExtension, shebangInterpreter } from "../../examples/triage/magic.js";
import { PRODUCER_IDENTITY, sampleTask, submitSamples } from "../../examples/triage/producer.js";
import { Reporter } from "../../examples/triage/reporter.js";
import {
  elfStub,
  generateSamples,
  peStub,
  readSampleDirectory,
  zipOf,
} from "../../examples/triage/samples.js";
import { KartonConfig } from "../../src/config/config.js";
import { ResourceError } from "../../src/resource/errors.js";
import { Resource } from "../../src/resource/local-resource.js";
import { Producer } from "../../src/service/producer.js";
import { Task } from "../../src/task/task.js";
import { assertTasksEqual, createTestBackend, runTask, testKarton } from "../../src/testing/index.js";

const quiet = { logging: { level: "CRITICAL" } };

function rawSample(name: string, data: Buffer | string, payload: Record<string, unknown> = {}): Task {
  return new Task(
    { type: "sample", kind: "raw", quality: "high" },
    { payload: { sample: Resource.fromBytes(name, data), ...(payload as Record<string, never>) } },
  );
}

function recognized(
  name: string,
  data: Buffer,
  headers: Record<string, string>,
  payload: Record<string, unknown> = {},
) {
  return new Task(
    { type: "sample", stage: "recognized", quality: "high", ...headers },
    { payload: { sample: Resource.fromBytes(name, data), ...(payload as Record<string, never>) } },
  );
}

/** A zip whose single entry is named `name` even when yazl would refuse it (e.g. `../x`). */
async function zipWithRawName(name: string, data: string): Promise<Buffer> {
  const placeholder = "a".repeat(name.length);
  const zip = await zipOf([{ name: placeholder, data }]);
  const from = Buffer.from(placeholder);
  for (let at = zip.indexOf(from); at >= 0; at = zip.indexOf(from, at + 1)) zip.write(name, at, "latin1");
  return zip;
}

describe("magic bytes", () => {
  it("recognises executables, archives, scripts and text", () => {
    expect(classify(peStub())).toMatchObject({ kind: "runnable", platform: "win32", extension: "exe" });
    expect(classify(peStub({ dll: true }))).toMatchObject({
      kind: "runnable",
      platform: "win32",
      extension: "dll",
    });
    expect(classify(Buffer.from("MZ just a DOS stub"))).toMatchObject({
      extension: "exe",
      magic: "MS-DOS executable",
    });
    expect(classify(elfStub())).toEqual({
      stage: "recognized",
      kind: "runnable",
      platform: "linux",
      extension: "elf",
      magic: "ELF 64-bit LSB executable",
    });
    expect(classify(Buffer.from("PK\x05\x06" + "\0".repeat(18), "latin1"))).toMatchObject({
      kind: "archive",
    });
    expect(classify(Buffer.from("#!/bin/bash\necho\n"))).toMatchObject({ kind: "script", extension: "sh" });
    expect(classify(Buffer.from("#!/usr/bin/env -S python3 -u\n"))).toMatchObject({ extension: "py" });
    expect(classify(Buffer.from("plain words\n"))).toMatchObject({ stage: "recognized", kind: "text" });
    expect(classify(Buffer.from([0xff, 0xfe, 0x00, 0x01]))).toEqual({
      stage: "unrecognized",
      kind: "unknown",
      magic: "data",
    });
    expect(classify(Buffer.alloc(0))).toMatchObject({ stage: "unrecognized", kind: "empty" });
  });

  it("names script interpreters", () => {
    expect(shebangInterpreter("#!/usr/bin/env PATH=/x perl -w")).toBe("perl");
    expect(shebangInterpreter("#! /bin/zsh")).toBe("zsh");
    expect(["zsh", "python3.12", "perl", "ruby", "node", "php8", "pwsh", "awk"].map(scriptExtension)).toEqual(
      ["sh", "py", "pl", "rb", "js", "php", "ps1", "awk"],
    );
  });
});

describe("karton.classifier", () => {
  it("sends a recognized sample with kind, platform and extension (the payload carried on)", async () => {
    const exe = peStub();
    const outputs = await runTask(Classifier, rawSample("invoice.exe", exe), { config: quiet });
    await assertTasksEqual(outputs, [
      recognized(
        "whatever.bin",
        exe,
        { kind: "runnable", platform: "win32", extension: "exe", origin: "karton.classifier" },
        { magic: "PE32 executable (EXE) Intel 80386, for MS Windows" },
      ),
    ]);
  });

  it("keeps parent, depth and quality of extracted samples", async () => {
    const parent = Resource.fromBytes("bundle.zip", "PK\x05\x06");
    const input = new Task(
      { type: "sample", kind: "raw", quality: "low" },
      {
        payload: {
          sample: Resource.fromBytes("run.py", "#!/usr/bin/python3\n"),
          parent,
          extraction_depth: 2,
        },
      },
    );
    const outputs = await runTask(Classifier, input, { config: quiet });
    await assertTasksEqual(outputs, [
      new Task(
        {
          type: "sample",
          stage: "recognized",
          kind: "script",
          platform: "linux",
          extension: "py",
          quality: "low",
          origin: "karton.classifier",
        },
        {
          payload: {
            sample: Resource.fromBytes("run.py", "#!/usr/bin/python3\n"),
            parent: Resource.fromBytes("bundle.zip", "PK\x05\x06"),
            extraction_depth: 2,
            magic: "python3 script, ASCII text executable",
          },
        },
      ),
    ]);
  });

  it("sends unrecognized content on as stage unrecognized", async () => {
    const outputs = await runTask(Classifier, rawSample("blob", Buffer.from([0, 1, 2, 3])), {
      config: quiet,
    });
    expect(outputs.map((t) => t.headers)).toEqual([
      {
        type: "sample",
        stage: "unrecognized",
        kind: "unknown",
        quality: "high",
        origin: "karton.classifier",
      },
    ]);
  });
});

describe("karton.archive-extractor", () => {
  it("sends every file of the archive as a raw sample with its parent and depth", async () => {
    const zip = await zipOf([
      { name: "b/second.txt", data: "two" },
      { name: "a.sh", data: "#!/bin/sh\n" },
    ]);
    const input = recognized("bundle.zip", zip, { kind: "archive", extension: "zip" });
    const outputs = await runTask(ArchiveExtractor, input, { config: quiet });
    const child = (name: string, data: string) =>
      new Task(
        { type: "sample", kind: "raw", quality: "high", origin: "karton.archive-extractor" },
        {
          payload: {
            sample: Resource.fromBytes(name, data),
            parent: Resource.fromBytes("bundle.zip", zip),
            extraction_depth: 1,
          },
        },
      );
    await assertTasksEqual(outputs, [child("a.sh", "#!/bin/sh\n"), child("b/second.txt", "two")]);
    expect(outputs.map((t) => t.getResource("sample").name)).toEqual(["a.sh", "b/second.txt"]);
    // The parent is passed by reference: the archive object uploaded for the input task.
    expect(outputs[0]?.getResource("parent").uid).toBe(input.getResource("sample").uid);
  });

  it("stops at the depth limit", async () => {
    const zip = await zipOf([{ name: "x.txt", data: "x" }]);
    const deep = recognized("deep.zip", zip, { kind: "archive", extension: "zip" }, { extraction_depth: 3 });
    expect(await runTask(ArchiveExtractor, deep, { config: quiet })).toEqual([]);
    const shallow = recognized("a.zip", zip, { kind: "archive", extension: "zip" }, { extraction_depth: 1 });
    expect(
      await runTask(ArchiveExtractor, shallow, { config: { ...quiet, extractor: { max_depth: 1 } } }),
    ).toEqual([]);
    expect(
      await runTask(ArchiveExtractor, shallow, { config: { ...quiet, extractor: { max_depth: 2 } } }),
    ).toHaveLength(1);
  });

  it("skips archive types it cannot open and files over max_file_size", async () => {
    const rar = recognized("a.rar", Buffer.from("Rar!"), { kind: "archive", extension: "rar" });
    expect(await runTask(ArchiveExtractor, rar, { config: quiet })).toEqual([]);
    const zip = await zipOf([
      { name: "big.bin", data: "x".repeat(100) },
      { name: "small.bin", data: "x" },
    ]);
    const outputs = await runTask(
      ArchiveExtractor,
      recognized("z.zip", zip, { kind: "archive", extension: "zip" }),
      {
        config: { ...quiet, extractor: { max_file_size: 10 } },
      },
    );
    expect(outputs.map((t) => t.getResource("sample").name)).toEqual(["small.bin"]);
  });

  it("refuses unsafe archives (the task crashes, nothing is sent)", async () => {
    const karton = testKarton(ArchiveExtractor, { config: quiet });
    const slip = recognized("slip.zip", await zipWithRawName("../evil.sh", "#!/bin/sh\n"), {
      kind: "archive",
      extension: "zip",
    });
    const error = await runTask(karton, slip).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceError);
    expect((error as ResourceError).code).toBe("UNSAFE_ZIP_ENTRY");
    expect(karton.backend.sent).toEqual([]);

    const bomb = recognized("bomb.zip", await zipOf([{ name: "zeros", data: Buffer.alloc(4096) }]), {
      kind: "archive",
      extension: "zip",
    });
    const limited = await runTask(ArchiveExtractor, bomb, {
      config: { ...quiet, extractor: { max_total_bytes: 1000 } },
    }).catch((e: unknown) => e);
    expect((limited as ResourceError).code).toBe("ZIP_LIMIT_EXCEEDED");
  });

  it("reads its limits from [extractor] and from the command line", () => {
    const defaults = testKarton(ArchiveExtractor, { config: quiet });
    expect(defaults.limits).toEqual(DEFAULT_EXTRACTOR_LIMITS);
    const config = KartonConfig.fromDict({ ...quiet, extractor: { max_entries: "7" } }, { env: {} });
    const args = ArchiveExtractor.parseArgs([
      "node",
      "extractor",
      "--max-depth",
      "5",
      "--max-file-size",
      "99",
    ]);
    ArchiveExtractor.configFromArgs(config, args);
    const karton = testKarton(ArchiveExtractor, { config });
    expect(karton.limits).toEqual({
      ...DEFAULT_EXTRACTOR_LIMITS,
      maxDepth: 5,
      maxEntries: 7,
      maxFileSize: 99,
    });
    expect(() => ArchiveExtractor.parseArgs(["node", "extractor", "--max-depth", "-1"])).toThrow();
  });
});

describe("karton.triage-reporter", () => {
  it("collects classified samples per analysis and sends nothing", async () => {
    const reporter = testKarton(Reporter, { config: quiet });
    const first = recognized(
      "a.exe",
      peStub(),
      { kind: "runnable", platform: "win32", extension: "exe" },
      { magic: "PE32" },
    );
    const child = recognized(
      "inner.txt",
      Buffer.from("hi"),
      { kind: "text", extension: "txt" },
      { parent: Resource.fromBytes("bundle.zip", "PK"), extraction_depth: 1 },
    );
    expect(await runTask(reporter, first)).toEqual([]);
    expect(await runTask(reporter, child)).toEqual([]);
    expect(reporter.report(first.rootUid)).toEqual([
      {
        name: "a.exe",
        sha256: first.getResource("sample").sha256,
        size: 312,
        stage: "recognized",
        kind: "runnable",
        platform: "win32",
        extension: "exe",
        magic: "PE32",
        parent: null,
        depth: 0,
      },
    ]);
    expect(reporter.report(child.rootUid)).toMatchObject([
      { name: "inner.txt", parent: "bundle.zip", depth: 1, platform: null },
    ]);
  });
});

describe("producer", () => {
  const dir = mkdtempSync(join(tmpdir(), "karton-triage-samples-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("generates the default samples", async () => {
    const samples = await generateSamples();
    expect(samples.map((s) => s.name)).toEqual(["invoice.exe", "bundle.zip", "deploy.sh", "notes.txt"]);
    expect(samples.map((s) => classify(s.data as Buffer).kind)).toEqual([
      "runnable",
      "archive",
      "script",
      "text",
    ]);
    // Generated archives are byte-identical from run to run.
    expect((await generateSamples())[1]?.data).toEqual(samples[1]?.data);
  });

  it("reads a directory recursively and submits one raw sample per file", async () => {
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "b.txt"), "b");
    writeFileSync(join(dir, "sub", "a.sh"), "#!/bin/sh\n");
    const samples = await readSampleDirectory(dir);
    expect(samples).toEqual([
      { name: "b.txt", path: join(dir, "b.txt") },
      { name: "sub/a.sh", path: join(dir, "sub", "a.sh") },
    ]);
    const backend = createTestBackend();
    const producer = new Producer({
      config: KartonConfig.fromDict(quiet, { env: {} }),
      identity: PRODUCER_IDENTITY,
      backend,
    });
    const submitted = await submitSamples(producer, samples);
    expect(submitted.map((s) => s.name)).toEqual(["b.txt", "sub/a.sh"]);
    expect(submitted.every((s) => s.uid === `{${s.rootUid}}:${s.rootUid}`)).toBe(true);
    await assertTasksEqual(backend.sent, [
      new Task(
        { type: "sample", kind: "raw", quality: "high", origin: PRODUCER_IDENTITY },
        { payload: { sample: Resource.fromBytes("b.txt", "b") } },
      ),
      new Task(
        { type: "sample", kind: "raw", quality: "high", origin: PRODUCER_IDENTITY },
        { payload: { sample: Resource.fromBytes("a.sh", "#!/bin/sh\n") } },
      ),
    ]);
    expect(sampleTask({ name: "empty" }).getResource("sample").size).toBe(0);
  });
});

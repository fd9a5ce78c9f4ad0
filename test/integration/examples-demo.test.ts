/**
 * The demo (`npm run demo`) end to end as a child process (`node --import tsx examples/demo.ts`):
 * embedded backend, no Redis or S3; checks the progress lines, the per-analysis trees and the exit
 * status, and the command-line errors.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { zipOf } from "../../examples/triage/samples.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runDemo(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("KARTON_")) childEnv[k] = v;
  Object.assign(childEnv, { NODE_NO_WARNINGS: "1" }, env);
  const proc = spawn(process.execPath, ["--import", "tsx", "examples/demo.ts", ...args], {
    cwd: REPO,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  proc.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  return new Promise((resolve) => proc.on("close", (code) => resolve({ code, stdout, stderr })));
}

/** The lines of a tree as printed, without the size/hash details. */
function treeLines(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((line) => line.replace(/ {2}\d+(?:\.\d)? (?:B|KiB|MiB), sha256 [0-9a-f]{12}$/, ""));
}

const dir = mkdtempSync(join(tmpdir(), "karton-demo-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("demo", () => {
  it("runs the whole pipeline in one process and prints one tree per analysis", async () => {
    const run = await runDemo([], { NO_COLOR: "1" });
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const out = run.stdout;
    expect(out).toContain(
      "karton-ts demo: triage pipeline on the embedded backend (one process, no Redis, no S3)",
    );
    expect(out).toContain(
      "started karton-system, karton.classifier, karton.archive-extractor, karton.triage-reporter",
    );
    expect(out).toContain("submitted 4 sample(s): invoice.exe, bundle.zip, deploy.sh, notes.txt");
    for (const name of ["invoice.exe", "bundle.zip", "deploy.sh", "notes.txt"]) {
      expect(out).toMatch(
        new RegExp(`^\\[\\d+\\.\\d\\ds\\] ${name.replace(".", "\\.")}: done \\(\\d+ tasks\\)$`, "m"),
      );
    }
    const lines = treeLines(out);
    const bundle = lines.indexOf("bundle.zip  archive · zip");
    expect(bundle).toBeGreaterThan(0);
    expect(lines.slice(bundle, bundle + 7)).toEqual([
      "bundle.zip  archive · zip",
      "├─ README.txt  text · txt",
      "├─ bin/helper.dll  runnable · win32 · dll",
      "├─ nested/inner.zip  archive · zip",
      "│  ├─ linux/agent  runnable · linux · elf",
      "│  └─ run.py  script · linux · py",
      "└─ tools/install.sh  script · linux · sh",
    ]);
    expect(lines).toContain("invoice.exe  runnable · win32 · exe");
    expect(lines).toContain("deploy.sh  script · linux · sh");
    expect(lines).toContain("notes.txt  text · txt");
    expect(out).toMatch(/^4\/4 analyses done: 42 tasks, 0 crashed; pipeline \d+\.\d\ds, total \d+\.\d\ds$/m);
    expect(out).toContain("karton.triage-reporter collected 10 classified sample(s)");
    // Not a TTY: no live line, no colours.
    expect(out).not.toMatch(/\x1b\[/);
  });

  it("submits the files of a directory and shows crashes in the tree", async () => {
    const samples = join(dir, "samples");
    mkdirSync(samples);
    writeFileSync(join(samples, "blob.bin"), Buffer.from([0, 1, 2, 3, 255]));
    const slip = await zipOf([{ name: "aaaaaaaaaa", data: "x" }]);
    for (let at = slip.indexOf("aaaaaaaaaa"); at >= 0; at = slip.indexOf("aaaaaaaaaa", at + 1))
      slip.write("../evil.sh", at);
    writeFileSync(join(samples, "slip.zip"), slip);
    const run = await runDemo(["--samples", samples], { NO_COLOR: "1" });
    // Crashed tasks do not make the run fail: the analyses completed.
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const lines = treeLines(run.stdout);
    expect(lines).toContain("blob.bin  unrecognized (unknown)");
    expect(lines).toContain("slip.zip  archive · zip");
    expect(run.stdout).toMatch(/^! karton\.archive-extractor: ResourceError: .*refusing to extract$/m);
    expect(run.stdout).toMatch(/^\[[\d.]+s\] slip\.zip: done \(\d+ tasks, 1 crashed\)$/m);
    expect(run.stdout).toContain("2/2 analyses done: 9 tasks, 1 crashed");
  });

  it("rejects bad arguments with status 2", async () => {
    const unknown = await runDemo(["--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("usage: demo");
    const submitOnly = await runDemo(["--submit-only"]);
    expect(submitOnly.code).toBe(2);
    expect(submitOnly.stderr).toContain("--submit-only needs --config");
    const help = await runDemo(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: demo");
  });
});

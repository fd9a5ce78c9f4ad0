/**
 * The `karton-system` command's shebang carries node options (a smaller young generation, see
 * src/system/main.ts). A misspelt option would stop the command from starting at all, so the
 * options are checked against the node that runs the tests.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shebangNodeOptions } from "../../bench/lib/env.js";

const MAIN = join(import.meta.dirname, "..", "..", "src", "system", "main.ts");

describe("karton-system shebang", () => {
  it("runs node through `env -S` with options node accepts", () => {
    const first = readFileSync(MAIN, "utf8").split("\n", 1)[0];
    expect(first).toMatch(/^#!\/usr\/bin\/env -S node( --[a-z-]+(=\S+)?)+$/);
    const options = shebangNodeOptions(MAIN);
    expect(options).toContain("--max-semi-space-size=4");
    const run = spawnSync(
      process.execPath,
      [...options, "-e", "console.log(JSON.stringify(process.execArgv))"],
      {
        encoding: "utf8",
      },
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect((JSON.parse(run.stdout) as string[]).slice(0, options.length)).toEqual(options);
  });
});

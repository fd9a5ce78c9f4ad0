import { describe, expect, it } from "vitest";
import {
  exceptionLine,
  formatException,
  formatExceptionText,
  parseStackLine,
} from "../../src/service/traceback.js";

function thrower(): never {
  throw new TypeError("bad value");
}

describe("formatException (task error lines, spec §2.6)", () => {
  it("starts with the Python header, has one element per frame and ends with the error line", () => {
    let caught: unknown;
    try {
      thrower();
    } catch (error) {
      caught = error;
    }
    const lines = formatException(caught);
    expect(lines[0]).toBe("Traceback (most recent call last):\n");
    expect(lines.at(-1)).toBe("TypeError: bad value\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(line.endsWith("\n")).toBe(true);
    const frames = lines.slice(1, -1);
    for (const frame of frames) expect(frame).toMatch(/^ {2}File "[^"]+", line \d+, in .+\n$/);
    // Most recent call last: the thrower is the last frame.
    expect(frames.at(-1)).toContain("in thrower");
    expect(frames.at(-1)).toContain("service-traceback.test.ts");
  });

  it("uses the error name of subclasses and handles empty messages", () => {
    class CustomError extends Error {
      constructor() {
        super("");
        this.name = "CustomError";
      }
    }
    expect(exceptionLine(new CustomError())).toBe("CustomError\n");
    expect(exceptionLine(new RangeError("x"))).toBe("RangeError: x\n");
  });

  it("formats thrown non-errors", () => {
    expect(formatException("plain string")).toEqual([
      "Traceback (most recent call last):\n",
      "Error: plain string\n",
    ]);
    expect(formatException(42).at(-1)).toBe("Error: 42\n");
  });

  it("prints the cause chain first, like Python's chained exceptions", () => {
    const root = new Error("low level");
    const top = new Error("high level", { cause: root });
    const lines = formatException(top);
    const text = lines.join("");
    expect(text.indexOf("Error: low level\n")).toBeLessThan(text.indexOf("Error: high level\n"));
    expect(text).toContain("The above exception was the direct cause of the following exception:");
    expect(lines.at(-1)).toBe("Error: high level\n");
    for (const line of lines) expect(line.endsWith("\n")).toBe(true);
  });

  it("formatExceptionText joins the lines without the final newline", () => {
    const error = new Error("boom");
    const text = formatExceptionText(error);
    expect(text.endsWith("Error: boom")).toBe(true);
    expect(text).toBe(formatException(error).join("").slice(0, -1));
  });
});

describe("parseStackLine", () => {
  it("reads named, anonymous, async and file-URL frames", () => {
    expect(parseStackLine("    at Foo.bar (/srv/a.js:10:5)")).toEqual({
      file: "/srv/a.js",
      line: 10,
      column: 5,
      functionName: "Foo.bar",
    });
    expect(parseStackLine("    at async run (file:///srv/b%20c.ts:3:1)")).toMatchObject({
      file: "/srv/b c.ts",
      functionName: "async run",
    });
    expect(parseStackLine("    at /srv/c.js:1:2")).toMatchObject({
      file: "/srv/c.js",
      functionName: "<module>",
    });
    expect(parseStackLine("Error: message")).toBeUndefined();
  });
});

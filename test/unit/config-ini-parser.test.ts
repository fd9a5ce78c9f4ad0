import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { IniDocument, parseIni } from "../../src/config/ini-parser.js";

/** The ConfigError thrown by `fn` (fails the test when nothing or something else is thrown). */
function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseIni: configparser dialect", () => {
  it("reads sections and options with = and : delimiters, first delimiter wins", () => {
    const text = "[s3]\naddress = http://localhost:9000\nbucket: karton\nz=a=b:c\nw:a=b\n";
    expect(parseIni(text)).toEqual({
      s3: { address: "http://localhost:9000", bucket: "karton", z: "a=b:c", w: "a=b" },
    });
  });

  it("keeps section names verbatim but lower-cases option names", () => {
    expect(parseIni("[Redis]\nHOST = x\nMixed_Case = y\n[redis]\nk = v\n")).toEqual({
      Redis: { host: "x", mixed_case: "y" },
      redis: { k: "v" },
    });
  });

  it("keeps header text verbatim, like Python's permissive header pattern", () => {
    expect(parseIni("[ spaced ]\nk = v\n[a]b]\nk = v\n[c] trailing\nk = v\n")).toEqual({
      " spaced ": { k: "v" },
      "a]b": { k: "v" },
      c: { k: "v" },
    });
  });

  it("strips values, allows empty values", () => {
    expect(parseIni("[a]\nk =   v  x   \nempty =\nempty2:\n")).toEqual({
      a: { k: "v  x", empty: "", empty2: "" },
    });
  });

  it("skips full-line # and ; comments (also indented) but keeps inline comment text", () => {
    const text = "# top\n; top\n[a]\nx = 1 # not a comment\n; comment\n  # indented comment\ny = 2 ; kept\n";
    expect(parseIni(text)).toEqual({ a: { x: "1 # not a comment", y: "2 ; kept" } });
  });

  it("joins indented continuation lines with newlines, keeps inner blank lines, drops trailing ones", () => {
    const text = "[a]\nx = line1\n  line2\n\n  line4\n\ny = 3\nz = last\n   more\n\n\n";
    expect(parseIni(text)).toEqual({ a: { x: "line1\nline2\n\nline4", y: "3", z: "last\nmore" } });
  });

  it("skips comment lines inside a continued value", () => {
    expect(parseIni("[a]\nx = one\n  # comment\n  two\n")).toEqual({ a: { x: "one\ntwo" } });
  });

  it("measures continuation against the option line's own indentation", () => {
    expect(parseIni("[a]\n  x = 1\n    cont\n  y = 2\n")).toEqual({ a: { x: "1\ncont", y: "2" } });
  });

  it("does not continue a section header: an indented first option is an option", () => {
    expect(parseIni("[a]\nx = 1\n[b]\n   y = 2\n")).toEqual({ a: { x: "1" }, b: { y: "2" } });
  });

  it("accepts CRLF and CR line endings and a UTF-8 BOM", () => {
    expect(parseIni("\uFEFF[a]\r\nx = 1\r\ny = 2\rz = 3")).toEqual({ a: { x: "1", y: "2", z: "3" } });
  });

  it("gives [DEFAULT] options to every section, section values win, DEFAULT listed first", () => {
    const result = parseIni("[a]\nd = 7\n[DEFAULT]\nd = 5\nbase = /opt\n[b]\ny = 1\n");
    expect(Object.keys(result)).toEqual(["DEFAULT", "a", "b"]);
    expect(result).toEqual({
      DEFAULT: { d: "5", base: "/opt" },
      a: { d: "7", base: "/opt" },
      b: { y: "1", d: "5", base: "/opt" },
    });
  });

  it("treats only the exact name DEFAULT as the default section and allows it twice", () => {
    expect(parseIni("[DEFAULT]\nx = 1\n[default]\ny = 2\n[DEFAULT]\nz = 3\n")).toEqual({
      DEFAULT: { x: "1", z: "3" },
      default: { y: "2", x: "1", z: "3" },
    });
  });

  it("omits an empty [DEFAULT] but keeps empty sections", () => {
    expect(parseIni("[DEFAULT]\n[a]\n")).toEqual({ a: {} });
  });
});

describe("parseIni: interpolation", () => {
  it("expands %(name)s from the same section and from DEFAULT, recursively", () => {
    const text = "[DEFAULT]\nbase = /opt\n[a]\nbin = %(base)s/bin\ntool = %(BIN)s/tool\n";
    expect(parseIni(text).a).toEqual({ base: "/opt", bin: "/opt/bin", tool: "/opt/bin/tool" });
  });

  it("uses the section's own value when DEFAULT refers to an overridden option", () => {
    const text = "[DEFAULT]\nhost = h\nurl = redis://%(host)s\n[a]\nhost = other\n[b]\nk = v\n";
    const result = parseIni(text);
    expect(result.a?.url).toBe("redis://other");
    expect(result.b?.url).toBe("redis://h");
  });

  it("turns %% into %", () => {
    expect(parseIni("[a]\nx = 50%%\ny = %(x)s!\nz = %%(x)s\n").a).toEqual({
      x: "50%",
      y: "50%!",
      z: "%(x)s",
    });
  });

  it("accepts nesting up to 10 levels", () => {
    const lines = ["[a]"];
    for (let i = 0; i < 9; i++) lines.push(`a${i} = %(a${i + 1})s`);
    lines.push("a9 = end");
    expect(parseIni(lines.join("\n")).a?.a0).toBe("end");
  });

  it("rejects a lone % with file and line, like InterpolationSyntaxError", () => {
    const error = errorOf(() => parseIni("[a]\nk = v\nx = 5% off\n", "/etc/karton/karton.ini"));
    expect(error.message).toContain("/etc/karton/karton.ini:3");
    expect(error.message).toContain("[a] x");
    expect(error.message).toContain("'%' must be followed by '%' or '('");
    expect(error.message).toContain("%%");
    expect(error.message).toContain('"% off"');
    expect(error).toMatchObject({ code: "CONFIG_ERROR", section: "a", option: "x", line: 3 });
    expect(error.file).toBe("/etc/karton/karton.ini");
  });

  it("rejects a % at the end of a value", () => {
    expect(errorOf(() => parseIni("[a]\nx = 100%\n")).message).toContain("'%' must be followed");
  });

  it("names the referenced option when the bad % is in it", () => {
    const error = errorOf(() => parseIni("[a]\nx = %(y)s\ny = 5%\n", "f.ini"));
    expect(error.message).toContain('in the value of "y", referenced from "x"');
  });

  it("rejects a reference that is not %(name)s", () => {
    const error = errorOf(() => parseIni("[a]\ny = 1\nx = %(y)d\n", "f.ini"));
    expect(error.message).toContain("f.ini:3");
    expect(error.message).toContain("bad reference");
  });

  it("rejects references to undefined options", () => {
    const error = errorOf(() => parseIni("[a]\nx = %(nope)s\n", "f.ini"));
    expect(error.message).toContain("f.ini:2");
    expect(error.message).toContain("%(nope)s refers to an option that is not defined in [a] or [DEFAULT]");
  });

  it("fails on a DEFAULT reference only a section defines (Python evaluates [DEFAULT] itself too)", () => {
    const error = errorOf(() => parseIni("[DEFAULT]\nx = %(y)s\n[a]\ny = 1\n", "f.ini"));
    expect(error.message).toContain("[DEFAULT] x");
    expect(error.message).toContain("not defined in [DEFAULT]");
  });

  it("rejects reference loops and nesting deeper than 10 levels", () => {
    expect(errorOf(() => parseIni("[a]\nx = %(x)s\n")).message).toContain("deeper than 10 levels");
    expect(errorOf(() => parseIni("[a]\nx = %(y)s\ny = %(x)s\n")).message).toContain("deeper than 10");
    const lines = ["[a]"];
    for (let i = 0; i < 11; i++) lines.push(`a${i} = %(a${i + 1})s`);
    lines.push("a11 = %%");
    expect(errorOf(() => parseIni(lines.join("\n"))).message).toContain("deeper than 10 levels");
  });

  it("never quotes the value of a secret option in interpolation errors", () => {
    const error = errorOf(() => parseIni("[redis]\npassword = hunter2%xyz\n", "f.ini"));
    expect(error.message).toContain("[redis] password");
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("xyz");
    const viaRef = errorOf(() => parseIni("[mwdb]\napi_key = k3y%z\nurl = %(api_key)s\n", "f.ini"));
    expect(viaRef.message).not.toContain("k3y");
  });
});

describe("parseIni: errors", () => {
  it("requires a section header before options", () => {
    const error = errorOf(() => parseIni("# comment\nk = v\n[a]\n", "conf.ini"));
    expect(error.message).toContain("conf.ini:2");
    expect(error.message).toContain("section");
    expect(error.line).toBe(2);
  });

  it("rejects lines without a delimiter and lines without an option name", () => {
    const noValue = errorOf(() => parseIni("[a]\nk = v\njustaname\n", "conf.ini"));
    expect(noValue.message).toContain("conf.ini:3");
    expect(noValue.message).toContain('expected "name = value"');
    expect(errorOf(() => parseIni("[a]\n= v\n", "conf.ini")).message).toContain("conf.ini:2");
  });

  it("does not echo the offending line (it may hold a secret)", () => {
    const error = errorOf(() => parseIni("[a]\nmy secret stuff\n"));
    expect(error.message).not.toContain("secret stuff");
  });

  it("rejects duplicate sections within one file", () => {
    const error = errorOf(() => parseIni("[a]\nx = 1\n[b]\n[a]\ny = 2\n", "dup.ini"));
    expect(error.message).toContain("dup.ini:4");
    expect(error.message).toContain("duplicate section [a]");
    expect(error.message).toContain("line 1");
    expect(error.section).toBe("a");
  });

  it("rejects duplicate options within one section, case-insensitively, also in DEFAULT", () => {
    const error = errorOf(() => parseIni("[a]\nx = 1\nX = 2\n", "dup.ini"));
    expect(error.message).toContain("dup.ini:3");
    expect(error.message).toContain('duplicate option "x" in section [a]');
    expect(error).toMatchObject({ section: "a", option: "x", line: 3 });
    expect(errorOf(() => parseIni("[DEFAULT]\nx = 1\nx = 2\n")).message).toContain("[DEFAULT]");
  });

  it("allows the same option in different sections", () => {
    expect(parseIni("[a]\nx = 1\n[b]\nx = 2\n")).toEqual({ a: { x: "1" }, b: { x: "2" } });
  });
});

describe("IniDocument: several files", () => {
  it("merges option by option, later files winning, sections reopened freely", () => {
    const doc = new IniDocument();
    doc.read("[redis]\nhost = a\nport = 1\n", "first.ini");
    doc.read("[redis]\nport = 2\n[s3]\nbucket = b\n", "second.ini");
    const resolved = doc.resolve();
    expect(doc.toObject()).toEqual({ redis: { host: "a", port: "2" }, s3: { bucket: "b" } });
    expect(resolved.get("redis")?.get("host")?.location).toEqual({ file: "first.ini", line: 2 });
    expect(resolved.get("redis")?.get("port")?.location).toEqual({ file: "second.ini", line: 2 });
  });

  it("interpolates across files and applies an earlier file's DEFAULT to later sections", () => {
    const doc = new IniDocument();
    doc.read("[DEFAULT]\nroot = /srv\n[paths]\nbase = %(root)s/karton\n", "a.ini");
    doc.read("[paths]\nlogs = %(base)s/logs\n[other]\nk = v\n", "b.ini");
    const resolved = doc.resolve();
    expect(resolved.get("paths")?.get("logs")?.value).toBe("/srv/karton/logs");
    expect(resolved.get("other")?.get("root")).toEqual({
      value: "/srv",
      location: { file: "a.ini", line: 2 },
      fromDefault: true,
    });
  });

  it("applies strict duplicate checks per file only", () => {
    const doc = new IniDocument();
    doc.read("[a]\nx = 1\n", "one.ini");
    expect(() => doc.read("[a]\nx = 2\n", "two.ini")).not.toThrow();
    expect(doc.toObject()).toEqual({ a: { x: "2" } });
  });
});

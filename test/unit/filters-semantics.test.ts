import { describe, expect, it } from "vitest";
import { compileFilters, FilterError, matchFilters, QueryError } from "../../src/filters/index.js";
import { type JsonObject, PyFloat } from "../../src/json/values.js";

const m = (filters: unknown, headers: JsonObject): boolean => compileFilters(filters).matches(headers);
const lenient = (filters: unknown, headers: JsonObject): boolean =>
  compileFilters(filters, { validate: false }).matches(headers);

describe("overall semantics (7.1/7.2)", () => {
  it("[] matches nothing, [{}] matches everything", () => {
    expect(m([], { type: "sample" })).toBe(false);
    expect(m([{}], {})).toBe(true);
    expect(m([{}], { type: "x" })).toBe(true);
  });

  it("some rule must match; all keys of a rule must hold", () => {
    const f = [{ foo: "bar" }, { foo: "baz" }];
    expect(m(f, { foo: "bar" })).toBe(true);
    expect(m(f, { foo: "baz" })).toBe(true);
    expect(m(f, { foo: "qux" })).toBe(false);
    expect(m(f, {})).toBe(false);
    expect(m([{ type: "sample", kind: "raw" }], { type: "sample", kind: "dump" })).toBe(false);
  });

  it("negation: !value, !*, ! alone, missing header never vetoes", () => {
    expect(m([{ foo: "!bar" }], { foo: "baz" })).toBe(true);
    expect(m([{ foo: "!bar" }], { foo: "bar" })).toBe(false);
    expect(m([{ foo: "!bar" }], {})).toBe(true);
    expect(m([{ type: "sample", stage: "!*" }], { type: "sample" })).toBe(true);
    expect(m([{ type: "sample", stage: "!*" }], { type: "sample", stage: "x" })).toBe(false);
    // `!*` is a wildcard: only a str header can match it, so a non-string header does not veto.
    expect(m([{ stage: "!*" }], { stage: 5 })).toBe(true);
    expect(m([{ foo: "!" }], { foo: "" })).toBe(false);
    expect(m([{ foo: "!" }], { foo: "x" })).toBe(true);
  });

  it("veto is global across rules; a rule whose positives fail cannot veto", () => {
    const f = [{ platform: "!linux" }, { platform: "!windows" }];
    expect(m(f, {})).toBe(true);
    expect(m(f, { platform: "mac" })).toBe(true);
    expect(m(f, { platform: "linux" })).toBe(false);
    expect(m(f, { platform: "windows" })).toBe(false);
    const g = [
      { foo: "bar", platform: "!linux" },
      { foo: "baz", platform: "!windows" },
    ];
    expect(m(g, { foo: "bar", platform: "windows" })).toBe(true);
    expect(m(g, { foo: "bar", platform: "linux" })).toBe(false);
    expect(m(g, { foo: "baz", platform: "windows" })).toBe(false);
    // Rule 2 vetoes even though rule 1 matches.
    expect(m([{ type: "sample" }, { type: "sample", kind: "!raw" }], { type: "sample", kind: "raw" })).toBe(
      false,
    );
  });

  it('"!False" vetoes boolean false and string "False" (string coercion)', () => {
    const f = [{ type: "blob", execute: "!False" }];
    expect(m(f, { type: "blob", execute: false })).toBe(false);
    expect(m(f, { type: "blob", execute: "False" })).toBe(false);
    expect(m(f, { type: "blob", execute: true })).toBe(true);
  });

  it("string coercion of top-level values: ints, floats, bools, None", () => {
    expect(m([{ n: "1" }], { n: 1 })).toBe(true);
    expect(m([{ n: "1" }], { n: new PyFloat(1) })).toBe(false);
    expect(m([{ n: "1.0" }], { n: new PyFloat(1) })).toBe(true);
    expect(m([{ n: "1e+16" }], { n: new PyFloat(1e16) })).toBe(true);
    expect(m([{ n: "1e-05" }], { n: 0.00001 })).toBe(true);
    expect(m([{ n: "-0.0" }], { n: -0 })).toBe(true);
    expect(m([{ n: "True" }], { n: true })).toBe(true);
    expect(m([{ n: "None" }], { n: null })).toBe(true);
    expect(m([{ n: "[1, 'a']" }], { n: { k: 1 } })).toBe(false);
    expect(m([{ n: "{'k': 1}" }], { n: { k: 1 } })).toBe(true);
    expect(m([{ n: "9007199254740993" }], { n: 9007199254740993n })).toBe(true);
  });

  it("non-string filter values use Python equality without coercion", () => {
    expect(m([{ n: 1 }], { n: 1 })).toBe(true);
    expect(m([{ n: 1 }], { n: true })).toBe(true);
    expect(m([{ n: 1 }], { n: new PyFloat(1) })).toBe(true);
    expect(m([{ n: 1 }], { n: "1" })).toBe(false);
    expect(m([{ n: false }], { n: 0 })).toBe(true);
    expect(m([{ n: null }], { n: null })).toBe(true);
    expect(m([{ n: null }], {})).toBe(false);
    expect(m([{ n: [1, 2] }], { n: [1, 2] })).toBe(false); // array cond: element equality only
    expect(m([{ n: [1, 2] }], { n: [[1, 2], 3] })).toBe(true);
    expect(m([{ n: { $eq: [1, 2] } }], { n: [1, 2] })).toBe(true);
    expect(m([{ n: 9007199254740993n }], { n: 9007199254740992 })).toBe(false);
  });

  it("array headers use membership (no coercion)", () => {
    expect(m([{ tags: "apt" }], { tags: ["x", "apt"] })).toBe(true);
    expect(m([{ tags: "1" }], { tags: [1] })).toBe(false);
    expect(m([{ tags: "ap*" }], { tags: ["apt"] })).toBe(false); // wildcards are string-only
  });

  it("dotted keys are paths; integer parts index lists", () => {
    expect(m([{ "a.b": "x" }], { a: { b: "x" } })).toBe(true);
    expect(m([{ "a.b": "x" }], { "a.b": "x" })).toBe(false);
    expect(m([{ "a.1": "y" }], { a: ["x", "y"] })).toBe(true);
    expect(m([{ "a.-1": "y" }], { a: ["x", "y"] })).toBe(true);
    expect(m([{ "a.5": { $exists: false } }], { a: ["x"] })).toBe(true);
    expect(m([{ "a.b": "x" }], { a: [{ b: "x" }, { b: "z" }] })).toBe(true);
    expect(m([{ "a.b": null }], { a: null })).toBe(true); // PATH through None stays None
  });

  it("top-level operator keys apply to the whole header object", () => {
    const f = [{ type: "sample", $or: [{ kind: "raw" }, { kind: "dump" }] }];
    expect(m(f, { type: "sample", kind: "dump" })).toBe(true);
    expect(m(f, { type: "sample", kind: "x" })).toBe(false);
    expect(m([{ $nor: [{ k: { $exists: true } }] }], {})).toBe(true);
    expect(m([{ $nor: [{ k: { $exists: true } }] }], { k: 1 })).toBe(false);
  });

  it("strings inside operator expressions are literal", () => {
    expect(m([{ k: { $or: ["a*"] } }], { k: "abc" })).toBe(false);
    expect(m([{ k: { $or: ["a*"] } }], { k: "a*" })).toBe(true);
    expect(m([{ k: { $eq: "!x" } }], { k: "!x" })).toBe(true);
  });
});

describe("glob values (7.3)", () => {
  const g = (pattern: string, value: unknown) => m([{ k: pattern }], { k: value as never });
  it("suffix semantics", () => {
    expect(g("win*", "win32")).toBe(true);
    expect(g("win*", "xwin7")).toBe(true);
    expect(g("a*", "ba")).toBe(true);
    expect(g("*.exe", "a.exe")).toBe(true);
    expect(g("w?n", "xxwin")).toBe(true);
    expect(g("w?n", "wi")).toBe(false);
    expect(g("a!", "xa!")).toBe(true); // any special char switches to glob mode
    expect(g("a]", "ba]")).toBe(true);
    expect(g("win", "xwin")).toBe(false); // plain strings stay exact
  });
  it("sets, negated sets, ranges, quirks", () => {
    expect(g("ba[rz]", "baz")).toBe(true);
    expect(g("ba[rz]", "bax")).toBe(false);
    expect(g("ba[!rz]", "bax")).toBe(true);
    expect(g("ba[!rz]", "bar")).toBe(false);
    expect(g("[]]", "]")).toBe(true);
    expect(g("[!]]", "]")).toBe(false);
    expect(g("[a-c]", "b")).toBe(true);
    expect(g("[z-a]", "z")).toBe(false); // reversed range dropped, empty set
    expect(g("[!z-a]", "q")).toBe(true); // negated empty set: any character
    expect(g("[z-a!]", "q")).toBe(true); // Python quirk: the set becomes "!" = any character
    expect(g("[a-]", "-")).toBe(true);
    expect(g("[", "[")).toBe(true); // unclosed: literal
    expect(g("[]", "[]")).toBe(true);
    expect(g("[^a]", "^")).toBe(true);
    expect(g("[\\]", "\\")).toBe(true);
  });
  it("* and ? match newlines; case-sensitive; code points", () => {
    expect(g("a*b", "a\nb")).toBe(true);
    expect(g("a?b", "a\nb")).toBe(true);
    expect(g("A*", "abc")).toBe(false);
    expect(g("?", "😀")).toBe(true);
    expect(g("x?y", "x😀y")).toBe(true);
  });
  it("only str headers can match a wildcard", () => {
    expect(g("1*", 12)).toBe(false);
    expect(g("*", null)).toBe(false);
    expect(g("*", undefined)).toBe(false);
    expect(g("T*", true)).toBe(false);
  });
});

describe("errors", () => {
  it("validation names the rule index and key", () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ type: "sample" }, /filters must be an array/],
      [[{ a: 1 }, "x"], /filters\[1\]: a rule must be an object/],
      [[{ a: 1 }, { size: { $foo: 1 } }], /filters\[1\]\["size"\]: .*unknown operator \$foo/],
      [[{ f: { $in: "emotet" } }], /filters\[0\]\["f"\]: .*\$in needs an array/],
      [[{ f: { $size: 1.5 } }], /filters\[0\]\["f"\]: .*\$size needs an integer/],
      [[{ f: { $type: "nope" } }], /filters\[0\]\["f"\]: .*\$type: unknown type/],
      [[{ $and: { a: 1 } }], /filters\[0\]\["\$and"\]: .*\$and needs an array/],
      [[{ f: { $mod: [0, 1] } }], /\$mod divisor must be a non-zero number/],
      [[{ f: { $mod: 2 } }], /\$mod needs an array/],
      [[{ f: { $regex: "a[" } }], /filters\[0\]\["f"\]: .*invalid \$regex/],
      [[{ f: { $regex: 5 } }], /\$regex needs a string/],
      [[{ f: { $where: "x" } }], /\$where is not supported/],
      [[{ f: { $not: { $elemMatch: 3 } } }], /\$elemMatch needs an object/],
    ];
    for (const [filters, re] of cases) {
      let error: unknown;
      try {
        compileFilters(filters);
      } catch (e) {
        error = e;
      }
      expect(error, String(re)).toBeInstanceOf(FilterError);
      expect((error as FilterError).code).toBe("INVALID_FILTER");
      expect((error as Error).message).toMatch(re);
    }
  });

  it("evaluation errors surface like Python (QueryError with pythonType and location)", () => {
    const at = (filters: unknown, headers: JsonObject): QueryError => {
      try {
        lenient(filters, headers);
      } catch (e) {
        return e as QueryError;
      }
      throw new Error("no error");
    };
    expect(at([{ k: { $mod: [2, 0] } }], { k: "x" }).pythonType).toBe("TypeError");
    expect(at([{ k: { $in: 5 } }], { k: 1 }).pythonType).toBe("TypeError");
    expect(at([{ k: { $size: "1" } }], {}).pythonType).toBe("QueryError");
    expect(at([{ k: { $type: "nope" } }], {}).pythonType).toBe("QueryError");
    expect(at([{ k: { $options: "i" } }], {}).pythonType).toBe("NotImplementedError");
    expect(at([{ k: { $regex: "a[" } }], { k: "a" }).pythonType).toBe("QueryError");
    expect(at([{ k: { $mod: [0, 0] } }], { k: 3 }).pythonType).toBe("ZeroDivisionError");
    const e = at([{ a: 1 }, { k: "x", j: { $foo: 1 } }], { k: "x" });
    expect(e.message).toMatch(/^filters\[1\]\["j"\]: \$foo operator isn't supported/);
    expect(e.ruleIndex).toBe(1);
    expect(e.key).toBe("j");
  });

  it("errors are raised only where Python evaluates (short-circuit, non-string regex input)", () => {
    expect(lenient([{ k: "x", j: { $mod: [2, 0] } }], { k: "y", j: "s" })).toBe(false);
    expect(lenient([{ k: { $regex: "a[" } }], { k: 5 })).toBe(false);
    expect(lenient([{ k: { $regex: 5 } }], { k: 5 })).toBe(false);
    expect(lenient([{ k: { $elemMatch: 5 } }], { k: [] })).toBe(false);
    // Veto pass runs first over every rule: rule 1's error is raised although rule 0 matches.
    expect(() => lenient([{}, { k: { $mod: [2, 0] } }], { k: "s" })).toThrow(QueryError);
  });

  it("matchFilters never throws and reports errors", () => {
    const errors: QueryError[] = [];
    expect(matchFilters([{ k: { $mod: [2, 0] } }], { k: "s" }, (e) => errors.push(e))).toBe(false);
    expect(errors[0]?.pythonType).toBe("TypeError");
    expect(matchFilters(null, { k: 1 })).toBe(false);
    expect(matchFilters({}, { k: 1 })).toBe(false);
    expect(matchFilters([{ k: 1 }], { k: 1 })).toBe(true);
    expect(compileFilters([{ k: { $in: 1 } }], { validate: false }).tryMatches({ k: 1 })).toBe(false);
  });
});

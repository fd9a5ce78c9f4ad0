import { describe, expect, it } from "vitest";
import {
  compileGlob,
  compilePythonRegex,
  globToRegExpSource,
  parsePyInt,
  pyCompare,
  pyEquals,
  pyMod,
  pySameOrEquals,
  pyStr,
  pyStrRepr,
  QueryError,
  translatePythonRegex,
} from "../../src/filters/index.js";
import { PyFloat } from "../../src/json/values.js";

describe("pyStr / repr", () => {
  it("scalars", () => {
    expect(pyStr(true)).toBe("True");
    expect(pyStr(false)).toBe("False");
    expect(pyStr(null)).toBe("None");
    expect(pyStr(12)).toBe("12");
    expect(pyStr(1e21)).toBe("1000000000000000000000");
    expect(pyStr(2n ** 70n)).toBe("1180591620717411303424");
    expect(pyStr(new PyFloat(1))).toBe("1.0");
    expect(pyStr(2.5)).toBe("2.5");
    expect(pyStr(new PyFloat(1e16))).toBe("1e+16");
    expect(pyStr(0.00001)).toBe("1e-05");
    expect(pyStr(0.0001)).toBe("0.0001");
    expect(pyStr(-0)).toBe("-0.0");
    expect(pyStr(Number.POSITIVE_INFINITY)).toBe("inf");
    expect(pyStr(Number.NEGATIVE_INFINITY)).toBe("-inf");
    expect(pyStr(Number.NaN)).toBe("nan");
  });
  it("lists, dicts and string repr quoting", () => {
    expect(pyStr([1, "a"])).toBe("[1, 'a']");
    expect(pyStr({ k: 1, j: [true, null] })).toBe("{'k': 1, 'j': [True, None]}");
    expect(pyStr([])).toBe("[]");
    expect(pyStr({})).toBe("{}");
    expect(pyStrRepr("it's")).toBe(`"it's"`);
    expect(pyStrRepr(`it's "x"`)).toBe(`'it\\'s "x"'`);
    expect(pyStrRepr("a\\b\n\t\r\x01\x7f")).toBe("'a\\\\b\\n\\t\\r\\x01\\x7f'");
    expect(pyStrRepr("é☃😀")).toBe("'é☃😀'");
    expect(pyStrRepr("\xa0\u2028\u200b\ud800")).toBe("'\\xa0\\u2028\\u200b\\ud800'");
  });
});

describe("pyEquals / pyCompare / pyMod / int()", () => {
  it("equality", () => {
    expect(pyEquals(true, 1)).toBe(true);
    expect(pyEquals(false, 0)).toBe(true);
    expect(pyEquals(1, new PyFloat(1))).toBe(true);
    expect(pyEquals(9007199254740993n, 9007199254740992)).toBe(false);
    expect(pyEquals(2n ** 60n, 2 ** 60)).toBe(true);
    expect(pyEquals(Number.NaN, Number.NaN)).toBe(false);
    expect(pySameOrEquals(Number.NaN, Number.NaN)).toBe(true);
    expect(pyEquals([1, [2]], [true, [new PyFloat(2)]])).toBe(true);
    expect(pyEquals({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(pyEquals({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(pyEquals(null, null)).toBe(true);
    expect(pyEquals(null, 0)).toBe(false);
    expect(pyEquals(undefined, undefined)).toBe(false);
    expect(pyEquals("1", 1)).toBe(false);
  });
  it("ordering", () => {
    expect(pyCompare(2, 1, ">")).toBe(true);
    expect(pyCompare(true, 0.5, ">")).toBe(true);
    expect(pyCompare("a", 1, ">")).toBe(undefined);
    expect(pyCompare(null, null, ">=")).toBe(undefined);
    expect(pyCompare({}, {}, ">=")).toBe(undefined);
    expect(pyCompare("\uffff", "😀", "<")).toBe(true);
    expect(pyCompare([1, 2], [1, 2, 0], "<")).toBe(true);
    expect(pyCompare([Number.NaN], [Number.NaN], ">=")).toBe(true);
  });
  it("floor modulo", () => {
    expect(pyMod(-1, 3)).toBe(2);
    expect(pyMod(5, -3)).toBe(-1);
    expect(pyMod(5.5, 2)).toBe(1.5);
    expect(pyMod(-5, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(pyMod(2n ** 64n, 7)).toBe(2);
    expect(pyMod("abc", [1])).toBe("abc");
    expect(() => pyMod(1, 0)).toThrow(QueryError);
    expect(() => pyMod("x", 2)).toThrow(QueryError);
  });
  it("int() of path parts", () => {
    expect(parsePyInt("1")).toBe(1);
    expect(parsePyInt(" -2 ")).toBe(-2);
    expect(parsePyInt("1_0")).toBe(10);
    expect(parsePyInt("٣")).toBe(3);
    expect(parsePyInt("1.0")).toBe(undefined);
    expect(parsePyInt("")).toBe(undefined);
    expect(parsePyInt("_1")).toBe(undefined);
  });
});

describe("glob translation", () => {
  it("renders anchored-at-end regexes and fast paths", () => {
    expect(globToRegExpSource("a*b?")).toBe("(?:a.*b.)$");
    expect(globToRegExpSource("[!a-c]")).toBe("(?:[^a-c])$");
    expect(compileGlob("win*")("xwin7")).toBe(true);
    expect(compileGlob("*.exe")("a.exe\n")).toBe(false);
    expect(compileGlob("x[z-a]")("xz")).toBe(false);
  });
});

describe("Python regex translation", () => {
  const search = (pattern: string, value: string) => compilePythonRegex(pattern).test(value);
  it("anchors, flags, groups", () => {
    expect(search("\\Aab\\Z", "ab")).toBe(true);
    expect(search("ab$", "ab\n")).toBe(true);
    expect(search("ab$", "ab\n\n")).toBe(false);
    expect(search("/^b$/m", "a\nb\nc")).toBe(true);
    expect(search("(?im)^B$", "a\nb")).toBe(true);
    expect(search("(?P<q>['\"]).*(?P=q)", `"x"`)).toBe(true);
    expect(search("(a)(b)\\2\\1", "abba")).toBe(true);
    expect(search("(?>a+)b", "aab")).toBe(true);
    expect(search("a++a", "aaa")).toBe(false); // possessive
    expect(search("(?s:.)", "\n")).toBe(true);
    expect(search("(?x) a \\  b # c", "a b")).toBe(true);
    expect(search("\\bfoo\\b", "é foo")).toBe(true);
    expect(search("\\bfoo", "éfoo")).toBe(false); // Unicode word boundary
    expect(search("\\x41\\u00e9\\U0001F600\\101", "Aé😀A")).toBe(true);
    expect(search("[\\d\\s]", "\u3000")).toBe(true);
    expect(search("a{2}", "aa")).toBe(true);
    expect(search("a{", "a{")).toBe(true);
    expect(search("(?<=ab)c", "abc")).toBe(true);
  });
  it("rejects what Python rejects, and what cannot be translated", () => {
    const err = (p: string) => {
      try {
        compilePythonRegex(p);
      } catch (e) {
        return (e as QueryError).pythonType;
      }
      return "ok";
    };
    expect(err("*a")).toBe("QueryError");
    expect(err("a**")).toBe("QueryError");
    expect(err("(?<=a|bc)")).toBe("QueryError");
    expect(err("\\1(a)")).toBe("QueryError");
    expect(err("(?P<a>x)(?P<a>y)")).toBe("QueryError");
    expect(err("x{2,1}")).toBe("QueryError");
    expect(err("(?L)a")).toBe("QueryError");
    expect(err("a)")).toBe("QueryError");
    expect(err("\\")).toBe("QueryError");
    expect(err("(?(1)a|b)")).toBe("Unsupported");
    expect(err("\\N{EM DASH}")).toBe("Unsupported");
    expect(err("(?i:a)b")).toBe("Unsupported");
    expect(err("(?i:a)1")).toBe("ok"); // uncased parts do not conflict
    expect(translatePythonRegex("a", { i: true }).flags).toBe("iv");
  });
});

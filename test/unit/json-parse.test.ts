import { describe, expect, it } from "vitest";
import {
  isJsonObject,
  isPyFloat,
  isPyInt,
  JsonParseError,
  type JsonValue,
  MAX_NESTING_DEPTH,
  PyFloat,
  parse,
  stringify,
} from "../../src/json/index.js";

/** The error parse() throws for `text` (fails the test when it does not throw one). */
function parseError(text: string): JsonParseError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof JsonParseError) return e;
    throw e;
  }
  throw new Error(`parse(${JSON.stringify(text)}) did not throw`);
}

describe("parse: numbers", () => {
  it("reads every number of the fixture README formatting table", () => {
    expect(parse("1.0")).toStrictEqual(new PyFloat(1));
    expect(parse("1e-05")).toBe(1e-5);
    expect(parse("1e-07")).toBe(1e-7);
    expect(parse("1e+16")).toStrictEqual(new PyFloat(1e16));
    expect(parse("1e+22")).toStrictEqual(new PyFloat(1e22));
    expect(parse("1.5e+300")).toStrictEqual(new PyFloat(1.5e300));
    expect(parse("5e-324")).toBe(5e-324);
    expect(parse("0.1")).toBe(0.1);
    expect(parse("123.456")).toBe(123.456);
    expect(Object.is(parse("-0.0"), -0)).toBe(true);
    expect(parse("9007199254740992.0")).toStrictEqual(new PyFloat(2 ** 53));
    expect(parse("NaN")).toBeNaN();
    expect(parse("Infinity")).toBe(Number.POSITIVE_INFINITY);
    expect(parse("-Infinity")).toBe(Number.NEGATIVE_INFINITY);
  });

  it("keeps integers within ±(2^53-1) as numbers", () => {
    expect(parse("0")).toBe(0);
    expect(Object.is(parse("-0"), 0)).toBe(true); // Python: int("-0") == 0, written back as 0
    expect(parse("42")).toBe(42);
    expect(parse("-7")).toBe(-7);
    expect(parse("123456789012345")).toBe(123456789012345);
    expect(parse("1234567890123456")).toBe(1234567890123456);
    expect(parse("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    expect(parse("-9007199254740991")).toBe(Number.MIN_SAFE_INTEGER);
  });

  it("reads bigger integers exactly as bigint", () => {
    const cases: bigint[] = [
      2n ** 53n,
      2n ** 53n + 1n,
      -(2n ** 53n),
      2n ** 64n - 1n,
      2n ** 64n,
      2n ** 70n,
      -(2n ** 65n),
      10n ** 30n,
      3n ** 1292n, // ~2048 bits
      -(2n ** 2048n) + 12345n,
    ];
    for (const n of cases) {
      const v = parse(n.toString());
      expect(v).toBe(n);
      expect(isPyInt(v)).toBe(true);
    }
    expect((3n ** 1292n).toString(2).length).toBeGreaterThanOrEqual(2048);
  });

  it("keeps the int / float distinction", () => {
    expect(parse("1")).toBe(1);
    expect(isPyInt(parse("1"))).toBe(true);
    expect(parse("1.0")).toBeInstanceOf(PyFloat);
    expect(isPyFloat(parse("1.0"))).toBe(true);
    expect(parse("1e0")).toStrictEqual(new PyFloat(1));
    expect(parse("1E2")).toStrictEqual(new PyFloat(100));
    expect(parse("10.0e-1")).toStrictEqual(new PyFloat(1));
    expect(parse("0.0")).toStrictEqual(new PyFloat(0));
    expect(parse("0e0")).toStrictEqual(new PyFloat(0));
    expect(parse("-1.0")).toStrictEqual(new PyFloat(-1));
    expect(parse("2.5E-3")).toBe(0.0025);
    expect(parse("-1.5")).toBe(-1.5);
    expect(Object.is(parse("-0e0"), -0)).toBe(true);
    expect(Object.is(parse("-0.000"), -0)).toBe(true);
  });

  it("follows Python for out-of-range floats", () => {
    // float("1e400") is inf, float("1e-400") is 0.0, float("-1e-400") is -0.0
    expect(parse("1e400")).toBe(Number.POSITIVE_INFINITY);
    expect(parse("-1e400")).toBe(Number.NEGATIVE_INFINITY);
    expect(parse("1e-400")).toStrictEqual(new PyFloat(0));
    expect(Object.is(parse("-1e-400"), -0)).toBe(true);
  });
});

describe("parse: strings", () => {
  it("reads all escapes", () => {
    expect(parse(String.raw`"\" \\ \/ \b \f \n \r \t"`)).toBe('" \\ / \b \f \n \r \t');
    expect(parse(String.raw`"\u0041\u00e9\u00E9\u2603\u0000\u007f"`)).toBe("A\u00e9\u00e9\u2603\u0000\u007f");
    expect(parse(String.raw`"a\nb"`)).toBe("a\nb");
    expect(parse(String.raw`"\\\\"`)).toBe("\\\\");
    expect(parse(String.raw`"x\"y\"z"`)).toBe('x"y"z');
    expect(parse(String.raw`"\""`)).toBe('"');
    expect(parse(`""`)).toBe("");
  });

  it("joins escaped surrogate pairs and keeps lone surrogates", () => {
    expect(parse(String.raw`"\ud83e\udd80 crab"`)).toBe("🦀 crab");
    expect(parse(String.raw`"\uD83E\uDD80"`)).toBe("🦀");
    const lone = parse(String.raw`"a\ud800b"`) as string;
    expect(lone.length).toBe(3);
    expect(lone.charCodeAt(1)).toBe(0xd800);
    const reversed = parse(String.raw`"\udd80\ud83e"`) as string;
    expect([reversed.charCodeAt(0), reversed.charCodeAt(1)]).toEqual([0xdd80, 0xd83e]);
    expect(parse(String.raw`"\udc00"`)).toBe("\udc00");
    expect(parse(String.raw`"\ud800"`)).toBe("\ud800");
  });

  it("accepts raw non-ASCII text, DEL and U+2028/2029", () => {
    expect(parse('"zażółć ☃ 🦀 \u007f \u2028\u2029"')).toBe("zażółć ☃ 🦀 \u007f \u2028\u2029");
    expect(parse('"</script> & <b> /"')).toBe("</script> & <b> /");
  });

  it("reads long strings with and without escapes", () => {
    const long = "x".repeat(100_000);
    expect(parse(`"${long}"`)).toBe(long);
    expect(parse(`"${long}\\n${long}"`)).toBe(`${long}\n${long}`);
  });
});

describe("parse: structure", () => {
  it("reads literals, arrays and objects", () => {
    expect(parse("true")).toBe(true);
    expect(parse("false")).toBe(false);
    expect(parse("null")).toBe(null);
    expect(parse("[]")).toStrictEqual([]);
    expect(parse("{}")).toStrictEqual({});
    expect(parse('[1, "a", null, [true], {"k": false}]')).toStrictEqual([1, "a", null, [true], { k: false }]);
    expect(parse('{"a": {"b": {"c": [1.5]}}}')).toStrictEqual({ a: { b: { c: [1.5] } } });
  });

  it("produces plain objects", () => {
    const o = parse('{"a": 1}');
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(isJsonObject(o)).toBe(true);
  });

  it("accepts every JSON whitespace character anywhere between tokens", () => {
    const text =
      ' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2.5 \t\r\n] \t\r\n, "b":true}\n\r\t ';
    expect(parse(text)).toStrictEqual({ a: [1, 2.5], b: true });
    expect(parse('{"a":1,"b":[1,2]}')).toStrictEqual({ a: 1, b: [1, 2] });
  });

  it("makes __proto__ an own data property without touching the prototype", () => {
    const o = parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, JsonValue>;
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(isJsonObject(o)).toBe(true);
    expect(Object.keys(o)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(o, "__proto__")).toEqual({
      value: { polluted: true },
      writable: true,
      enumerable: true,
      configurable: true,
    });
    expect((o as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(stringify(o)).toBe('{"__proto__": {"polluted": true}, "a": 1}');
    // nested and duplicated
    const n = parse('{"x": {"__proto__": 1, "__proto__": [2]}}') as { x: Record<string, JsonValue> };
    expect(Object.getOwnPropertyDescriptor(n.x, "__proto__")?.value).toEqual([2]);
    expect(Object.getPrototypeOf(n.x)).toBe(Object.prototype);
    // other Object.prototype names are ordinary keys
    expect(parse('{"constructor": 1, "toString": 2, "hasOwnProperty": 3}')).toStrictEqual({
      constructor: 1,
      toString: 2,
      hasOwnProperty: 3,
    });
  });

  it("keeps the last value of a duplicate key at the first key's position (Python dict behaviour)", () => {
    const o = parse('{"a": 1, "b": 2, "a": 3}') as Record<string, JsonValue>;
    expect(o).toStrictEqual({ a: 3, b: 2 });
    expect(Object.keys(o)).toEqual(["a", "b"]);
  });

  it("reads deep nesting up to MAX_NESTING_DEPTH", () => {
    const depth = MAX_NESTING_DEPTH;
    let v = parse("[".repeat(depth) + "]".repeat(depth));
    for (let i = 1; i < depth; i++) v = (v as JsonValue[])[0] as JsonValue;
    expect(v).toStrictEqual([]);
    const objects = '{"a": '.repeat(depth - 1) + "{}" + "}".repeat(depth - 1);
    expect(stringify(parse(objects))).toBe(objects);
    const e = parseError("[".repeat(depth + 1) + "]".repeat(depth + 1));
    expect(e.position).toBe(depth);
    expect(e.message).toContain(`at most ${depth} levels of nesting`);
  });

  it("reports an exhausted call stack as a JsonParseError", () => {
    const deep = "[".repeat(MAX_NESTING_DEPTH) + "]".repeat(MAX_NESTING_DEPTH);
    const outcomes = new Set<string>();
    // Local references: the test runner's module bindings are getters, which need stack themselves.
    const ParseError = JsonParseError;
    const parseJson = parse;
    // Recurse until the stack overflows, then try parse() on the way back up until it succeeds.
    const dive = (): boolean => {
      try {
        if (dive()) return true;
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
      try {
        parseJson(deep);
        return true;
      } catch (e) {
        outcomes.add(e instanceof ParseError ? e.expected : "other");
        return false;
      }
    };
    expect(dive()).toBe(true);
    expect(outcomes).toContain("less deeply nested data (call stack exhausted)");
  });

  it("agrees with JSON.parse on random documents (same keys over and over, as the key cache sees them)", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const keys = [
      "a",
      "b",
      "uid",
      "__proto__",
      'k"q',
      "tab\t",
      "é",
      "🦀",
      "10",
      "9",
      "x".repeat(41),
      "x".repeat(40),
      "",
    ];
    const scalars = [
      0,
      -1,
      42,
      2 ** 53 - 1,
      0.5,
      -1.25e-7,
      1.5e-300,
      "",
      "str",
      "é\u0000\n",
      "🦀",
      true,
      false,
      null,
    ];
    const make = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.4) return pick(scalars);
      if (r < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => make(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--) {
        Object.defineProperty(o, pick(keys), {
          value: make(depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    };
    for (let n = 0; n < 2000; n++) {
      const text = JSON.stringify(make(0), null, pick([undefined, 0, 1, "\t"]));
      expect(parse(text)).toStrictEqual(JSON.parse(text));
    }
  });

  it("only accepts strings", () => {
    expect(() => parse(Buffer.from("1") as unknown as string)).toThrow(TypeError);
  });
});

describe("parse: errors", () => {
  it("throws JsonParseError with code, position and expectation", () => {
    const e = parseError('{"a": 1 x}');
    expect(e).toBeInstanceOf(SyntaxError);
    expect(e.name).toBe("JsonParseError");
    expect(e.code).toBe("JSON_PARSE_ERROR");
    expect(e.position).toBe(8);
    expect(e.expected).toBe("',' or '}' after an object member");
    expect(e.message).toBe(
      `Expected ',' or '}' after an object member at offset 8, found 'x': {"a": 1 >>>x}`,
    );
  });

  it("shortens the excerpt of long input and shows control characters", () => {
    const text = `[${"1, ".repeat(50)}x, ${"2, ".repeat(50)}2]`;
    const e = parseError(text);
    expect(e.position).toBe(151);
    expect(e.message).toBe(
      "Expected a JSON value at offset 151, found 'x': ...1, 1, 1, 1, 1, 1, 1, 1, >>>x, 2, 2, 2, 2, 2, 2, 2, ...",
    );
    const ctl = parseError('"a\u0001b"');
    expect(ctl.message).toBe(
      "Expected a string character (control characters must be escaped) at offset 2, " +
        'found control character U+0001: "a>>>\\u0001b"',
    );
  });

  const cases: [text: string, position: number, expected: string][] = [
    ["", 0, "a JSON value"],
    ["   \n", 4, "a JSON value"],
    ['"abc', 0, "a closing '\"' for the string"],
    ['{"a": "abc', 6, "a closing '\"' for the string"],
    ['"abc\\n', 0, "a closing '\"' for the string"],
    ['"abc\\', 0, "a closing '\"' for the string"],
    ['"a\\xb"', 2, "a valid escape"],
    ['"a\\\'"', 2, "a valid escape"],
    ['"\\u12G4"', 1, "4 hex digits after '\\u'"],
    ['"\\u12"', 1, "4 hex digits after '\\u'"],
    ['"a\nb"', 2, "a string character (control characters must be escaped)"],
    ['"a\tb"', 2, "a string character (control characters must be escaped)"],
    ['"a\\"\u0000"', 4, "a string character (control characters must be escaped)"],
    [`"${"a".repeat(30)}`, 0, "a closing '\"' for the string"],
    [`["${"a".repeat(20)}\n"]`, 22, "a string character (control characters must be escaped)"],
    [`"${"a".repeat(20)}\\q"`, 21, "a valid escape"],
    [`"${"a".repeat(20)}\\u00"`, 21, "4 hex digits after '\\u'"],
    [`{"${"k".repeat(50)}\u0001": 1}`, 52, "a string character (control characters must be escaped)"],
    [`{"k\u0001": 1}`, 3, "a string character (control characters must be escaped)"],
    [`{"${"k".repeat(50)}`, 1, "a closing '\"' for the string"],
    ["01", 0, "no leading zeros in a number"],
    ["-01", 1, "no leading zeros in a number"],
    ["1.", 2, "a digit after the decimal point"],
    ["1.e5", 2, "a digit after the decimal point"],
    [".5", 0, "a JSON value"],
    ["+1", 0, "a JSON value"],
    ["-", 1, "a digit after '-'"],
    ["-a", 1, "a digit after '-'"],
    ["-NaN", 1, "a digit after '-'"],
    ["1e", 2, "a digit in the exponent"],
    ["1e+", 3, "a digit in the exponent"],
    ["1E-x", 3, "a digit in the exponent"],
    ["[1, 2,]", 6, "a JSON value after ',' (trailing comma)"],
    ['{"a": 1,}', 8, "a property name after ',' (trailing comma)"],
    ['{"a": 1} x', 9, "end of input after the JSON value"],
    ["1 2", 2, "end of input after the JSON value"],
    ["[] []", 3, "end of input after the JSON value"],
    ["nan", 0, "a JSON value"],
    ["inf", 0, "a JSON value"],
    ["-inf", 1, "a digit after '-'"],
    ["Nan", 0, "a JSON value (NaN?)"],
    ["Infinit", 0, "a JSON value (Infinity?)"],
    ["-Infinty", 0, "a JSON value (-Infinity?)"],
    ["tru", 0, "a JSON value (true?)"],
    ["True", 0, "a JSON value"],
    ["None", 0, "a JSON value"],
    ["nul", 0, "a JSON value (null?)"],
    ["undefined", 0, "a JSON value"],
    ["'a'", 0, "a JSON value"],
    ["[", 1, "a JSON value"],
    ["[1", 2, "',' or ']' after an array element"],
    ["[1 2]", 3, "',' or ']' after an array element"],
    ["[1,,2]", 3, "a JSON value"],
    ["{", 1, "a property name enclosed in double quotes"],
    ['{"a"', 4, "':' after a property name"],
    ['{"a" 1}', 5, "':' after a property name"],
    ['{"a": }', 6, "a JSON value"],
    ['{"a": 1', 7, "',' or '}' after an object member"],
    ["{a: 1}", 1, "a property name enclosed in double quotes"],
    ["{'a': 1}", 1, "a property name enclosed in double quotes"],
    ["{1: 1}", 1, "a property name enclosed in double quotes"],
    ["\ufeff{}", 0, "a JSON value"],
    ["\u00a0{}", 0, "a JSON value"],
    ["\f{}", 0, "a JSON value"],
    ["{}\u000b", 2, "end of input after the JSON value"],
    ["]", 0, "a JSON value"],
  ];

  it.each(cases)("rejects %j at offset %i", (text, position, expected) => {
    const e = parseError(text);
    expect(e.position).toBe(position);
    expect(e.expected.startsWith(expected)).toBe(true);
    expect(e.message).toContain(`at offset ${position}`);
  });
});

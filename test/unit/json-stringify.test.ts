import { describe, expect, it } from "vitest";
import {
  compareCodePoints,
  JsonStringifyError,
  type JsonValue,
  MAX_NESTING_DEPTH,
  PyFloat,
  parse,
  pyFloatRepr,
  stringify,
} from "../../src/json/index.js";

function stringifyError(value: unknown): JsonStringifyError {
  try {
    stringify(value);
  } catch (e) {
    if (e instanceof JsonStringifyError) return e;
    throw e;
  }
  throw new Error("stringify() did not throw");
}

describe("stringify: numbers", () => {
  it("writes every row of the fixture README formatting table like Python", () => {
    expect(stringify(new PyFloat(1))).toBe("1.0");
    expect(stringify(1e-5)).toBe("1e-05");
    expect(stringify(1e-7)).toBe("1e-07");
    expect(stringify(new PyFloat(1e16))).toBe("1e+16");
    expect(stringify(new PyFloat(1.5e300))).toBe("1.5e+300");
    expect(stringify(-0)).toBe("-0.0");
    expect(stringify(new PyFloat(2 ** 53))).toBe("9007199254740992.0");
    expect(stringify(Number.NaN)).toBe("NaN");
    expect(stringify(Number.POSITIVE_INFINITY)).toBe("Infinity");
    expect(stringify(Number.NEGATIVE_INFINITY)).toBe("-Infinity");
    expect(stringify(2n ** 70n)).toBe("1180591620717411303424");
    expect(stringify("é")).toBe('"\\u00e9"');
    expect(stringify("🦀")).toBe('"\\ud83e\\udd80"');
    expect(stringify("\u007f")).toBe('"\\u007f"');
    expect(stringify("\u0000")).toBe('"\\u0000"');
    expect(stringify("</script> / <")).toBe('"</script> / <"');
  });

  it("writes other floats in Python repr form", () => {
    const cases: [number | PyFloat, string][] = [
      [0.1, "0.1"],
      [123.456, "123.456"],
      [5e-324, "5e-324"],
      [new PyFloat(1e22), "1e+22"],
      [new PyFloat(1e21), "1e+21"],
      [new PyFloat(0), "0.0"],
      [new PyFloat(-0), "-0.0"],
      [new PyFloat(-1), "-1.0"],
      [new PyFloat(100), "100.0"],
      [new PyFloat(1e15), "1000000000000000.0"],
      [new PyFloat(9999999999999998), "9999999999999998.0"],
      [new PyFloat(123456789012345680), "1.2345678901234568e+17"],
      [new PyFloat(1.5), "1.5"],
      [new PyFloat(Number.NaN), "NaN"],
      [new PyFloat(Number.NEGATIVE_INFINITY), "-Infinity"],
      [1e-4, "0.0001"],
      [0.00012, "0.00012"],
      [9.999999999999999e-5, "9.999999999999999e-05"],
      [1.2e-5, "1.2e-05"],
      [-1.2e-5, "-1.2e-05"],
      [1.5e-300, "1.5e-300"],
      [1000000000000000.5, "1000000000000000.5"],
      [-1.5, "-1.5"],
      [1 / 3, "0.3333333333333333"],
      [2 / 3, "0.6666666666666666"],
      [1795904839.2089353, "1795904839.2089353"],
      [Number.MIN_VALUE, "5e-324"],
      [2.2250738585072014e-308, "2.2250738585072014e-308"],
      [new PyFloat(Number.MAX_VALUE), "1.7976931348623157e+308"],
    ];
    for (const [value, text] of cases) expect(stringify(value), text).toBe(text);
  });

  it("pyFloatRepr gives Python's repr/str of a float, including nan and inf", () => {
    expect(pyFloatRepr(1)).toBe("1.0");
    expect(pyFloatRepr(1e16)).toBe("1e+16");
    expect(pyFloatRepr(1e-5)).toBe("1e-05");
    expect(pyFloatRepr(-0)).toBe("-0.0");
    expect(pyFloatRepr(0)).toBe("0.0");
    expect(pyFloatRepr(2 ** 53)).toBe("9007199254740992.0");
    expect(pyFloatRepr(1.5e300)).toBe("1.5e+300");
    expect(pyFloatRepr(0.1)).toBe("0.1");
    expect(pyFloatRepr(Number.NaN)).toBe("nan");
    expect(pyFloatRepr(Number.POSITIVE_INFINITY)).toBe("inf");
    expect(pyFloatRepr(Number.NEGATIVE_INFINITY)).toBe("-inf");
  });

  it("writes integral numbers as Python ints, exactly", () => {
    expect(stringify(0)).toBe("0");
    expect(stringify(42)).toBe("42");
    expect(stringify(-7)).toBe("-7");
    expect(stringify(Number.MAX_SAFE_INTEGER)).toBe("9007199254740991");
    expect(stringify(2 ** 60)).toBe("1152921504606846976"); // String(2 ** 60) is "1152921504606847000"
    expect(stringify(-(2 ** 60))).toBe("-1152921504606846976");
    expect(stringify(1e21)).toBe("1000000000000000000000");
    expect(stringify(1e300)).toBe(BigInt(1e300).toString());
  });

  it("writes bigints exactly", () => {
    for (const n of [
      2n ** 53n + 1n,
      2n ** 64n - 1n,
      2n ** 64n,
      2n ** 70n,
      -(2n ** 65n),
      3n ** 1292n,
      0n,
      -1n,
    ]) {
      expect(stringify(n)).toBe(n.toString());
      expect(parse(stringify(n))).toBe(n >= -(2n ** 53n - 1n) && n <= 2n ** 53n - 1n ? Number(n) : n);
    }
  });

  it("round-trips int vs float", () => {
    for (const text of ["1", "1.0", "-0.0", "0", "0.0", "1e+16", "10000000000000000", "NaN", "-Infinity"]) {
      expect(stringify(parse(text))).toBe(text);
    }
    expect(stringify(parse("[1, 1.0, 1E0, 1.50, 0.5e1, -0, 1e400]"))).toBe(
      "[1, 1.0, 1.0, 1.5, 5.0, 0, Infinity]",
    );
  });
});

describe("stringify: strings", () => {
  it("escapes control characters like Python", () => {
    let all = "";
    for (let c = 0; c < 0x20; c++) all += String.fromCharCode(c);
    expect(stringify(all)).toBe(
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
        '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"',
    );
    expect(stringify('quote" backslash\\ slash/')).toBe('"quote\\" backslash\\\\ slash/"');
    expect(stringify('tab\tnewline\nnul\u0000quote"backslash\\ del\u007f')).toBe(
      '"tab\\tnewline\\nnul\\u0000quote\\"backslash\\\\ del\\u007f"',
    );
  });

  it("writes non-ASCII as lowercase \\u escapes and astral characters as surrogate pairs", () => {
    expect(stringify("zażółć gęślą jaźń ☃")).toBe(
      '"za\\u017c\\u00f3\\u0142\\u0107 g\\u0119\\u015bl\\u0105 ja\\u017a\\u0144 \\u2603"',
    );
    expect(stringify("\u2028\u2029\u00a0\uffff\u0080")).toBe('"\\u2028\\u2029\\u00a0\\uffff\\u0080"');
    expect(stringify("🦀 crab")).toBe('"\\ud83e\\udd80 crab"');
    expect(stringify("\udbff\udfff")).toBe('"\\udbff\\udfff"');
  });

  it("writes lone surrogates as escapes, as Python does", () => {
    expect(stringify("a\ud800b")).toBe('"a\\ud800b"');
    expect(stringify("\udc00")).toBe('"\\udc00"');
    expect(stringify(parse('"\\udd80\\ud83e"'))).toBe('"\\udd80\\ud83e"');
  });

  it("writes plain ASCII unchanged and long strings", () => {
    expect(stringify("")).toBe('""');
    expect(stringify("hello world ~!@#$%^&*()_+{}|:<>?")).toBe('"hello world ~!@#$%^&*()_+{}|:<>?"');
    const long = "y".repeat(100_000);
    expect(stringify(long)).toBe(`"${long}"`);
    expect(stringify(`${long}é${long}`)).toBe(`"${long}\\u00e9${long}"`);
  });
});

describe("stringify: objects and arrays", () => {
  it("uses Python's separators", () => {
    expect(stringify({ a: [1, 2, { b: null }], c: true, d: false, e: {}, f: [] })).toBe(
      '{"a": [1, 2, {"b": null}], "c": true, "d": false, "e": {}, "f": []}',
    );
  });

  it("sorts keys by code point at every level", () => {
    const probe = ["🦀", "！", "é", "b", "a", "_", "B", "9", "10", ""];
    const obj: Record<string, JsonValue> = {};
    probe.forEach((k, i) => {
      obj[k] = i;
    });
    expect(stringify({ z: { key_order: obj }, a: 1 })).toBe(
      '{"a": 1, "z": {"key_order": {"": 9, "10": 8, "9": 7, "B": 6, "_": 5, "a": 4, "b": 3, ' +
        '"\\u00e9": 2, "\\uff01": 1, "\\ud83e\\udd80": 0}}}',
    );
  });

  it("sorts by code point, not by UTF-16 code unit", () => {
    // U+FF01 and U+E000 are below U+1F980 and U+10000, although their UTF-16 units are above the surrogates.
    expect(stringify({ "🦀": 1, "！": 2 })).toBe('{"\\uff01": 2, "\\ud83e\\udd80": 1}');
    expect(stringify({ "\u{10000}": 1, "\ue000": 2, "\ud800": 3, "\ud7ff": 4 })).toBe(
      '{"\\ud7ff": 4, "\\ud800": 3, "\\ue000": 2, "\\ud800\\udc00": 1}',
    );
    // a lone high surrogate sorts before the pair it could have started
    expect(stringify({ "\ud83e\udd80": 1, "\ud83ex": 2, "\ud83e": 3 })).toBe(
      '{"\\ud83e": 3, "\\ud83ex": 2, "\\ud83e\\udd80": 1}',
    );
  });

  it("compareCodePoints agrees with comparing arrays of code points", () => {
    const alphabet = [
      "a",
      "b",
      "\u00e9",
      "\ud7ff",
      "\ue000",
      "\uffff",
      "\ud800",
      "\udbff",
      "\udc00",
      "\udfff",
      "🦀",
    ];
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const randomString = () => {
      let s = "";
      const n = Math.floor(random() * 5);
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
      return s;
    };
    const codePoints = (s: string) => Array.from(s, (ch) => ch.codePointAt(0) as number);
    const reference = (a: string, b: string) => {
      const x = codePoints(a);
      const y = codePoints(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++)
        if (x[i] !== y[i]) return Math.sign((x[i] as number) - (y[i] as number));
      return Math.sign(x.length - y.length);
    };
    for (let k = 0; k < 20000; k++) {
      const a = randomString();
      const b = random() < 0.3 ? a + randomString() : randomString();
      expect(Math.sign(compareCodePoints(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(
        reference(a, b),
      );
    }
  });

  it("keeps insertion order with sortKeys: false", () => {
    const obj = { name: "x", levelname: "INFO", created: 1.5, nested: { z: 1, a: 2 } };
    expect(stringify(obj, { sortKeys: false })).toBe(
      '{"name": "x", "levelname": "INFO", "created": 1.5, "nested": {"z": 1, "a": 2}}',
    );
    expect(stringify(obj)).toBe(
      '{"created": 1.5, "levelname": "INFO", "name": "x", "nested": {"a": 2, "z": 1}}',
    );
    // JavaScript itself puts array-index keys first, in numeric order; for objects it builds, that is the order.
    expect(stringify({ b: 1, "10": 2, "9": 3 }, { sortKeys: false })).toBe('{"9": 3, "10": 2, "b": 1}');
  });

  it("keeps the text order of array-index keys of parsed objects with sortKeys: false", () => {
    const texts = [
      '{"b": 1, "10": 2, "9": 3, "a": {"2": [], "1": {}}}',
      '{"": 10, "10": 5, "9": 6, "B": 3}',
      '{"4294967295": 1, "4294967294": 2, "01": 3, "0": 4, "-1": 5, "1.5": 6}',
      '{"1": "one", "9": "nine", "10": "ten"}',
    ];
    for (const text of texts) {
      expect(stringify(parse(text), { sortKeys: false })).toBe(text);
    }
    expect(stringify(parse(texts[0] as string))).toBe('{"10": 2, "9": 3, "a": {"1": {}, "2": []}, "b": 1}');
    // duplicates keep the first position
    expect(stringify(parse('{"x": 0, "5": 1, "3": 2, "5": 3}'), { sortKeys: false })).toBe(
      '{"x": 0, "5": 3, "3": 2}',
    );
    // changes after parsing: deleted keys disappear, new keys come last
    const o = parse('{"z": 1, "7": 2, "y": 3}') as Record<string, JsonValue>;
    delete o.z;
    o["1"] = 4;
    o.a = 5;
    expect(stringify(o, { sortKeys: false })).toBe('{"7": 2, "y": 3, "1": 4, "a": 5}');
  });

  it("writes objects without a prototype and own __proto__ keys", () => {
    const o = Object.create(null) as Record<string, JsonValue>;
    o.b = 1;
    o.a = 2;
    expect(stringify(o)).toBe('{"a": 2, "b": 1}');
    const p = {};
    Object.defineProperty(p, "__proto__", { value: [1], enumerable: true });
    expect(stringify(p)).toBe('{"__proto__": [1]}');
  });

  it("replaces objects with their toJSON() result", () => {
    class Resource {
      constructor(readonly name: string) {}
      toJSON(key: string) {
        return { __karton_resource__: { name: this.name, key } };
      }
    }
    expect(stringify({ payload: { sample: new Resource("a.exe"), list: [new Resource("b")] } })).toBe(
      '{"payload": {"list": [{"__karton_resource__": {"key": "0", "name": "b"}}], ' +
        '"sample": {"__karton_resource__": {"key": "sample", "name": "a.exe"}}}}',
    );
    expect(stringify(new Resource("top"))).toBe('{"__karton_resource__": {"key": "", "name": "top"}}');
    expect(stringify({ d: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) })).toBe(
      '{"d": "2024-01-02T03:04:05.000Z"}',
    );
    expect(stringify({ a: { toJSON: () => undefined }, b: 1 })).toBe('{"b": 1}');
    expect(stringify([{ toJSON: () => undefined }])).toBe("[null]");
    // a "toJSON" member that is data is just a key
    expect(stringify({ toJSON: "x" })).toBe('{"toJSON": "x"}');
  });

  it("allows stringify() inside toJSON()", () => {
    const inner = { toJSON: () => ({ text: stringify({ y: 2, x: [1.5] }, { sortKeys: false }) }) };
    expect(stringify({ b: inner, a: 1 })).toBe('{"a": 1, "b": {"text": "{\\"y\\": 2, \\"x\\": [1.5]}"}}');
  });

  it("omits undefined members, writes undefined array elements and holes as null", () => {
    expect(stringify({ a: undefined, b: 1, c: undefined })).toBe('{"b": 1}');
    expect(stringify({ a: undefined })).toBe("{}");
    expect(stringify([undefined, 1])).toBe("[null, 1]");
    // biome-ignore lint/suspicious/noSparseArray: testing holes
    expect(stringify([1, , 3])).toBe("[1, null, 3]");
  });

  it("unwraps boxed primitives", () => {
    expect(stringify([Object(1.5), Object("é"), Object(true), Object(5n), Object(2)])).toBe(
      '[1.5, "\\u00e9", true, 5, 2]',
    );
  });

  it("writes deep nesting up to MAX_NESTING_DEPTH", () => {
    let v: JsonValue = [];
    for (let i = 1; i < MAX_NESTING_DEPTH; i++) v = [v];
    expect(stringify(v)).toBe("[".repeat(MAX_NESTING_DEPTH) + "]".repeat(MAX_NESTING_DEPTH));
    const e = stringifyError({ a: [v] });
    expect(e.message).toContain(`nesting deeper than ${MAX_NESTING_DEPTH} levels`);
    expect(e.path.startsWith("a[0][0][0]")).toBe(true);
  });
});

describe("stringify: errors", () => {
  it("rejects functions and symbols, naming the path", () => {
    let e = stringifyError({ payload: { foo: [1, 2, () => 1] } });
    expect(e).toBeInstanceOf(TypeError);
    expect(e.code).toBe("JSON_STRINGIFY_ERROR");
    expect(e.path).toBe("payload.foo[2]");
    expect(e.message).toBe("Cannot serialise a function at payload.foo[2] as JSON");
    e = stringifyError({ payload: { "odd key": Symbol("s") } });
    expect(e.path).toBe('payload["odd key"]');
    expect(e.reason).toBe("a symbol");
    e = stringifyError({ f() {} });
    expect(e.path).toBe("f");
    e = stringifyError(() => 1);
    expect(e.path).toBe("(root)");
    e = stringifyError([[{ a: 1, b: [0, Symbol()] }]]);
    expect(e.path).toBe("[0][0].b[1]");
  });

  it("rejects undefined at the top level", () => {
    expect(stringifyError(undefined).message).toBe("Cannot serialise undefined at (root) as JSON");
    expect(stringifyError({ toJSON: () => undefined }).path).toBe("(root)");
  });

  it("rejects objects that are not JSON values", () => {
    expect(stringifyError({ a: new Map([[1, 2]]) }).message).toBe(
      "Cannot serialise an object of type Map (no toJSON method) at a as JSON",
    );
    expect(stringifyError({ a: new Set() }).reason).toContain("Set");
    expect(stringifyError({ a: new Uint8Array(2) }).reason).toContain("Uint8Array");
    class Thing {
      x = 1;
    }
    expect(stringifyError({ t: [new Thing()] }).path).toBe("t[0]");
  });

  it("rejects circular structures with a clear message", () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    const e = stringifyError({ payload: a });
    expect(e.message).toBe(
      "Cannot serialise a circular structure (it refers back to payload) at payload.self as JSON",
    );
    const arr: unknown[] = [1];
    arr.push({ back: arr });
    expect(stringifyError(arr).message).toBe(
      "Cannot serialise a circular structure (it refers back to (root)) at [1].back as JSON",
    );
  });

  it("reports an exhausted call stack as a JsonStringifyError", () => {
    const ErrorClass = JsonStringifyError;
    const write = stringify;
    const endless = { toJSON: (): unknown => ({ again: endless }) };
    expect(() => write(endless)).toThrow(ErrorClass);
    let deep: JsonValue = [];
    for (let i = 1; i < MAX_NESTING_DEPTH; i++) deep = [deep];
    const outcomes = new Set<string>();
    const dive = (): boolean => {
      try {
        if (dive()) return true;
      } catch (e) {
        if (!(e instanceof RangeError)) throw e;
      }
      try {
        write(deep);
        return true;
      } catch (e) {
        outcomes.add(e instanceof ErrorClass ? e.reason : "other");
        return false;
      }
    };
    expect(dive()).toBe(true);
    expect([...outcomes].some((r) => r.includes("call stack"))).toBe(true);
  });

  it("lets errors thrown by toJSON() through unchanged", () => {
    const boom = new Error("boom");
    expect(() =>
      stringify({
        a: {
          toJSON() {
            throw boom;
          },
        },
      }),
    ).toThrow(boom);
  });

  it("is usable again after an error", () => {
    stringifyError({ a: () => 1 });
    expect(stringify({ b: [1, 2] })).toBe('{"b": [1, 2]}');
  });
});

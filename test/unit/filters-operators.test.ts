import { describe, expect, it } from "vitest";
import { compileFilters, QueryError } from "../../src/filters/index.js";
import { type JsonObject, type JsonValue, PyFloat } from "../../src/json/values.js";

/** E("k", cond, headers): true / false / "error:<pythonType>". */
function op(cond: JsonValue, headers: JsonObject): boolean | string {
  try {
    return compileFilters([{ k: cond }], { validate: false }).matches(headers);
  } catch (e) {
    if (e instanceof QueryError) return `error:${e.pythonType}`;
    throw e;
  }
}

describe("comparison operators", () => {
  it("$eq / $ne with coercion", () => {
    expect(op({ $eq: 1 }, { k: 1 })).toBe(true);
    expect(op({ $eq: "1" }, { k: 1 })).toBe(true);
    expect(op({ $eq: "[1, 2]" }, { k: [1, 2] })).toBe(true);
    expect(op({ $eq: 1 }, { k: 2 })).toBe(false);
    expect(op({ $eq: 1 }, {})).toBe(false);
    expect(op({ $ne: 1 }, { k: 2 })).toBe(true);
    expect(op({ $ne: 1 }, { k: 1 })).toBe(false);
    expect(op({ $ne: 1 }, {})).toBe(true);
    expect(op({ $eq: Number.NaN }, { k: Number.NaN })).toBe(false);
    expect(op({ $eq: [Number.NaN] }, { k: [Number.NaN] })).toBe(true); // container identity (json singleton)
  });

  it("$gt $gte $lt $lte", () => {
    expect(op({ $gt: 1000 }, { k: 5000 })).toBe(true);
    expect(op({ $gt: 1000 }, { k: 10 })).toBe(false);
    expect(op({ $gt: 1000 }, {})).toBe(false);
    expect(op({ $gt: 1000 }, { k: "5000" })).toBe(false); // not comparable
    expect(op({ $gt: 0 }, { k: true })).toBe(true);
    expect(op({ $gte: 1 }, { k: new PyFloat(1) })).toBe(true);
    expect(op({ $lt: "b" }, { k: "a" })).toBe(true);
    expect(op({ $lt: "\uffff" }, { k: "😀" })).toBe(false); // code point order
    expect(op({ $lte: [1, 2] }, { k: [1, 2] })).toBe(true);
    expect(op({ $lt: [1, 3] }, { k: [1, 2, 9] })).toBe(true);
    expect(op({ $lt: [1, 2] }, { k: [1, "a"] })).toBe(false);
    expect(op({ $gt: null }, { k: null })).toBe(false);
    expect(op({ $gt: 9007199254740992 }, { k: 9007199254740993n })).toBe(true);
    expect(op({ $gt: 1 }, { k: Number.NaN })).toBe(false);
  });

  it("$in / $nin", () => {
    expect(op({ $in: ["emotet", "qakbot"] }, { k: "qakbot" })).toBe(true);
    expect(op({ $in: ["emotet"] }, { k: "x" })).toBe(false);
    expect(op({ $in: ["a"] }, { k: ["b", "a"] })).toBe(true);
    expect(op({ $in: [1] }, { k: "1" })).toBe(false); // no coercion
    expect(op({ $in: [1] }, { k: true })).toBe(true);
    expect(op({ $in: ["a"] }, {})).toBe(false);
    expect(op({ $nin: ["a"] }, {})).toBe(true);
    expect(op({ $nin: ["a"] }, { k: "a" })).toBe(false);
    expect(op({ $in: "abc" }, { k: "a" })).toBe("error:TypeError");
    expect(op({ $nin: 5 }, { k: "a" })).toBe("error:TypeError");
  });
});

describe("logical operators", () => {
  it("$and / $or / $nor", () => {
    expect(op({ $and: [{ $gt: 1 }, { $lt: 5 }] }, { k: 3 })).toBe(true);
    expect(op({ $and: [{ $gt: 1 }, { $lt: 5 }] }, { k: 7 })).toBe(false);
    expect(op({ $or: ["a", "b"] }, { k: "b" })).toBe(true);
    expect(op({ $or: ["a", "b"] }, {})).toBe(false);
    expect(op({ $nor: ["a", "b"] }, { k: "c" })).toBe(true);
    expect(op({ $nor: ["a", "b"] }, {})).toBe(true);
    expect(op({ $or: "ab" }, { k: "b" })).toBe(true); // a str is a sequence of characters
    expect(op({ $or: [] }, { k: 1 })).toBe(false);
    expect(op({ $and: [] }, { k: 1 })).toBe(true);
    expect(op({ $and: { a: 1 } }, { k: 1 })).toBe("error:QueryError");
    expect(op({ $or: 5 }, { k: 1 })).toBe("error:QueryError");
  });

  it("$not", () => {
    expect(op({ $not: { $in: ["blob", "sample"] } }, { k: "other" })).toBe(true);
    expect(op({ $not: { $in: ["blob", "sample"] } }, { k: "blob" })).toBe(false);
    expect(op({ $not: "x" }, {})).toBe(true);
    expect(op({ $not: { $ne: 1 } }, {})).toBe(false);
  });

  it("$all", () => {
    expect(op({ $all: ["a", "b"] }, { k: ["a", "b", "c"] })).toBe(true);
    expect(op({ $all: ["a", "z"] }, { k: ["a", "b"] })).toBe(false);
    expect(op({ $all: ["1"] }, { k: 1 })).toBe(true); // scalar: equality with coercion
    expect(op({ $all: [] }, {})).toBe(true);
    expect(op({ $all: 5 }, { k: 1 })).toBe("error:TypeError");
  });

  it("$elemMatch", () => {
    expect(op({ $elemMatch: { $regex: "^apt" } }, { k: ["apt28", "x"] })).toBe(true);
    expect(op({ $elemMatch: { $regex: "^apt" } }, { k: ["crime"] })).toBe(false);
    expect(op({ $elemMatch: { $eq: "b" } }, { k: "abc" })).toBe(true); // a str is iterated
    expect(op({ $elemMatch: { a: 1 } }, { k: [{ a: 1 }] })).toBe(true);
    expect(op({ $elemMatch: { a: 1 } }, { k: { a: 1 } })).toBe(false);
    expect(op({ $elemMatch: { a: 1 } }, {})).toBe(false);
    expect(op({ $elemMatch: 3 }, { k: [1] })).toBe("error:QueryError");
  });
});

describe("other operators", () => {
  it("$size", () => {
    expect(op({ $size: 2 }, { k: [1, 2] })).toBe(true);
    expect(op({ $size: 1 }, { k: [1, 2] })).toBe(false);
    expect(op({ $size: true }, { k: [1] })).toBe(true);
    expect(op({ $size: 2 }, { k: "ab" })).toBe(false);
    expect(op({ $size: 0 }, {})).toBe(false);
    expect(op({ $size: "2" }, { k: [1, 2] })).toBe("error:QueryError");
    expect(op({ $size: new PyFloat(2) }, { k: [1, 2] })).toBe("error:QueryError");
  });

  it("$type codes and aliases", () => {
    const t = (type: JsonValue, v: JsonValue | undefined) =>
      op({ $type: type }, v === undefined ? {} : { k: v });
    expect(t("string", "x")).toBe(true);
    expect(t(2, "x")).toBe(true);
    expect(t("objectId", "x")).toBe(true);
    expect(t("int", 1)).toBe(true);
    expect(t("int", true)).toBe(true);
    expect(t("long", 2n ** 70n)).toBe(true);
    expect(t("int", new PyFloat(1))).toBe(false);
    expect(t("double", new PyFloat(1))).toBe(true);
    expect(t(1, 2.5)).toBe(true);
    expect(t("double", -0)).toBe(true);
    expect(t("double", 1)).toBe(false);
    expect(t("number", true)).toBe(true);
    expect(t("number", 2.5)).toBe(true);
    expect(t("number", "1")).toBe(false);
    expect(t("array", [1])).toBe(true);
    expect(t("array", "abc")).toBe(true);
    expect(t("object", { a: 1 })).toBe(true);
    expect(t("bool", false)).toBe(true);
    expect(t("null", null)).toBe(true);
    expect(t("null", undefined)).toBe(false);
    expect(t("regex", "x")).toBe(false);
    expect(t("binData", "x")).toBe(false);
    expect(t(true, 2.5)).toBe(true); // True == 1 (double)
    expect(t(new PyFloat(2), "x")).toBe(true);
    expect(t("nope", "x")).toBe("error:QueryError");
    expect(t(6, "x")).toBe("error:QueryError");
    expect(t([1], "x")).toBe("error:TypeError");
  });

  it("$mod (Python floor modulo)", () => {
    expect(op({ $mod: [2, 0] }, { k: 4 })).toBe(true);
    expect(op({ $mod: [2, 1] }, { k: 4 })).toBe(false);
    expect(op({ $mod: [3, 2] }, { k: -1 })).toBe(true); // -1 % 3 == 2
    expect(op({ $mod: [-3, -1] }, { k: 5 })).toBe(true); // 5 % -3 == -1
    expect(op({ $mod: [1.5, 0.5] }, { k: 2 })).toBe(true);
    expect(op({ $mod: [2, 1] }, { k: true })).toBe(true);
    expect(op({ $mod: [7, 2] }, { k: 2n ** 64n })).toBe(true); // 2^64 % 7 == 2
    expect(op({ $mod: [2, 0] }, {})).toBe("error:TypeError");
    expect(op({ $mod: [2, 0] }, { k: null })).toBe("error:TypeError");
    expect(op({ $mod: [2, 0] }, { k: "x" })).toBe("error:TypeError");
    expect(op({ $mod: [0, 0] }, { k: 1 })).toBe("error:ZeroDivisionError");
    expect(op({ $mod: [2] }, { k: 1 })).toBe("error:IndexError");
  });

  it("$regex (Python re, search semantics)", () => {
    expect(op({ $regex: "^apt" }, { k: "apt28" })).toBe(true);
    expect(op({ $regex: "pt2" }, { k: "apt28" })).toBe(true);
    expect(op({ $regex: "^APT" }, { k: "apt28" })).toBe(false);
    expect(op({ $regex: "/^APT/i" }, { k: "apt28" })).toBe(true);
    expect(op({ $regex: "(?i)^APT" }, { k: "apt28" })).toBe(true);
    expect(op({ $regex: "a$" }, { k: "a\n" })).toBe(true); // Python $: before a final newline
    expect(op({ $regex: "a\\Z" }, { k: "a\n" })).toBe(false);
    expect(op({ $regex: "\\Aa" }, { k: "ba" })).toBe(false);
    expect(op({ $regex: "a.b" }, { k: "a\rb" })).toBe(true); // . excludes only \n
    expect(op({ $regex: "a.b" }, { k: "a\nb" })).toBe(false);
    expect(op({ $regex: "/a.b/s" }, { k: "a\nb" })).toBe(true);
    expect(op({ $regex: "^b" }, { k: "a\nb" })).toBe(false);
    expect(op({ $regex: "/^b/m" }, { k: "a\nb" })).toBe(true);
    expect(op({ $regex: "(?P<x>a)(?P=x)" }, { k: "aa" })).toBe(true);
    expect(op({ $regex: "/a b # comment/x" }, { k: "ab" })).toBe(true);
    expect(op({ $regex: "\\d" }, { k: "٣" })).toBe(true); // Unicode digits
    expect(op({ $regex: "\\s" }, { k: "\x1c" })).toBe(true);
    expect(op({ $regex: "\\s" }, { k: "\ufeff" })).toBe(false);
    expect(op({ $regex: "\\w" }, { k: "é" })).toBe(true);
    expect(op({ $regex: "(?a)\\w" }, { k: "é" })).toBe(false);
    expect(op({ $regex: "x{,2}y" }, { k: "xxy" })).toBe(true);
    expect(op({ $regex: "^a" }, { k: 5 })).toBe(false);
    expect(op({ $regex: "^a" }, {})).toBe(false);
    expect(op({ $regex: "a[" }, { k: "a" })).toBe("error:QueryError");
    expect(op({ $regex: "\\q" }, { k: "a" })).toBe("error:QueryError");
    expect(op({ $regex: "a(?i)" }, { k: "a" })).toBe("error:QueryError"); // global flags not at start
    expect(op({ $regex: 5 }, { k: "a" })).toBe("error:QueryError");
  });

  it("$exists and its quirks", () => {
    expect(op({ $exists: true }, { k: 1 })).toBe(true);
    expect(op({ $exists: true }, {})).toBe(false);
    expect(op({ $exists: false }, {})).toBe(true);
    expect(op({ $exists: 1 }, { k: 1 })).toBe(true);
    expect(op({ $exists: 0 }, {})).toBe(true);
    expect(op({ $exists: "yes" }, { k: 1 })).toBe(false);
    expect(op({ $exists: true, $gt: 1 }, { k: 2 })).toBe(true);
    expect(op({ $exists: true, $gt: 1 }, { k: 0 })).toBe(false);
    // Quirk: $exists under an operator key tests for a key named "$not" in the value.
    expect(op({ $not: { $exists: true } }, { k: { a: 1 } })).toBe(false);
    expect(op({ $not: { $exists: true } }, { k: { $not: 1 } })).toBe(true);
    expect(op({ $not: { $exists: true } }, {})).toBe("error:TypeError");
    // Dotted key with $exists: path existence, siblings ignored.
    const d = (cond: JsonValue, headers: JsonObject) => compileFilters([{ "k.a": cond }]).matches(headers);
    expect(d({ $exists: true }, { k: { a: 1 } })).toBe(true);
    expect(d({ $exists: true }, { k: {} })).toBe(false);
    expect(d({ $exists: true, $gt: 100 }, { k: { a: 1 } })).toBe(true);
    expect(d({ $exists: true }, { k: [{ a: 1 }, {}] })).toBe(true);
    expect(d({ $exists: false }, {})).toBe(true);
  });

  it("$options / $text / $where are not implemented; unknown operators are QueryErrors", () => {
    expect(op({ $text: "x" }, { k: 1 })).toBe("error:NotImplementedError");
    expect(op({ $where: "x" }, { k: 1 })).toBe("error:NotImplementedError");
    expect(op({ $bogus: 1 }, { k: 1 })).toBe("error:QueryError");
  });
});

/**
 * The query evaluator of spec §7.4/§7.5 (karton-core 5.9.1 `karton.core.query.Query` with type coercion),
 * compiled into closures once per condition. Evaluation follows Python exactly, including where it
 * raises: errors are thrown lazily, at the point and in the order Python would raise them, as
 * {@link QueryError}s whose `pythonType` names the Python exception.
 *
 * `M(cond, v)` = {@link compileMatch}, `E(k, c, v)` = {@link compileCondition}, `PATH` = {@link extractPath}.
 * JavaScript `undefined` stands for Python's `_Undefined` (missing header / path).
 */
import { isJsonObject, PyFloat } from "../json/values.js";
import { QueryError, queryError, typeError } from "./errors.js";
import { compileGlob } from "./glob.js";
import { compilePythonRegex } from "./python-regex.js";
import {
  type CompareOp,
  isFloatValue,
  isIntValue,
  isPySequence,
  numericValue,
  type PyValue,
  parsePyInt,
  pyCompare,
  pyContainsKey,
  pyEquals,
  pyIsDigit,
  pyListContains,
  pyMod,
  pyRepr,
  pyStr,
  pyTruthy,
} from "./python-values.js";

/** A compiled predicate over one value. */
export type Predicate = (value: PyValue) => boolean;

/**
 * The `{"$regex": GLOB(s)}` condition that `pat(s)` produces for a wildcard filter value (spec §7.2). It
 * behaves exactly like `$regex` with Python's `fnmatch.translate(s)` but is matched without regex
 * translation.
 */
export class GlobCondition {
  constructor(readonly pattern: string) {}

  toString(): string {
    return `fnmatch.translate(${pyRepr(this.pattern)})`;
  }
}

const own = Object.hasOwn;

// ---------------------------------------------------------------------------------------------------
// Equality with string coercion (Query._eq with _type_coercion=True)

/** `EQ(c, v)`: a str condition against a non-str value compares with Python `str(v)`. */
export function coercedEquals(cond: PyValue, value: PyValue): boolean {
  if (typeof cond === "string" && typeof value !== "string") {
    // Python compares with str(_Undefined), which contains a memory address: never equal in practice.
    return value !== undefined && pyStr(value) === cond;
  }
  return pyEquals(value, cond);
}

// ---------------------------------------------------------------------------------------------------
// PATH (Query._extract)

class PathIndexError extends Error {}
const INDEX_ERROR = new PathIndexError("list index out of range");

function extractFrom(entry: PyValue, path: readonly string[], i: number): PyValue {
  if (i === path.length) return entry;
  if (entry === null) return null;
  if (Array.isArray(entry)) {
    const index = parsePyInt(path[i]!);
    if (index !== undefined) {
      const n = entry.length;
      const idx = typeof index === "bigint" ? Number(index) : index;
      const at = idx < 0 ? n + idx : idx;
      if (!(at >= 0 && at < n)) throw INDEX_ERROR;
      return extractFrom(entry[at], path, i + 1);
    }
    return entry.map((item) => extractFrom(item, path, i));
  }
  if (isJsonObject(entry) && own(entry, path[i]!)) return extractFrom(entry[path[i]!], path, i + 1);
  return undefined;
}

/** `PATH(v, parts)`; an out-of-range list index anywhere makes the whole result undefined. */
export function extractPath(entry: PyValue, path: readonly string[]): PyValue {
  try {
    return extractFrom(entry, path, 0);
  } catch (error) {
    if (error === INDEX_ERROR) return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------
// Dotted-path existence (Query._path_exists)

const RETURNED_COND = true;
const RETURNED_NOT_COND = false;

function isNaNValue(v: PyValue): boolean {
  return (typeof v === "number" && Number.isNaN(v)) || (v instanceof PyFloat && Number.isNaN(v.value));
}

/** Returns whether Python's `_path_exists` returned `condition` (true) or `not condition` (false). */
function pathExists(parts: readonly string[], start: number, cond: PyValue, entryIn: PyValue): boolean {
  let entry = entryIn;
  for (let i = start; i < parts.length; i++) {
    const k = parts[i]!;
    const sequence = isPySequence(entry);
    if (sequence && !pyIsDigit(k)) {
      if (typeof entry === "string") {
        // Every character of a str is itself a non-empty str: Python recurses without end.
        if (entry.length === 0) return RETURNED_NOT_COND;
        throw new QueryError(
          "maximum recursion depth exceeded (dotted $exists through a str)",
          "RecursionError",
        );
      }
      for (const elem of entry as unknown[]) {
        // `_path_exists(...) == condition`: true only when it returned `condition` itself (not NaN).
        if (pathExists(parts, i, cond, elem) === RETURNED_COND && !isNaNValue(cond)) return RETURNED_COND;
      }
      return RETURNED_NOT_COND;
    }
    if (sequence) {
      const index = parsePyInt(k);
      if (index === undefined)
        throw new QueryError(`invalid literal for int() with base 10: ${pyRepr(k)}`, "ValueError");
      const items = typeof entry === "string" ? Array.from(entry) : (entry as unknown[]);
      const idx = Number(index);
      if (!(idx < items.length)) return RETURNED_NOT_COND;
      entry = items[idx];
    } else if (isJsonObject(entry)) {
      if (!own(entry, k)) return RETURNED_NOT_COND;
      entry = entry[k];
    } else {
      return RETURNED_NOT_COND; // TypeError: not subscriptable (caught by Python)
    }
  }
  return RETURNED_COND;
}

// ---------------------------------------------------------------------------------------------------
// M and E

function iterateCodePoints(s: string): string[] {
  return Array.from(s);
}

/** `M(cond, v)`. */
export function compileMatch(cond: PyValue): Predicate {
  if (isJsonObject(cond)) {
    const preds = Object.keys(cond).map((k) => compileCondition(k, cond[k]));
    if (preds.length === 0) return () => true;
    if (preds.length === 1) return preds[0]!;
    return (v) => {
      for (const p of preds) if (!p(v)) return false;
      return true;
    };
  }
  if (typeof cond === "string") {
    return (v) => {
      if (v === cond) return true;
      if (typeof v === "string" || v === undefined) return false;
      if (Array.isArray(v)) return pyListContains(v, cond);
      return pyStr(v) === cond;
    };
  }
  return (v) => (Array.isArray(v) ? pyListContains(v, cond) : coercedEquals(cond, v));
}

/** `E(k, c, v)`. */
export function compileCondition(key: string, cond: PyValue): Predicate {
  if (isJsonObject(cond) && own(cond, "$exists")) {
    const exists = cond.$exists;
    if (key.includes(".")) {
      const parts = key.split(".");
      const truthy = pyTruthy(exists);
      return (v) => (pathExists(parts, 0, exists, v) ? truthy : !truthy);
    }
    const onlyExists = Object.keys(cond).length === 1;
    const rest = onlyExists ? undefined : compileStep2(key, cond);
    return (v) => {
      if (!pyEquals(exists, pyContainsKey(v, key))) return false;
      return rest === undefined ? true : rest(v);
    };
  }
  return compileStep2(key, cond);
}

function compileStep2(key: string, cond: PyValue): Predicate {
  if (key.startsWith("$")) return compileOperator(key, cond);
  if (!key.includes(".")) {
    // One path part: the common `{"type": "sample"}` case.
    if (typeof cond === "string") {
      return (v) => {
        if (isJsonObject(v)) {
          const x = v[key];
          if (x === cond) return true;
          if (typeof x === "string") return false;
          if (x === undefined || !own(v, key)) return false;
          return Array.isArray(x) ? pyListContains(x, cond) : pyStr(x) === cond;
        }
        return stringMatch(cond, extractPath(v, [key]));
      };
    }
    if (isJsonObject(cond) && Object.keys(cond).length === 1 && cond.$regex instanceof GlobCondition) {
      const glob = compileGlob(cond.$regex.pattern);
      return (v) => {
        const x = isJsonObject(v) ? (own(v, key) ? v[key] : undefined) : extractPath(v, [key]);
        return typeof x === "string" && glob(x);
      };
    }
  }
  const path = key.split(".");
  const match = compileMatch(cond);
  return (v) => match(extractPath(v, path));
}

function stringMatch(cond: string, x: PyValue): boolean {
  if (x === cond) return true;
  if (typeof x === "string" || x === undefined) return false;
  if (Array.isArray(x)) return pyListContains(x, cond);
  return pyStr(x) === cond;
}

// ---------------------------------------------------------------------------------------------------
// Operators

const thrower =
  (error: () => QueryError): Predicate =>
  () => {
    throw error();
  };

function comparison(op: CompareOp, cond: PyValue): Predicate {
  return (v) => pyCompare(v, cond, op) === true;
}

function compileIn(cond: PyValue): Predicate {
  if (!Array.isArray(cond)) return thrower(() => typeError("condition must be a list"));
  return (v) => {
    if (Array.isArray(v)) {
      for (const e of cond) if (pyListContains(v, e)) return true;
    } else {
      for (const e of cond) if (pyEquals(e, v)) return true;
    }
    return false;
  };
}

/** Items of a Python sequence argument (list items or str characters), or undefined. */
function sequenceItems(cond: PyValue): unknown[] | undefined {
  if (Array.isArray(cond)) return cond;
  if (typeof cond === "string") return iterateCodePoints(cond);
  return undefined;
}

/** Items of any Python iterable argument (list, str characters, dict keys), or undefined. */
function iterableItems(cond: PyValue): unknown[] | undefined {
  if (isJsonObject(cond)) return Object.keys(cond);
  return sequenceItems(cond);
}

function logical(name: "$and" | "$or" | "$nor", cond: PyValue): Predicate {
  const items = sequenceItems(cond);
  if (items === undefined) {
    return thrower(() => queryError(`${name} has been attributed incorrect argument ${pyStr(cond)}`));
  }
  const subs = items.map(compileMatch);
  if (name === "$and") return (v) => subs.every((p) => p(v));
  if (name === "$or") return (v) => subs.some((p) => p(v));
  return (v) => subs.every((p) => !p(v));
}

const BSON_ALIASES: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  javascript: 13,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
};

const isStr: Predicate = (v) => typeof v === "string";
const BSON_TYPES: Record<number, Predicate> = {
  1: isFloatValue,
  2: isStr,
  3: isJsonObject,
  4: isPySequence,
  5: () => false,
  7: isStr,
  8: (v) => typeof v === "boolean",
  9: isStr,
  10: (v) => v === null,
  11: () => false,
  13: isStr,
  15: isStr,
  16: isIntValue,
  17: isIntValue,
  18: isIntValue,
};

/** The type test of `$type`, or a QueryError (pythonType TypeError for unhashable arguments). */
export function typeTest(cond: PyValue): Predicate | QueryError {
  if (cond === "number") return (v) => isFloatValue(v) || isIntValue(v);
  if (Array.isArray(cond) || isJsonObject(cond)) {
    return new QueryError(`unhashable type: '${Array.isArray(cond) ? "list" : "dict"}'`, "TypeError");
  }
  let code: PyValue = cond;
  if (typeof cond === "string" && own(BSON_ALIASES, cond)) code = BSON_ALIASES[cond];
  if (
    typeof code === "number" ||
    typeof code === "boolean" ||
    typeof code === "bigint" ||
    code instanceof PyFloat
  ) {
    const n = Number(numericValue(code));
    if (Number.isInteger(n) && own(BSON_TYPES, String(n))) return BSON_TYPES[n]!;
  }
  return queryError(`$type has been used with unknown type ${pyStr(code)}`);
}

function subscript(cond: PyValue, index: number): PyValue {
  if (Array.isArray(cond)) {
    if (index >= cond.length) throw new QueryError("list index out of range", "IndexError");
    return cond[index];
  }
  if (typeof cond === "string") {
    const chars = iterateCodePoints(cond);
    if (index >= chars.length) throw new QueryError("string index out of range", "IndexError");
    return chars[index];
  }
  if (isJsonObject(cond)) throw new QueryError(String(index), "KeyError");
  throw typeError(`'${cond === null ? "NoneType" : typeof cond}' object is not subscriptable`);
}

function regexOperator(cond: PyValue): Predicate {
  if (cond instanceof GlobCondition) {
    const glob = compileGlob(cond.pattern);
    return (v) => typeof v === "string" && glob(v);
  }
  if (typeof cond !== "string") {
    return (v) => {
      if (typeof v !== "string") return false;
      throw queryError(`${pyStr(cond)} is not a regular expression and should be a string`);
    };
  }
  let re: RegExp | undefined;
  return (v) => {
    if (typeof v !== "string") return false;
    re ??= compilePythonRegex(cond);
    return re.test(v);
  };
}

function elemMatch(cond: PyValue): Predicate {
  if (!isJsonObject(cond)) {
    return (v) => {
      if (!isPySequence(v) || v.length === 0) return false;
      throw queryError("$elemMatch operator isn't supported");
    };
  }
  const preds = Object.keys(cond).map((k) => compileCondition(k, cond[k]));
  return (v) => {
    if (!isPySequence(v)) return false;
    const elements = typeof v === "string" ? iterateCodePoints(v) : v;
    for (const element of elements) {
      let all = true;
      for (const p of preds) {
        if (!p(element)) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  };
}

/** Operators documented by karton-core (what validation accepts). */
export const KNOWN_OPERATORS: ReadonlySet<string> = new Set([
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$in",
  "$nin",
  "$and",
  "$or",
  "$nor",
  "$not",
  "$all",
  "$elemMatch",
  "$size",
  "$type",
  "$mod",
  "$regex",
  "$exists",
]);

/** Operator `key` applied to `cond` (step 2 of E). */
export function compileOperator(key: string, cond: PyValue): Predicate {
  switch (key) {
    case "$eq":
      if (typeof cond === "string") return (v) => v === cond || coercedEquals(cond, v);
      return (v) => coercedEquals(cond, v);
    case "$ne":
      return (v) => !coercedEquals(cond, v);
    case "$gt":
      return comparison(">", cond);
    case "$gte":
      return comparison(">=", cond);
    case "$lt":
      return comparison("<", cond);
    case "$lte":
      return comparison("<=", cond);
    case "$in":
      return compileIn(cond);
    case "$nin": {
      const inPred = compileIn(cond);
      return (v) => !inPred(v);
    }
    case "$and":
    case "$or":
    case "$nor":
      return logical(key, cond);
    case "$not":
    case "$match": {
      // `$match` reaches Query._match itself through getattr.
      const m = compileMatch(cond);
      return key === "$not" ? (v) => !m(v) : m;
    }
    case "$all": {
      const items = iterableItems(cond);
      if (items === undefined) {
        return thrower(() =>
          typeError(`'${cond === null ? "NoneType" : typeof cond}' object is not iterable`),
        );
      }
      const subs = items.map(compileMatch);
      return (v) => subs.every((p) => p(v));
    }
    case "$elemMatch":
      return elemMatch(cond);
    case "$size": {
      if (!isIntValue(cond)) {
        return thrower(() => queryError(`$size has been attributed incorrect argument ${pyStr(cond)}`));
      }
      const n = numericValue(cond as boolean | number | bigint);
      // biome-ignore lint/suspicious/noDoubleEquals: exact comparison of a length with a number or bigint
      return (v) => Array.isArray(v) && v.length == n;
    }
    case "$type": {
      const test = typeTest(cond);
      if (test instanceof QueryError) return thrower(() => test);
      return test;
    }
    case "$mod":
      return (v) => {
        const divisor = subscript(cond, 0);
        const result = pyMod(v, divisor);
        return pyEquals(result, subscript(cond, 1));
      };
    case "$regex":
      return regexOperator(cond);
    case "$exists":
    case "$noop":
      return () => true;
    case "$options":
    case "$text":
    case "$where":
    case "$not_implemented":
      return thrower(() => new QueryError(`${key} is not implemented`, "NotImplementedError"));
    case "$process_condition":
    case "$path_exists":
      return thrower(() => typeError(`${key} called with missing arguments`));
    case "$definition":
    case "$type_coercion":
      return thrower(() => typeError(`${key}: object is not callable`));
  }
  if (key === "$extract" || key.startsWith("$_")) {
    return thrower(() => new QueryError(`${key} reaches a Python internal; not emulated`, "Unsupported"));
  }
  return thrower(() => queryError(`${key} operator isn't supported`));
}

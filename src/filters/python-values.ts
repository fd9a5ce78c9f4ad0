/**
 * Python semantics over the JSON value model of `src/json/values.ts`, as karton-core's query engine
 * (Python 3) sees header and filter values: `str()`/`repr()`, `==`, ordering, `%`, truthiness, `in`,
 * `int()` of a path part, `str.isdigit()`.
 *
 * Value mapping (see values.ts): `boolean` = bool (a subclass of int), integral `number` and `bigint` =
 * int, non-integral `number`, `-0`, `NaN`, `±Infinity` and {@link PyFloat} = float, `string` = str,
 * `null` = None, arrays = list, plain objects = dict. JavaScript `undefined` stands for the evaluator's
 * `_Undefined` marker (a missing header or path), which equals nothing and supports no operation.
 *
 * NaN: Python's `json` module returns one shared NaN object, and container comparisons (`in`, list and
 * dict `==`) try identity before `==`. So `nan == nan` is false, but `[nan] == [nan]` and `nan in [nan]`
 * are true for values parsed from JSON. {@link pyEquals} (a bare `==`) and {@link pySameOrEquals} (the
 * container comparison) reproduce that difference.
 */
import { pyFloatRepr } from "../json/float.js";
import { isJsonObject, PyFloat } from "../json/values.js";
import { QueryError, typeError } from "./errors.js";

/** A value as the evaluator sees it: any JSON value, or `undefined` for Python's `_Undefined`. */
export type PyValue = unknown;

/** Python type of a value, named like `type(v).__name__` (`_Undefined` for `undefined`). */
export function pyTypeName(v: PyValue): string {
  if (v === undefined) return "_Undefined";
  if (v === null) return "NoneType";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "string":
      return "str";
    case "bigint":
      return "int";
    case "number":
      return Number.isInteger(v) && !Object.is(v, -0) ? "int" : "float";
    default:
      if (v instanceof PyFloat) return "float";
      if (Array.isArray(v)) return "list";
      if (isJsonObject(v)) return "dict";
      return "object";
  }
}

/** True for a Python number: bool, int or float. */
export function isPyNumber(v: PyValue): v is boolean | number | bigint | PyFloat {
  const t = typeof v;
  return t === "number" || t === "boolean" || t === "bigint" || v instanceof PyFloat;
}

/** True for a Python float (non-integral number, -0, NaN, ±Infinity, PyFloat). */
export function isFloatValue(v: PyValue): boolean {
  if (v instanceof PyFloat) return true;
  return typeof v === "number" && (!Number.isInteger(v) || Object.is(v, -0));
}

/** True for a Python int, including bool (bool is a subclass of int). */
export function isIntValue(v: PyValue): boolean {
  if (typeof v === "boolean" || typeof v === "bigint") return true;
  return typeof v === "number" && Number.isInteger(v) && !Object.is(v, -0);
}

/** `isinstance(v, collections.abc.Sequence)` for JSON values: list or str. */
export function isPySequence(v: PyValue): v is string | unknown[] {
  return typeof v === "string" || Array.isArray(v);
}

/** The numeric value of a Python number (`bool` → 0/1); `bigint` is kept exact. */
export function numericValue(v: boolean | number | bigint | PyFloat): number | bigint {
  if (typeof v === "number" || typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  return v.value;
}

// ---------------------------------------------------------------------------------------------------
// str() and repr()

/** Python `repr()` (= `str()`) of a float: the one implementation lives in src/json. */
export { pyFloatRepr };

/** Python `str()` of an int held in a JS number (never exponent notation). */
function intToString(n: number): string {
  return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
}

// Characters Python's str.isprintable() rejects: categories Cc Cf Cs Co Cn Zl Zp Zs, except the space.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/; // printable ASCII without ' and \

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}

/** Python `repr()` of a str: quotes and escapes exactly like CPython 3. */
export function pyStrRepr(s: string): string {
  if (PLAIN_ASCII.test(s)) return `'${s}'`;
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x7f) out += ch;
    else if (NON_PRINTABLE.test(ch)) {
      if (cp < 0x100) out += `\\x${hex(cp, 2)}`;
      else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
      else out += `\\U${hex(cp, 8)}`;
    } else out += ch;
  }
  return out + quote;
}

const UNDEFINED_REPR = "<karton.core.query._Undefined object>";

/** Python `repr()` of a value. */
export function pyRepr(v: PyValue): string {
  return typeof v === "string" ? pyStrRepr(v) : pyStr(v);
}

/**
 * Python `str()` of a value: `True`/`False`/`None`, ints in decimal, floats in repr form (`1.0`, `1e-05`,
 * `inf`, `nan`), lists and dicts in repr form (`[1, 'a']`, `{'k': 1}`), strings unchanged.
 * (Python's `_Undefined` prints with a memory address; here it renders without one.)
 */
export function pyStr(v: PyValue): string {
  switch (typeof v) {
    case "string":
      return v;
    case "boolean":
      return v ? "True" : "False";
    case "bigint":
      return v.toString();
    case "number":
      return Number.isInteger(v) && !Object.is(v, -0) ? intToString(v) : pyFloatRepr(v);
    case "undefined":
      return UNDEFINED_REPR;
    default:
      if (v === null) return "None";
      if (v instanceof PyFloat) return pyFloatRepr(v.value);
      if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
      if (isJsonObject(v)) {
        const parts: string[] = [];
        for (const key of Object.keys(v)) parts.push(`${pyStrRepr(key)}: ${pyRepr(v[key])}`);
        return `{${parts.join(", ")}}`;
      }
      return String(v);
  }
}

// ---------------------------------------------------------------------------------------------------
// Equality

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  // Mixed bigint/number `==` compares mathematical values exactly; NaN equals nothing.
  // biome-ignore lint/suspicious/noDoubleEquals: exact bigint/number comparison
  return typeof a === typeof b ? a === b : a == b;
}

/** Python `a == b` (a bare comparison: `nan == nan` is false). `undefined` equals nothing. */
export function pyEquals(a: PyValue, b: PyValue): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a === undefined || b === undefined) return false;
  if (a === null || b === null) return a === b;
  if (isPyNumber(a)) return isPyNumber(b) && numbersEqual(numericValue(a), numericValue(b));
  if (isPyNumber(b)) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pySameOrEquals(a[i], b[i])) return false;
    return true;
  }
  if (isJsonObject(a)) {
    if (!isJsonObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(b, key) || !pySameOrEquals(a[key], b[key])) return false;
    }
    return true;
  }
  return a === b;
}

/**
 * The comparison Python uses inside containers (`x in list`, list and dict `==`): identity first, then
 * `==`. Differs from {@link pyEquals} only for NaN, which the `json` module shares as one object.
 */
export function pySameOrEquals(a: PyValue, b: PyValue): boolean {
  if (a === b) return a !== undefined;
  if (isFloatNaN(a) && isFloatNaN(b)) return true;
  return pyEquals(a, b);
}

function isFloatNaN(v: PyValue): boolean {
  return (typeof v === "number" && Number.isNaN(v)) || (v instanceof PyFloat && Number.isNaN(v.value));
}

/** Python `item in list` (identity-or-equality per element). */
export function pyListContains(list: readonly unknown[], item: PyValue): boolean {
  for (const element of list) if (pySameOrEquals(element, item)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------------
// Ordering

export type CompareOp = "<" | "<=" | ">" | ">=";

/** Compare two strings by code point (Python order), not by UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800–DFFF) stand for code points above FFFF, so they sort after E000–FFFF.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) {
        // A lone low/high surrogate is itself a code point D800–DFFF; a pair is ≥ 0x10000.
        const cx = a.codePointAt(i)!;
        const cy = b.codePointAt(i)!;
        return cx < cy ? -1 : 1;
      }
      if (xs && ys) {
        const cx = a.codePointAt(i)!;
        const cy = b.codePointAt(i)!;
        if (cx !== cy) return cx < cy ? -1 : 1;
        return x < y ? -1 : 1;
      }
      return x < y ? -1 : 1;
    }
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function applyOp(cmp: number, op: CompareOp): boolean {
  switch (op) {
    case "<":
      return cmp < 0;
    case "<=":
      return cmp <= 0;
    case ">":
      return cmp > 0;
    case ">=":
      return cmp >= 0;
  }
}

function compareNumbers(a: number | bigint, b: number | bigint, op: CompareOp): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}

/**
 * Python `a <op> b`. Returns `undefined` where Python raises TypeError (values not orderable: str vs
 * number, None, dicts, `_Undefined`, mixed types). Numbers (incl. bool) compare numerically and exactly,
 * strings by code point, lists lexicographically.
 */
export function pyCompare(a: PyValue, b: PyValue, op: CompareOp): boolean | undefined {
  if (typeof a === "string") return typeof b === "string" ? applyOp(compareCodePoints(a, b), op) : undefined;
  if (isPyNumber(a)) return isPyNumber(b) ? compareNumbers(numericValue(a), numericValue(b), op) : undefined;
  if (Array.isArray(a)) {
    if (!Array.isArray(b)) return undefined;
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!pySameOrEquals(a[i], b[i])) return pyCompare(a[i], b[i], op);
    }
    return compareNumbers(a.length, b.length, op);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Arithmetic: `a % b`

/** Python float `%`: C fmod, then the result takes the sign of the divisor. */
function floatMod(a: number, b: number): number {
  let mod = a % b;
  if (mod !== 0) {
    if (b < 0 !== mod < 0) mod += b;
  } else {
    mod = b < 0 ? -0 : 0;
  }
  return mod;
}

function toFloat(v: number | bigint): number {
  if (typeof v === "number") return v;
  const f = Number(v);
  if (!Number.isFinite(f)) throw new QueryError("int too large to convert to float", "OverflowError");
  return f;
}

/**
 * Python `a % b` for the values a filter can hold. Numbers use floor modulo (result has the sign of the
 * divisor; float if either side is a float). Raises like Python: ZeroDivisionError, TypeError for
 * non-numbers. For a str left operand Python does printf-style formatting: a string without `%` is
 * returned unchanged when the right operand is a list or dict and raises TypeError otherwise; strings
 * containing `%` are not emulated (QueryError of type "Unsupported").
 */
export function pyMod(a: PyValue, b: PyValue): PyValue {
  if (isPyNumber(a) && isPyNumber(b)) {
    const x = numericValue(a);
    const y = numericValue(b);
    if (isFloatValue(a) || isFloatValue(b)) {
      const fx = toFloat(x);
      const fy = toFloat(y);
      if (fy === 0) throw new QueryError("float modulo", "ZeroDivisionError");
      return floatMod(fx, fy);
    }
    if (typeof x === "number" && typeof y === "number") {
      if (y === 0) throw new QueryError("integer division or modulo by zero", "ZeroDivisionError");
      if (Number.isSafeInteger(x) && Number.isSafeInteger(y)) {
        const r = x % y;
        return r !== 0 && r < 0 !== y < 0 ? r + y : r === 0 ? 0 : r;
      }
    }
    const bx = BigInt(x);
    const by = BigInt(y);
    if (by === 0n) throw new QueryError("integer division or modulo by zero", "ZeroDivisionError");
    let r = bx % by;
    if (r !== 0n && r < 0n !== by < 0n) r += by;
    return Number.isSafeInteger(Number(r)) ? Number(r) : r;
  }
  if (typeof a === "string") {
    if (a.includes("%")) {
      throw new QueryError("printf-style formatting of a str header by $mod is not emulated", "Unsupported");
    }
    if (Array.isArray(b) || isJsonObject(b)) return a;
    throw typeError("not all arguments converted during string formatting");
  }
  throw typeError(`unsupported operand type(s) for %: '${pyTypeName(a)}' and '${pyTypeName(b)}'`);
}

// ---------------------------------------------------------------------------------------------------
// Misc

/** Python truthiness. */
export function pyTruthy(v: PyValue): boolean {
  if (v === undefined) return true; // an object instance
  if (v === null) return false;
  switch (typeof v) {
    case "boolean":
      return v;
    case "number":
      return v !== 0; // NaN is truthy
    case "bigint":
      return v !== 0n;
    case "string":
      return v.length > 0;
    default:
      if (v instanceof PyFloat) return v.value !== 0;
      if (Array.isArray(v)) return v.length > 0;
      if (isJsonObject(v)) return Object.keys(v).length > 0;
      return true;
  }
}

/**
 * Python `key in container` for a str `key`: dict → key test, list → element equality, str → substring;
 * anything else raises TypeError ("argument of type ... is not iterable").
 */
export function pyContainsKey(container: PyValue, key: string): boolean {
  if (isJsonObject(container)) return Object.hasOwn(container, key);
  if (Array.isArray(container)) return pyListContains(container, key);
  if (typeof container === "string") return container.includes(key) && substringByCodePoints(container, key);
  throw typeError(`argument of type '${pyTypeName(container)}' is not iterable`);
}

function substringByCodePoints(haystack: string, needle: string): boolean {
  // UTF-16 `includes` can match half of a surrogate pair; Python works on code points.
  if (!/[\ud800-\udfff]/.test(needle)) return true;
  const h = Array.from(haystack);
  const n = Array.from(needle);
  outer: for (let i = 0; i + n.length <= h.length; i++) {
    for (let j = 0; j < n.length; j++) if (h[i + j] !== n[j]) continue outer;
    return true;
  }
  return false;
}

// Python str.isspace() characters (what int() strips).
const PY_SPACE_CLASS =
  "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_INT_RE = new RegExp(
  `^[${PY_SPACE_CLASS}]*([+-]?)(\\p{Nd}+(?:_\\p{Nd}+)*)[${PY_SPACE_CLASS}]*$`,
  "u",
);
const ND = /\p{Nd}/u;
/** Python's limit on int() of a decimal string (sys.get_int_max_str_digits() default). */
const INT_MAX_STR_DIGITS = 4300;

/** The value 0–9 of a Unicode decimal digit (Nd digits come in contiguous runs of ten from 0). */
function digitValue(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  let start = cp;
  while (ND.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

/**
 * Python `int(s)` for a str: surrounding whitespace, an optional sign, decimal digits (any script) with
 * single underscores between them. Returns `undefined` where Python raises ValueError.
 */
export function parsePyInt(s: string): number | bigint | undefined {
  const m = PY_INT_RE.exec(s);
  if (!m) return undefined;
  let digits = m[2]!.replaceAll("_", "");
  if (!/^[0-9]*$/.test(digits)) {
    digits = Array.from(digits, (c) => String(digitValue(c.codePointAt(0)!))).join("");
  }
  if (digits.length > INT_MAX_STR_DIGITS) return undefined;
  const value = m[1] === "-" ? -BigInt(digits) : BigInt(digits);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

// Characters with Numeric_Type=Digit (str.isdigit() but not str.isdecimal()), Unicode 14.
const DIGIT_NOT_DECIMAL =
  "\\xb2\\xb3\\xb9\\u1369-\\u1371\\u19da\\u2070\\u2074-\\u2079\\u2080-\\u2089\\u2460-\\u2468\\u2474-\\u247c" +
  "\\u2488-\\u2490\\u24ea\\u24f5-\\u24fd\\u24ff\\u2776-\\u277e\\u2780-\\u2788\\u278a-\\u2792" +
  "\\u{10a40}-\\u{10a43}\\u{10e60}-\\u{10e68}\\u{11052}-\\u{1105a}\\u{1f100}-\\u{1f10a}";
const IS_DIGIT_RE = new RegExp(`^[\\p{Nd}${DIGIT_NOT_DECIMAL}]+$`, "u");

/** Python `str.isdigit()`. */
export function pyIsDigit(s: string): boolean {
  return IS_DIGIT_RE.test(s);
}

/**
 * JSON writer producing the exact bytes of Python's `json.dumps(value, sort_keys=True)` with the default
 * settings: separators `", "` and `": "`, ASCII-only output (`\uXXXX` with lowercase hex, astral
 * characters as surrogate pairs), floats in Python `repr` form, exact big integers, and the bare tokens
 * `NaN`, `Infinity`, `-Infinity`. See values.ts for how JavaScript values map to Python numbers.
 */
import { pyFloatJson } from "./float.js";
import { sortKeysByCodePoint } from "./keys.js";
import { keysInInsertionOrder } from "./order.js";
import { MAX_NESTING_DEPTH } from "./parse.js";
import { PyFloat } from "./values.js";

export interface StringifyOptions {
  /**
   * Sort object keys by code point at every level, like `sort_keys=True` (default `true`). With `false`
   * the property order of the objects is kept. JavaScript itself enumerates array-index keys ("0", "9",
   * "10") numerically ahead of all other keys; for objects returned by {@link parse} the text order is
   * remembered and used, for other objects the JavaScript order is what you get.
   */
  sortKeys?: boolean;
}

/** Thrown for values that cannot be written as JSON: functions, symbols, circular or over-deep structures, unsupported objects. */
export class JsonStringifyError extends TypeError {
  readonly code = "JSON_STRINGIFY_ERROR" as const;

  /**
   * @param reason what is wrong, e.g. "a function"
   * @param path where, e.g. `payload.foo[2]` (`(root)` for the value itself)
   */
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(`Cannot serialise ${reason} at ${path} as JSON`);
    this.name = "JsonStringifyError";
  }
}

/** Internal: carries a failure up the stack, collecting the path on the way. */
class Failure {
  /** Keys from the failing value up to the root (reverse order). */
  readonly keys: (string | number)[] = [];
  /** The containers on the way up (same order as keys), used to find cycles. */
  readonly containers: object[] = [];
  constructor(readonly reason: string) {}
}

/**
 * Serialises a value as Python's `json.dumps(value, sort_keys=True)` would (see the module comment).
 *
 * Objects with a `toJSON()` method (resources, `Date`) are replaced by its result, as `JSON.stringify`
 * does. `undefined` object members are left out; `undefined` array elements become `null`. Functions,
 * symbols, `undefined` at the top level, circular structures, nesting deeper than
 * {@link MAX_NESTING_DEPTH} and objects other than plain objects, arrays, {@link PyFloat} and boxed
 * primitives (a `Map`, a `Uint8Array`, a class instance without `toJSON`) throw a {@link JsonStringifyError}.
 */
export function stringify(value: unknown, options?: StringifyOptions): string {
  const sort = options?.sortKeys ?? true;
  try {
    let v = value;
    if (typeof v === "object" && v !== null) v = resolve(v, "");
    if (v === undefined) throw new Failure("undefined");
    return valueJson(v, sort, 0);
  } catch (e) {
    if (e instanceof Failure) throw toError(e);
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new JsonStringifyError(
        "a value nested too deeply for the call stack (or a recursive toJSON())",
        "(unknown)",
      );
    }
    throw e;
  }
}

/** Applies toJSON() to objects that have one (never to arrays and PyFloat). */
function resolve(v: object, key: string): unknown {
  if (Array.isArray(v) || v instanceof PyFloat) return v;
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  return typeof toJSON === "function" ? toJSON.call(v, key) : v;
}

// The writers return their text; building it by concatenation (V8 ropes) measured faster than appending
// to shared state, and keeps stringify() reentrant (toJSON() may call it).

/** `v` must not be undefined and, if an object, already passed through resolve(). */
function valueJson(v: unknown, sort: boolean, depth: number): string {
  switch (typeof v) {
    case "string":
      return quote(v);
    case "number":
      return numberJson(v);
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      return v.toString();
    case "object":
      if (v === null) return "null";
      if (Array.isArray(v)) return arrayJson(v, sort, depth);
      if (v instanceof PyFloat) return pyFloatJson(v.value);
      return objectJson(v, sort, depth);
    case "function":
      throw new Failure("a function");
    case "symbol":
      throw new Failure("a symbol");
    default:
      throw new Failure(typeof v);
  }
}

function arrayJson(arr: readonly unknown[], sort: boolean, depth: number): string {
  if (++depth > MAX_NESTING_DEPTH) throw new Failure("nesting");
  const n = arr.length;
  if (n === 0) return "[]";
  let i = 0;
  try {
    let res = "[";
    for (; i < n; i++) {
      let v = arr[i];
      if (typeof v === "object" && v !== null) v = resolve(v, String(i));
      const part = v === undefined ? "null" : valueJson(v, sort, depth);
      res += i === 0 ? part : ", " + part;
    }
    return res + "]";
  } catch (e) {
    if (e instanceof Failure) {
      e.keys.push(i);
      e.containers.push(arr);
    }
    throw e;
  }
}

function objectJson(obj: object, sort: boolean, depth: number): string {
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return unusualObjectJson(obj);
  if (++depth > MAX_NESTING_DEPTH) throw new Failure("nesting");
  let keys: string[];
  if (sort) {
    keys = Object.keys(obj);
    if (keys.length > 1) sortKeysByCodePoint(keys);
  } else {
    keys = keysInInsertionOrder(obj);
  }
  let key = "";
  try {
    let res = "{";
    for (let i = 0; i < keys.length; i++) {
      key = keys[i] as string;
      let v = (obj as Record<string, unknown>)[key];
      if (typeof v === "object" && v !== null) v = resolve(v, key);
      if (v === undefined) continue;
      const member = memberPrefix(key) + valueJson(v, sort, depth);
      res += res.length === 1 ? member : ", " + member;
    }
    return res + "}";
  } catch (e) {
    if (e instanceof Failure) {
      e.keys.push(key);
      e.containers.push(obj);
    }
    throw e;
  }
}

// Quoted keys with their ": ", cached because the same few names recur in every document.
const MEMBER_PREFIXES = new Map<string, string>();
const MEMBER_PREFIX_CACHE_SIZE = 4096;
const MEMBER_PREFIX_MAX_KEY = 64;

function memberPrefix(key: string): string {
  let prefix = MEMBER_PREFIXES.get(key);
  if (prefix === undefined) {
    prefix = quote(key) + ": ";
    if (key.length <= MEMBER_PREFIX_MAX_KEY) {
      if (MEMBER_PREFIXES.size >= MEMBER_PREFIX_CACHE_SIZE) MEMBER_PREFIXES.clear();
      MEMBER_PREFIXES.set(key, prefix);
    }
  }
  return prefix;
}

/** Boxed primitives are unwrapped like JSON.stringify does; anything else without toJSON is refused. */
function unusualObjectJson(obj: object): string {
  if (obj instanceof Number) return numberJson(obj.valueOf());
  if (obj instanceof String) return quote(obj.valueOf());
  if (obj instanceof Boolean) return obj.valueOf() ? "true" : "false";
  if (obj instanceof BigInt) return obj.valueOf().toString();
  throw new Failure(`an object of type ${obj.constructor?.name ?? "unknown"} (no toJSON method)`);
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A JavaScript number: integral values as Python ints (except -0), others as Python float repr. */
function numberJson(n: number): string {
  if (Number.isInteger(n)) {
    if (n === 0) return Object.is(n, -0) ? "-0.0" : "0";
    if (n <= MAX_SAFE && n >= -MAX_SAFE) return "" + n;
    // Beyond 2^53 String() rounds the digits ("1152921504606847000"); Python writes the exact value.
    return BigInt(n).toString();
  }
  return pyFloatJson(n);
}

// Escapes of U+0000..U+001F: Python's short forms where it has them, else \u00XX.
const ESCAPES: string[] = [];
for (let c = 0; c < 0x20; c++) ESCAPES.push("\\u" + c.toString(16).padStart(4, "0"));
ESCAPES[0x08] = "\\b";
ESCAPES[0x09] = "\\t";
ESCAPES[0x0a] = "\\n";
ESCAPES[0x0c] = "\\f";
ESCAPES[0x0d] = "\\r";
const HEX2: string[] = [];
for (let b = 0; b < 256; b++) HEX2.push(b.toString(16).padStart(2, "0"));

// Anything Python's ensure_ascii output escapes: '"', '\\', control characters, DEL and non-ASCII.
// A regular expression scans faster than a charCodeAt loop, whatever the string's representation.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;

/** A string as Python's json module writes it with ensure_ascii=True. */
export function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? quoteSlow(s) : '"' + s + '"';
}

// Printable ASCII apart from '"' and '\\' (e.g. JSON text quoted inside JSON, like the `task` of a
// log record): only those two need escaping, which a native replace does much faster than a loop.
const NEEDS_LOOP = /[\u0000-\u001f\u007f-\uffff]/;
const QUOTE_OR_BACKSLASH = /["\\]/g;

function quoteSlow(s: string): string {
  if (!NEEDS_LOOP.test(s)) return `"${s.replace(QUOTE_OR_BACKSLASH, "\\$&")}"`;
  const len = s.length;
  let res = '"';
  let run = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    let esc: string;
    if (c < 0x20) esc = ESCAPES[c] as string;
    else if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = "\\\\";
    else if (c > 0x7e) esc = "\\u" + HEX2[c >> 8] + HEX2[c & 0xff];
    else continue;
    if (run !== i) res += s.slice(run, i);
    res += esc;
    run = i + 1;
  }
  if (run !== len) res += s.slice(run);
  return res + '"';
}

function toError(f: Failure): JsonStringifyError {
  // keys/containers were collected from the failing value upwards; turn them root-first.
  const keys = f.keys.slice().reverse();
  const containers = f.containers.slice().reverse();
  if (f.reason === "nesting") {
    for (let j = 1; j < containers.length; j++) {
      const i = containers.indexOf(containers[j] as object);
      if (i < j) {
        return new JsonStringifyError(
          `a circular structure (it refers back to ${formatPath(keys.slice(0, i))})`,
          formatPath(keys.slice(0, j)),
        );
      }
    }
    return new JsonStringifyError(`nesting deeper than ${MAX_NESTING_DEPTH} levels`, formatPath(keys));
  }
  return new JsonStringifyError(f.reason, formatPath(keys));
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `payload.foo[2]["odd key"]`; `(root)` for an empty path. */
export function formatPath(keys: readonly (string | number)[]): string {
  let p = "";
  for (const k of keys) {
    if (typeof k === "number") p += `[${k}]`;
    else if (IDENTIFIER.test(k)) p += p === "" ? k : `.${k}`;
    else p += `[${JSON.stringify(k)}]`;
  }
  return p === "" ? "(root)" : p;
}

/**
 * Lossless, strict JSON parser for task documents (see values.ts for the value model).
 *
 * Accepts exactly what Python's `json.loads` accepts with its defaults: RFC 8259 JSON plus the tokens
 * `NaN`, `Infinity` and `-Infinity`; whitespace is space, tab, CR and LF; raw control characters
 * (U+0000..U+001F) inside strings are rejected; duplicate keys keep the first position and the last
 * value. Integers keep their exact value (`bigint` beyond ±(2^53-1)); floats with an integral value
 * become {@link PyFloat} so they can be written back as `1.0`.
 */
import { isArrayIndexKey, rememberKeyOrder } from "./order.js";
import { type JsonArray, type JsonObject, type JsonValue, PyFloat } from "./values.js";

/**
 * Maximum nesting of arrays and objects, for parse() and stringify(). Python's own encoder and decoder
 * give up a little below 1000 levels (its recursion limit), so every document Python can write or read
 * fits, and the recursion stays well inside Node's default stack.
 */
export const MAX_NESTING_DEPTH = 1000;

/** Thrown for any text that is not a valid (Python-flavoured) JSON document. */
export class JsonParseError extends SyntaxError {
  readonly code = "JSON_PARSE_ERROR" as const;

  /**
   * @param expected what the parser expected at `position`, e.g. `"',' or '}' after an object member"`
   * @param position offset (in UTF-16 code units) of the offending character in the input
   */
  constructor(
    readonly expected: string,
    readonly position: number,
    text: string,
  ) {
    super(
      `Expected ${expected} at offset ${position}, found ${describeAt(text, position)}: ${excerpt(text, position)}`,
    );
    this.name = "JsonParseError";
  }
}

const EXCERPT_RADIUS = 24;

function describeAt(text: string, position: number): string {
  if (position >= text.length) return "end of input";
  const c = text.charCodeAt(position);
  if (c < 0x20 || c === 0x7f) return `control character U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
  return `'${text.charAt(position)}'`;
}

/** `...text before>>>text after...`, with control characters shown as escapes. */
function excerpt(text: string, position: number): string {
  const from = Math.max(0, position - EXCERPT_RADIUS);
  const to = Math.min(text.length, position + EXCERPT_RADIUS);
  const show = (s: string) =>
    s.replace(/[\u0000-\u001f\u007f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return (
    (from > 0 ? "..." : "") +
    show(text.slice(from, position)) +
    ">>>" +
    show(text.slice(position, to)) +
    (to < text.length ? "..." : "")
  );
}

// Parser state. parse() never calls out to user code, so one set of module variables is enough.
let src = "";
let pos = 0;
let depth = 0;

function fail(expected: string, at: number = pos): never {
  throw new JsonParseError(expected, at, src);
}

/** Parses one JSON document. Throws {@link JsonParseError} on invalid input, including trailing data. */
export function parse(text: string): JsonValue {
  if (typeof text !== "string") throw new TypeError(`parse() expects a string, got ${typeof text}`);
  src = text;
  pos = 0;
  depth = 0;
  try {
    skipWhitespace();
    const value = parseValue();
    skipWhitespace();
    if (pos < src.length) fail("end of input after the JSON value");
    return value;
  } catch (e) {
    // Only possible when parse() is called with most of the stack already used.
    if (e instanceof RangeError && /call stack/i.test(e.message))
      fail("less deeply nested data (call stack exhausted)");
    throw e;
  } finally {
    src = "";
  }
}

function skipWhitespace(): void {
  let c = src.charCodeAt(pos);
  // Space, tab, LF, CR. NaN (end of input) fails every comparison.
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = src.charCodeAt(++pos);
}

function parseValue(): JsonValue {
  const c = src.charCodeAt(pos);
  switch (c) {
    case 0x22: // "
      pos++;
      return parseString();
    case 0x7b: // {
      return parseObject();
    case 0x5b: // [
      return parseArray();
    case 0x74: // t
      return literal("true", true);
    case 0x66: // f
      return literal("false", false);
    case 0x6e: // n
      return literal("null", null);
    case 0x4e: // N
      return literal("NaN", Number.NaN);
    case 0x49: // I
      return literal("Infinity", Number.POSITIVE_INFINITY);
    case 0x2d: // -
      if (src.charCodeAt(pos + 1) === 0x49) return literal("-Infinity", Number.NEGATIVE_INFINITY);
      return parseNumber();
    default:
      if (c >= 0x30 && c <= 0x39) return parseNumber();
      return fail("a JSON value");
  }
}

function literal<T extends JsonValue>(token: string, value: T): T {
  if (!src.startsWith(token, pos)) fail(`a JSON value (${token}?)`);
  pos += token.length;
  return value;
}

function parseArray(): JsonArray {
  if (++depth > MAX_NESTING_DEPTH) fail(`at most ${MAX_NESTING_DEPTH} levels of nesting`);
  pos++; // [
  const arr: JsonArray = [];
  skipWhitespace();
  if (src.charCodeAt(pos) === 0x5d) {
    pos++;
    depth--;
    return arr;
  }
  for (;;) {
    arr.push(parseValue());
    skipWhitespace();
    const c = src.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      skipWhitespace();
      if (src.charCodeAt(pos) === 0x5d) fail("a JSON value after ',' (trailing comma)");
      continue;
    }
    if (c === 0x5d) {
      pos++;
      depth--;
      return arr;
    }
    fail("',' or ']' after an array element");
  }
}

function parseObject(): JsonObject {
  if (++depth > MAX_NESTING_DEPTH) fail(`at most ${MAX_NESTING_DEPTH} levels of nesting`);
  pos++; // {
  const obj: JsonObject = {};
  skipWhitespace();
  if (src.charCodeAt(pos) === 0x7d) {
    pos++;
    depth--;
    return obj;
  }
  // The text order of the keys, kept only once an array-index key ("10") shows up, because JavaScript
  // enumerates those first (see order.ts).
  let order: string[] | undefined;
  for (;;) {
    if (src.charCodeAt(pos) !== 0x22) {
      fail(
        src.charCodeAt(pos) === 0x7d
          ? "a property name after ',' (trailing comma)"
          : "a property name enclosed in double quotes",
      );
    }
    pos++;
    const key = parseKey();
    if (order !== undefined) {
      if (!Object.hasOwn(obj, key)) order.push(key);
    } else {
      const k0 = key.charCodeAt(0);
      if (k0 >= 0x30 && k0 <= 0x39 && isArrayIndexKey(key)) {
        order = Object.keys(obj);
        if (!Object.hasOwn(obj, key)) order.push(key);
      }
    }
    skipWhitespace();
    if (src.charCodeAt(pos) !== 0x3a) fail("':' after a property name");
    pos++;
    skipWhitespace();
    const value = parseValue();
    if (key === "__proto__") {
      // Plain assignment would replace the prototype; define an own data property instead.
      Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      obj[key] = value;
    }
    skipWhitespace();
    const c = src.charCodeAt(pos);
    if (c === 0x2c) {
      pos++;
      skipWhitespace();
      continue;
    }
    if (c === 0x7d) {
      pos++;
      depth--;
      if (order !== undefined) rememberKeyOrder(obj, order);
      return obj;
    }
    fail("',' or '}' after an object member");
  }
}

// Recently seen short keys, found by a hash of their characters. Reusing them saves a slice and the
// look-up V8 does to internalize a new string used as a property name (about 10% on task documents).
const KEY_CACHE_SIZE = 1024; // a power of two
const KEY_CACHE_MAX_LENGTH = 40;
const keyCache: string[] = new Array<string>(KEY_CACHE_SIZE).fill("");

/** The internalized (flat, independent of the input text) version of a property name. */
function internKey(key: string): string {
  // Null prototype: "__proto__" becomes an ordinary property.
  const o = Object.create(null) as Record<string, number>;
  o[key] = 0;
  return Object.keys(o)[0] as string;
}

/** Parses an object key whose opening quote was just consumed. */
function parseKey(): string {
  const start = pos;
  const len = src.length;
  let h = 0;
  for (let i = start; i < len; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      const n = i - start;
      if (n > KEY_CACHE_MAX_LENGTH) break;
      pos = i + 1;
      const slot = (h ^ n) & (KEY_CACHE_SIZE - 1);
      const cached = keyCache[slot] as string;
      if (cached.length === n && src.startsWith(cached, start)) return cached;
      const key = internKey(src.slice(start, i));
      keyCache[slot] = key;
      return key;
    }
    if (c === 0x5c || c < 0x20) break;
    h = (h * 31 + c) | 0;
  }
  // Escapes, control characters, long keys, unterminated: the general string parser.
  return parseString();
}

// A run of characters that need no attention inside a string. Scanning with a regular expression is much
// faster than a charCodeAt loop on long strings, but costs a call, so short strings are scanned by hand.
const STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const STRING_QUICK_SCAN = 16;

/** Parses a string whose opening quote was just consumed. */
function parseString(): string {
  const start = pos;
  const len = src.length;
  const quickEnd = Math.min(start + STRING_QUICK_SCAN, len);
  let i = start;
  for (; i < quickEnd; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      pos = i + 1;
      return src.slice(start, i);
    }
    if (c === 0x5c) return parseEscapedString(start, i);
    if (c < 0x20) fail("a string character (control characters must be escaped)", i);
  }
  STRING_RUN.lastIndex = i;
  STRING_RUN.test(src);
  i = STRING_RUN.lastIndex;
  const c = src.charCodeAt(i);
  if (c === 0x22) {
    pos = i + 1;
    return src.slice(start, i);
  }
  if (c === 0x5c) return parseEscapedString(start, i);
  if (c < 0x20) fail("a string character (control characters must be escaped)", i);
  return fail("a closing '\"' for the string", start - 1);
}

/** The slow path: `start` is the first character of the string, `i` the first backslash. */
function parseEscapedString(start: number, i: number): string {
  const len = src.length;
  let out = "";
  let run = start;
  while (i < len) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      pos = i + 1;
      return run === i ? out : out + src.slice(run, i);
    }
    if (c === 0x5c) {
      if (run !== i) out += src.slice(run, i);
      const e = src.charCodeAt(i + 1);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += "\\";
          break;
        case 0x2f:
          out += "/";
          break;
        case 0x62:
          out += "\b";
          break;
        case 0x66:
          out += "\f";
          break;
        case 0x6e:
          out += "\n";
          break;
        case 0x72:
          out += "\r";
          break;
        case 0x74:
          out += "\t";
          break;
        case 0x75: {
          // Surrogate halves are kept as code units, so an escaped pair joins up by itself and a lone
          // surrogate stays lone, as in Python.
          const code = hex4(i + 2);
          if (code < 0) fail("4 hex digits after '\\u'", i);
          out += String.fromCharCode(code);
          i += 6;
          run = i;
          continue;
        }
        default:
          if (i + 1 >= len) fail("a closing '\"' for the string", start - 1);
          fail('a valid escape (one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)', i);
      }
      i += 2;
      run = i;
      continue;
    }
    if (c < 0x20) fail("a string character (control characters must be escaped)", i);
    i++;
  }
  return fail("a closing '\"' for the string", start - 1);
}

/** Value of the four hex digits at `at`, or -1. */
function hex4(at: number): number {
  let v = 0;
  for (let k = at; k < at + 4; k++) {
    const c = src.charCodeAt(k);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

function parseNumber(): number | bigint | PyFloat {
  const start = pos;
  let i = pos;
  let c = src.charCodeAt(i);
  const negative = c === 0x2d;
  if (negative) c = src.charCodeAt(++i);
  let v = 0;
  if (c === 0x30) {
    c = src.charCodeAt(++i);
    if (c >= 0x30 && c <= 0x39) fail("no leading zeros in a number", i - 1);
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      v = v * 10 + (c - 0x30);
      c = src.charCodeAt(++i);
    } while (c >= 0x30 && c <= 0x39);
  } else {
    fail(negative ? "a digit after '-'" : "a JSON value", i);
  }
  const intEnd = i;
  let isFloat = false;
  if (c === 0x2e) {
    c = src.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) fail("a digit after the decimal point", i);
    do c = src.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
    isFloat = true;
  }
  if (c === 0x65 || c === 0x45) {
    c = src.charCodeAt(++i);
    if (c === 0x2b || c === 0x2d) c = src.charCodeAt(++i);
    if (!(c >= 0x30 && c <= 0x39)) fail("a digit in the exponent", i);
    do c = src.charCodeAt(++i);
    while (c >= 0x30 && c <= 0x39);
    isFloat = true;
  }
  pos = i;
  if (!isFloat) {
    // Up to 15 digits the accumulated value is exact. Python's int("-0") is 0, not -0.
    if (intEnd - start <= 15) return negative ? 0 - v : v;
    const text = src.slice(start, i);
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  const f = Number(src.slice(start, i));
  // -0 stays a number (values.ts: it is a float already); other integral floats need a PyFloat.
  if (f === 0) return Object.is(f, -0) ? f : new PyFloat(0);
  return Number.isInteger(f) ? new PyFloat(f) : f;
}

/**
 * Value conversions with Python's rules (`configparser` booleans, `int()`, `float()`).
 * Each returns `undefined` for a value it does not accept; callers build the error message.
 */

/** A configuration value: text from files and environment, native values from arguments/dicts. */
export type ConfigValue = string | number | boolean;

const TRUE_WORDS: ReadonlySet<string> = new Set(["1", "yes", "true", "on"]);
const FALSE_WORDS: ReadonlySet<string> = new Set(["0", "no", "false", "off"]);

/** `1/yes/true/on` → true, `0/no/false/off` → false (case-insensitive); numbers 1 and 0 too. */
export function toBoolean(value: ConfigValue): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : undefined;
  const word = value.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

// Python int(): surrounding whitespace, optional sign, decimal digits with single "_" between them.
const INTEGER = /^[+-]?\d+(?:_\d+)*$/;

/** Python `int(value)` for base-10 text; only safe integers are accepted. */
export function toInteger(value: ConfigValue): number | undefined {
  if (typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isSafeInteger(value) ? value : undefined;
  const text = value.trim();
  if (!INTEGER.test(text)) return undefined;
  const result = Number(text.replaceAll("_", ""));
  return Number.isSafeInteger(result) ? result : undefined;
}

const DIGITS = String.raw`\d(?:_?\d)*`;
const FLOAT = new RegExp(
  String.raw`^[+-]?(?:${DIGITS}(?:\.(?:${DIGITS})?)?|\.${DIGITS})(?:[eE][+-]?${DIGITS})?$`,
);
const SPECIAL_FLOAT = /^([+-]?)(inf|infinity|nan)$/i;

/** Python `float(value)`: decimal and exponent forms, `inf`, `infinity`, `nan`. */
export function toFloat(value: ConfigValue): number | undefined {
  if (typeof value === "boolean") return undefined;
  if (typeof value === "number") return value;
  const text = value.trim();
  const special = SPECIAL_FLOAT.exec(text);
  if (special) {
    if ((special[2] as string).toLowerCase() === "nan") return Number.NaN;
    return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (!FLOAT.test(text)) return undefined;
  return Number(text.replaceAll("_", ""));
}

/** Text form of a value (`true`/`false` for booleans). */
export function valueToString(value: ConfigValue): string {
  return typeof value === "string" ? value : String(value);
}

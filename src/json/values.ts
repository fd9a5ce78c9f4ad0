/**
 * In-memory representation of JSON values read from or written to Karton task documents.
 *
 * Python writes numbers in ways JavaScript cannot keep with plain `number`s, and those differences
 * matter (filters coerce numbers with Python's `str()`, `$type` tells int from float, and a router
 * re-writes every document it routes). The mapping is:
 *
 * | JSON text                         | JavaScript value            | written back as        |
 * |-----------------------------------|-----------------------------|------------------------|
 * | integer within ±(2^53-1)          | `number` (integral)         | `123`                  |
 * | integer beyond that               | `bigint`                    | exact digits           |
 * | float with a fractional value     | `number` (non-integral)     | Python `repr` (`1e-05`)|
 * | float with an integral value      | {@link PyFloat}             | `1.0`, `1e+16`         |
 * | `-0.0`                            | `-0` (`number`)             | `-0.0`                 |
 * | `NaN`, `Infinity`, `-Infinity`    | `NaN`, `±Infinity`          | the same tokens        |
 *
 * TypeScript code that needs to write an integral float (`1.0`) wraps it: `new PyFloat(1)`.
 */
export class PyFloat {
  constructor(readonly value: number) {}

  valueOf(): number {
    return this.value;
  }

  toString(): string {
    return String(this.value);
  }
}

export type JsonPrimitive = null | boolean | number | bigint | PyFloat | string;
export type JsonArray = JsonValue[];
export interface JsonObject {
  [key: string]: JsonValue;
}
export type JsonValue = JsonPrimitive | JsonArray | JsonObject;

/** True for objects that are plain JSON objects (not arrays, PyFloat or class instances with toJSON). */
export function isJsonObject(value: unknown): value is JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True when a value is a float in Python's sense (see the table above). */
export function isPyFloat(value: unknown): boolean {
  if (value instanceof PyFloat) return true;
  return typeof value === "number" && (!Number.isInteger(value) || Object.is(value, -0));
}

/** True when a value is an integer in Python's sense (booleans excluded). */
export function isPyInt(value: unknown): boolean {
  return (
    typeof value === "bigint" ||
    (typeof value === "number" && Number.isInteger(value) && !Object.is(value, -0))
  );
}

/** The numeric value of any JSON number representation, as a JS number (bigints lose precision). */
export function toNumber(value: number | bigint | PyFloat): number {
  return typeof value === "number" ? value : Number(value instanceof PyFloat ? value.value : value);
}

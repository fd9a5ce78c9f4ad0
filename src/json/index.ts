/**
 * The lossless JSON module for Karton task documents: reads everything Python's `json` module writes
 * (big integers, `1.0` vs `1`, `NaN`/`Infinity`) and writes the exact bytes of
 * `json.dumps(..., sort_keys=True)`.
 */
export { pyFloatRepr } from "./float.js";
export { compareCodePoints } from "./keys.js";
export { JsonParseError, MAX_NESTING_DEPTH, parse } from "./parse.js";
export { JsonStringifyError, type StringifyOptions, stringify } from "./stringify.js";
export { decodeUtf8Escaped, undecodableMessage } from "./utf8.js";
export {
  isJsonObject,
  isPyFloat,
  isPyInt,
  type JsonArray,
  type JsonObject,
  type JsonPrimitive,
  type JsonValue,
  PyFloat,
  toNumber,
} from "./values.js";

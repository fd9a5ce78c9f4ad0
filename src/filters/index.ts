/**
 * Karton filters (spec §7): wire-compatible with karton-core 5.9.1.
 *
 * - {@link compileFilters}: validate and compile a consumer's filter list; `matches(headers)` is
 *   Python-exact and throws a {@link QueryError} where Python raises, `tryMatches` never throws.
 * - {@link matchFilters}: router-style one-shot matching that never throws (errors → no match).
 */
export {
  CompiledFilters,
  type CompileOptions,
  compileFilters,
  convertValue,
  type FilterErrorCallback,
  matchFilters,
  validateFilters,
} from "./compile.js";
export { FilterError, type FilterErrorLocation, type PythonErrorType, QueryError } from "./errors.js";
export {
  coercedEquals,
  compileCondition,
  compileMatch,
  extractPath,
  GlobCondition,
  KNOWN_OPERATORS,
  type Predicate,
} from "./evaluate.js";
export { compileGlob, globToRegExpSource, isGlobPattern } from "./glob.js";
export {
  compilePythonRegex,
  PythonRegexError,
  type RegexFlags,
  translatePythonRegex,
} from "./python-regex.js";
export {
  compareCodePoints,
  parsePyInt,
  pyCompare,
  pyEquals,
  pyFloatRepr,
  pyMod,
  pyRepr,
  pySameOrEquals,
  pyStr,
  pyStrRepr,
  pyTruthy,
  pyTypeName,
} from "./python-values.js";

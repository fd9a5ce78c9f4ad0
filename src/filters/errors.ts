/**
 * Errors raised by the filter engine.
 *
 * Two families share one base class:
 *
 * - {@link FilterError} itself is thrown by {@link compileFilters} when a filter list fails the eager
 *   validation a consumer runs at construction. Its message names the rule index and the key.
 * - {@link QueryError} is thrown while *evaluating* a filter, exactly where Python karton-core 5.9.1 would
 *   raise. `pythonType` tells which Python exception it stands for: only `"QueryError"` is caught by the
 *   Python router (spec §5.3); the others (`TypeError`, `NotImplementedError`, ...) crash Python. The
 *   TypeScript router and consumer treat every evaluation error as "no match" ({@link matchFilters}).
 */

/** Python exception classes that an evaluation error stands for. */
export type PythonErrorType =
  | "QueryError"
  | "TypeError"
  | "NotImplementedError"
  | "ZeroDivisionError"
  | "IndexError"
  | "KeyError"
  | "ValueError"
  | "OverflowError"
  | "RecursionError"
  | "AttributeError"
  /** A construct Python evaluates but this engine cannot reproduce (documented deviations). */
  | "Unsupported";

export interface FilterErrorLocation {
  /** Index of the rule in the filter list. */
  ruleIndex?: number;
  /** Top-level key of the rule. */
  key?: string;
}

/** Invalid filters (rejected by validation), and base class of all filter engine errors. */
export class FilterError extends Error {
  readonly code: string = "INVALID_FILTER";
  ruleIndex: number | undefined;
  key: string | undefined;

  constructor(message: string, location: FilterErrorLocation = {}) {
    super(message);
    this.name = "FilterError";
    this.ruleIndex = location.ruleIndex;
    this.key = location.key;
  }
}

/**
 * An error raised while evaluating a query, mirroring a Python exception (`pythonType`).
 * The message is the problem only; {@link locate} prefixes the rule index and key when known.
 */
export class QueryError extends FilterError {
  override readonly code: string = "QUERY_ERROR";
  readonly pythonType: PythonErrorType;
  /** The message without the location prefix. */
  readonly problem: string;

  constructor(
    problem: string,
    pythonType: PythonErrorType = "QueryError",
    location: FilterErrorLocation = {},
  ) {
    super(formatLocated(problem, location), location);
    this.name = "QueryError";
    this.pythonType = pythonType;
    this.problem = problem;
  }

  /** True when the Python router would catch this error (only `QueryError` is caught there). */
  get caughtByPythonRouter(): boolean {
    return this.pythonType === "QueryError";
  }

  /** A copy of this error carrying a rule location (used when the error leaves a compiled rule). */
  locate(location: FilterErrorLocation): QueryError {
    if (this.ruleIndex !== undefined) return this;
    return new QueryError(this.problem, this.pythonType, location);
  }
}

/** `filters[1].kind: problem`, `filters[1]: problem` or `problem`. */
export function formatLocated(problem: string, location: FilterErrorLocation): string {
  if (location.ruleIndex === undefined) return problem;
  const where =
    location.key === undefined
      ? `filters[${location.ruleIndex}]`
      : `filters[${location.ruleIndex}][${JSON.stringify(location.key)}]`;
  return `${where}: ${problem}`;
}

export const queryError = (problem: string): QueryError => new QueryError(problem, "QueryError");
export const typeError = (problem: string): QueryError => new QueryError(problem, "TypeError");

/**
 * Filter lists (spec §7.1/§7.2): rule conversion, eager validation and fast evaluation.
 *
 * A rule's string values become positive or negative (`"!..."`) conditions, with wildcard patterns
 * turned into `{"$regex": GLOB}`; everything else is a positive condition handed to the evaluator
 * unchanged. A task matches when some rule's positives all hold and no rule vetoes (positives hold and
 * some negative holds). Evaluation order is Python's — every rule's positives then negatives in the veto
 * pass, so an evaluation error is raised exactly when Python would raise it.
 */
import { isJsonObject, type JsonObject } from "../json/values.js";
import { FilterError, type FilterErrorLocation, QueryError } from "./errors.js";
import { compileCondition, GlobCondition, KNOWN_OPERATORS, type Predicate, typeTest } from "./evaluate.js";
import { isGlobPattern } from "./glob.js";
import { compilePythonRegex } from "./python-regex.js";
import { isIntValue, isPyNumber, type PyValue, pyRepr, pyTypeName } from "./python-values.js";

/** One rule after conversion. */
interface CompiledRule {
  readonly keys: readonly string[];
  readonly positives: readonly Predicate[];
  readonly positiveKeys: readonly string[];
  readonly negatives: readonly Predicate[];
  readonly negativeKeys: readonly string[];
}

/** Converts a rule value per §7.2: `[negative?, condition]`. */
export function convertValue(value: PyValue): { negative: boolean; condition: PyValue } {
  if (typeof value !== "string") return { negative: false, condition: value };
  const negative = value.startsWith("!");
  const s = negative ? value.slice(1) : value;
  return { negative, condition: isGlobPattern(s) ? { $regex: new GlobCondition(s) } : s };
}

function compileRule(rule: JsonObject): CompiledRule {
  const positives: Predicate[] = [];
  const positiveKeys: string[] = [];
  const negatives: Predicate[] = [];
  const negativeKeys: string[] = [];
  const keys = Object.keys(rule);
  for (const key of keys) {
    const { negative, condition } = convertValue(rule[key]);
    const pred = compileCondition(key, condition);
    if (negative) {
      negatives.push(pred);
      negativeKeys.push(key);
    } else {
      positives.push(pred);
      positiveKeys.push(key);
    }
  }
  return { keys, positives, positiveKeys, negatives, negativeKeys };
}

export type FilterErrorCallback = (error: QueryError) => void;

/** Compiled filters of one consumer / bind. */
export class CompiledFilters {
  /** The filter list as given. */
  readonly filters: unknown;
  readonly #rules: readonly CompiledRule[];
  /** Set when the list itself cannot be iterated as rules (Python fails before evaluating anything). */
  readonly #structuralError: QueryError | undefined;

  /** @internal use {@link compileFilters} */
  constructor(filters: unknown, rules: readonly CompiledRule[], structuralError?: QueryError) {
    this.filters = filters;
    this.#rules = rules;
    this.#structuralError = structuralError;
  }

  /** Number of rules. */
  get ruleCount(): number {
    return this.#rules.length;
  }

  /**
   * Python `Task.matches_filters`: true when the headers match. Throws a {@link QueryError} (with the
   * rule index and key) where Python would raise during evaluation.
   */
  matches(headers: JsonObject): boolean {
    if (this.#structuralError !== undefined) throw this.#structuralError;
    const rules = this.#rules;
    let anyPositive = false;
    let r = 0;
    let k = -1;
    let negative = false;
    try {
      for (; r < rules.length; r++) {
        const rule = rules[r]!;
        const positives = rule.positives;
        let ok = true;
        negative = false;
        for (k = 0; k < positives.length; k++) {
          if (!positives[k]!(headers)) {
            ok = false;
            break;
          }
        }
        if (!ok) continue;
        const negatives = rule.negatives;
        negative = true;
        for (k = 0; k < negatives.length; k++) {
          if (negatives[k]!(headers)) return false; // veto
        }
        anyPositive = true;
      }
    } catch (error) {
      const rule = rules[r];
      const key = rule === undefined ? undefined : (negative ? rule.negativeKeys : rule.positiveKeys)[k];
      throw locateError(error, { ruleIndex: r, key });
    }
    return anyPositive;
  }

  /** {@link matches} that never throws: an evaluation error counts as no match and is reported. */
  tryMatches(headers: JsonObject, onError?: FilterErrorCallback): boolean {
    try {
      return this.matches(headers);
    } catch (error) {
      onError?.(error instanceof QueryError ? error : asQueryError(error));
      return false;
    }
  }
}

function asQueryError(error: unknown): QueryError {
  if (error instanceof QueryError) return error;
  if (error instanceof RangeError)
    return new QueryError(`maximum recursion depth exceeded: ${error.message}`, "RecursionError");
  return new QueryError(error instanceof Error ? error.message : String(error), "Unsupported");
}

function locateError(error: unknown, location: FilterErrorLocation): QueryError {
  return asQueryError(error).locate(location);
}

export interface CompileOptions {
  /**
   * Validate eagerly (default true): throw a {@link FilterError} for filters that are not an array of
   * objects, unknown operators, bad regexes, and operator arguments Python would reject when evaluated.
   * With `validate: false` nothing is thrown at compile time and every problem surfaces at evaluation,
   * exactly where Python raises (use this for binds written by other processes).
   */
  validate?: boolean;
}

/** Compile a filter list (the `filters` of a consumer or bind). */
export function compileFilters(filters: unknown, options: CompileOptions = {}): CompiledFilters {
  if (options.validate !== false) validateFilters(filters);
  return compileLenient(filters);
}

function compileLenient(filters: unknown): CompiledFilters {
  // Python iterates the list (`for rule in filters`) and calls `rule.items()`.
  if (isJsonObject(filters) && Object.keys(filters).length === 0) return new CompiledFilters(filters, []);
  if (typeof filters === "string" && filters.length === 0) return new CompiledFilters(filters, []);
  if (!Array.isArray(filters)) {
    const type = pyTypeName(filters);
    const iterable = typeof filters === "string" || isJsonObject(filters);
    const problem = iterable
      ? `filters must be a list of objects, got ${type}`
      : `'${type}' object is not iterable (filters must be a list of objects)`;
    return new CompiledFilters(
      filters,
      [],
      new QueryError(problem, iterable ? "AttributeError" : "TypeError"),
    );
  }
  const rules: CompiledRule[] = [];
  for (let i = 0; i < filters.length; i++) {
    const rule = filters[i];
    if (!isJsonObject(rule)) {
      const problem = `rule must be an object, got ${pyTypeName(rule)}`;
      return new CompiledFilters(filters, [], new QueryError(problem, "AttributeError", { ruleIndex: i }));
    }
    rules.push(compileRule(rule));
  }
  return new CompiledFilters(filters, rules);
}

const lenientCache = new WeakMap<object, CompiledFilters>();

/**
 * Router-style matching: never throws. Any evaluation error (Python would raise QueryError, TypeError,
 * ...) makes the result false and is reported through `onError`. Compiled lists are cached per filters
 * object.
 */
export function matchFilters(filters: unknown, headers: JsonObject, onError?: FilterErrorCallback): boolean {
  let compiled: CompiledFilters | undefined;
  if (typeof filters === "object" && filters !== null) {
    compiled = lenientCache.get(filters);
    if (compiled === undefined) {
      compiled = compileLenient(filters);
      lenientCache.set(filters, compiled);
    }
  } else {
    compiled = compileLenient(filters);
  }
  return compiled.tryMatches(headers, onError);
}

// ---------------------------------------------------------------------------------------------------
// Validation

function describe(v: PyValue): string {
  const text = pyRepr(v);
  return `${pyTypeName(v)} ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

class Validator {
  constructor(
    readonly ruleIndex: number,
    readonly key: string,
  ) {}

  fail(where: string, problem: string): never {
    const prefix = where === "" ? "" : `${where}: `;
    throw new FilterError(`filters[${this.ruleIndex}][${JSON.stringify(this.key)}]: ${prefix}${problem}`, {
      ruleIndex: this.ruleIndex,
      key: this.key,
    });
  }

  /** A condition evaluated by M (the value side of a field key). */
  match(cond: PyValue, where: string): void {
    if (!isJsonObject(cond)) return;
    for (const k of Object.keys(cond)) this.condition(k, cond[k], where === "" ? k : `${where}.${k}`);
  }

  /** E(k, c). */
  condition(k: string, c: PyValue, where: string): void {
    if (k.startsWith("$")) this.operator(k, c, where);
    else this.match(c, where);
  }

  operator(op: string, c: PyValue, where: string): void {
    switch (op) {
      case "$eq":
      case "$ne":
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
      case "$exists":
        return;
      case "$in":
      case "$nin":
        if (!Array.isArray(c)) this.fail(where, `${op} needs an array, got ${describe(c)}`);
        return;
      case "$and":
      case "$or":
      case "$nor":
        if (Array.isArray(c)) for (const [i, sub] of c.entries()) this.match(sub, `${where}[${i}]`);
        else if (typeof c !== "string") this.fail(where, `${op} needs an array, got ${describe(c)}`);
        return;
      case "$not":
        this.match(c, where);
        return;
      case "$all":
        if (Array.isArray(c)) for (const [i, sub] of c.entries()) this.match(sub, `${where}[${i}]`);
        else if (typeof c !== "string" && !isJsonObject(c))
          this.fail(where, `$all needs an array, got ${describe(c)}`);
        return;
      case "$elemMatch":
        if (!isJsonObject(c)) this.fail(where, `$elemMatch needs an object, got ${describe(c)}`);
        for (const k of Object.keys(c)) this.condition(k, c[k], `${where}.${k}`);
        return;
      case "$size":
        if (!isIntValue(c)) this.fail(where, `$size needs an integer, got ${describe(c)}`);
        return;
      case "$type": {
        const test = typeTest(c);
        if (test instanceof QueryError) this.fail(where, `$type: unknown type ${describe(c)}`);
        return;
      }
      case "$mod": {
        if (!Array.isArray(c) || c.length < 2) {
          this.fail(where, `$mod needs an array [divisor, remainder], got ${describe(c)}`);
        }
        const divisor = c[0];
        if (!isPyNumber(divisor) || Number(divisor.valueOf()) === 0) {
          this.fail(where, `$mod divisor must be a non-zero number, got ${describe(divisor)}`);
        }
        return;
      }
      case "$regex":
        if (c instanceof GlobCondition) return;
        if (typeof c !== "string") this.fail(where, `$regex needs a string, got ${describe(c)}`);
        try {
          compilePythonRegex(c);
        } catch (error) {
          this.fail(
            where,
            `invalid $regex ${pyRepr(c)}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
        return;
      case "$options":
      case "$text":
      case "$where":
        this.fail(where, `${op} is not supported by Karton filters`);
    }
    if (!KNOWN_OPERATORS.has(op)) this.fail(where, `unknown operator ${op}`);
  }
}

/**
 * Eager validation of a filter list (what a consumer runs at construction). Throws a {@link FilterError}
 * whose message names the rule index and key: `filters[1]["size"]: $gt...`.
 */
export function validateFilters(filters: unknown): void {
  if (!Array.isArray(filters)) {
    throw new FilterError(`filters must be an array of objects, got ${pyTypeName(filters)}`);
  }
  filters.forEach((rule, ruleIndex) => {
    if (!isJsonObject(rule)) {
      throw new FilterError(`filters[${ruleIndex}]: a rule must be an object, got ${describe(rule)}`, {
        ruleIndex,
      });
    }
    for (const key of Object.keys(rule)) {
      const { condition } = convertValue(rule[key]);
      const v = new Validator(ruleIndex, key);
      if (key.startsWith("$")) v.operator(key, condition, "");
      else v.match(condition, "");
    }
  });
}

/**
 * Python `re` (3.11, str patterns) translated to JavaScript regular expressions, for `$regex` filters.
 *
 * The pattern is parsed the way CPython's `re._parser` does (same tokenizer, same error cases: bad
 * escapes, "nothing to repeat", "multiple repeat", unknown groups, global flags not at the start,
 * look-behind that is not fixed-width, ...), then rendered for the JavaScript engine with the `v` flag.
 * Nothing is passed through verbatim, so ECMAScript syntax that Python lacks never leaks in.
 *
 * Python semantics that are rendered explicitly:
 * - `.` is `[^\n]` (JS `.` also excludes `\r`, U+2028, U+2029), or any character under `s`.
 * - `^`/`$`: `^` start, `$` end or before a final `\n`; under `m` only `\n` separates lines.
 *   `\A` = start, `\Z` = end of string.
 * - `\d` = `\p{Nd}`, `\s` = Python's `str.isspace()` set (includes `\x1c-\x1f`, `\x85`; not U+FEFF),
 *   `\w` ≈ `[\p{L}\p{N}_]` (Python: `str.isalnum()` or `_`; the two differ only for a few rare numeric
 *   characters), `\b`/`\B` use that `\w`. Under `a` (ASCII) they are the ASCII classes.
 * - Inline flags `(?aimsux)` at the start, scoped flags `(?ims-imsx:...)`, verbose mode, `(?P<n>...)`,
 *   `(?P=n)`, numbered backreferences (renumbered), atomic groups `(?>...)` and possessive quantifiers
 *   (`*+`, `++`, `?+`, `{m,n}+`) via the lookahead-capture idiom, `{,n}`, `\x`, `\u`, `\U`, octal escapes.
 *
 * Known approximations (documented deviations):
 * - Case-insensitive matching uses JavaScript's Unicode simple case folding; Python's folding differs
 *   for a few characters, and under `(?a)` Python folds ASCII letters only.
 * - A backreference to a group that did not participate fails in Python but matches empty in JS.
 * - Unicode property tables are those of the JS engine (newer than Python 3.11's Unicode 14).
 * Constructs JavaScript cannot express raise a QueryError (type "Unsupported"): conditional groups
 * `(?(1)a|b)`, `\N{NAME}`, and a scoped `i` flag that disagrees with the rest of the pattern.
 */
import { QueryError } from "./errors.js";

const MAXREPEAT = 4294967295;

/** Python `re` flags relevant to str patterns. */
export interface RegexFlags {
  i: boolean;
  m: boolean;
  s: boolean;
  x: boolean;
  a: boolean;
  u: boolean;
}

const NO_FLAGS: RegexFlags = { i: false, m: false, s: false, x: false, a: false, u: false };

/** A Python `re.error` raised while parsing. */
export class PythonRegexError extends Error {
  constructor(
    message: string,
    readonly position: number | undefined,
    readonly pythonType: "error" | "OverflowError" | "ValueError" | "Unsupported" = "error",
  ) {
    super(position === undefined ? message : `${message} at position ${position}`);
    this.name = "PythonRegexError";
  }
}

// --------------------------------------------------------------------------------------------------
// AST

type Category = "d" | "D" | "w" | "W" | "s" | "S";
type SetItem = { lo: number; hi: number } | { cat: Category };
type AtKind = "bol" | "eol" | "bos" | "eos" | "wb" | "nwb";

type Node =
  | { t: "lit"; cp: number; f: RegexFlags }
  | { t: "any"; f: RegexFlags }
  | { t: "set"; negate: boolean; items: SetItem[]; f: RegexFlags }
  | { t: "at"; kind: AtKind; f: RegexFlags }
  | { t: "group"; index: number | null; body: Alt }
  | { t: "atomic"; body: Alt }
  | { t: "look"; behind: boolean; negate: boolean; body: Alt }
  | { t: "repeat"; min: number; max: number; mode: "greedy" | "lazy" | "possessive"; item: Node }
  | { t: "backref"; group: number; f: RegexFlags };

type Seq = Node[];
type Alt = Seq[];

// --------------------------------------------------------------------------------------------------
// Tokenizer (CPython re._parser.Tokenizer: a token is one character or a backslash escape)

const DIGITS = new Set("0123456789");
const OCTDIGITS = new Set("01234567");
const HEXDIGITS = new Set("0123456789abcdefABCDEF");
const WHITESPACE = new Set(" \t\n\r\v\f");
const ASCIILETTERS = /^[A-Za-z]$/;
const SPECIAL_CHARS = ".\\[{()*+?^$|";
const FLAG_CHARS = "aiLmsux";

class Tokenizer {
  readonly chars: string[];
  index = 0;
  next: string | null = null;

  constructor(pattern: string) {
    this.chars = Array.from(pattern);
    this.advance();
  }

  private advance(): void {
    let index = this.index;
    const ch = this.chars[index];
    if (ch === undefined) {
      this.next = null;
      return;
    }
    let token = ch;
    if (ch === "\\") {
      index++;
      const following = this.chars[index];
      if (following === undefined)
        throw new PythonRegexError("bad escape (end of pattern)", this.chars.length - 1);
      token += following;
    }
    this.index = index + 1;
    this.next = token;
  }

  match(token: string): boolean {
    if (token === this.next) {
      this.advance();
      return true;
    }
    return false;
  }

  get(): string | null {
    const token = this.next;
    this.advance();
    return token;
  }

  getwhile(n: number, charset: Set<string>): string {
    let result = "";
    for (let k = 0; k < n; k++) {
      const c = this.next;
      if (c === null || !charset.has(c)) break;
      result += c;
      this.advance();
    }
    return result;
  }

  getuntil(terminator: string, name: string): string {
    let result = "";
    for (;;) {
      const c = this.next;
      this.advance();
      if (c === null) {
        if (!result) throw this.error(`missing ${name}`);
        throw this.error(`missing ${terminator}, unterminated name`);
      }
      if (c === terminator) {
        if (!result) throw this.error(`missing ${name}`);
        return result;
      }
      result += c;
    }
  }

  tell(): number {
    return this.index - (this.next === null ? 0 : Array.from(this.next).length);
  }

  seek(index: number): void {
    this.index = index;
    this.advance();
  }

  error(message: string, offset = 0): PythonRegexError {
    return new PythonRegexError(message, this.tell() - offset);
  }
}

// --------------------------------------------------------------------------------------------------
// Parser (mirrors re._parser._parse_sub / _parse)

interface ParseState {
  flags: RegexFlags; // global flags
  groupWidths: Array<[number, number] | null>; // index 0 = whole match
  groupDict: Map<string, number>;
  lookbehindGroups: number | null;
}

const IDENTIFIER = /^[\p{XID_Start}_]\p{XID_Continue}*$/u;

function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name);
}

function combineFlags(flags: RegexFlags, add: Partial<RegexFlags>, del: Partial<RegexFlags>): RegexFlags {
  const out = { ...flags };
  if (add.a || add.u) {
    out.a = false;
    out.u = false;
  }
  for (const k of ["i", "m", "s", "x", "a", "u"] as const) {
    if (add[k]) out[k] = true;
    if (del[k]) out[k] = false;
  }
  return out;
}

function parseHexEscape(source: Tokenizer, esc: string, count: number): number {
  const digits = source.getwhile(count, HEXDIGITS);
  if (digits.length !== count) throw source.error(`incomplete escape ${esc}${digits}`, 2 + digits.length);
  const value = Number.parseInt(digits, 16);
  if (value > 0x10ffff) throw source.error(`bad escape ${esc}${digits}`, 2 + digits.length);
  return value;
}

/** An escape inside a character set. */
function classEscape(source: Tokenizer, esc: string): SetItem {
  const c = esc.slice(1);
  switch (c) {
    case "a":
      return lit(7);
    case "b":
      return lit(8);
    case "f":
      return lit(12);
    case "n":
      return lit(10);
    case "r":
      return lit(13);
    case "t":
      return lit(9);
    case "v":
      return lit(11);
    case "\\":
      return lit(0x5c);
    case "d":
    case "D":
    case "s":
    case "S":
    case "w":
    case "W":
      return { cat: c };
    case "x":
      return lit(parseHexEscape(source, esc, 2));
    case "u":
      return lit(parseHexEscape(source, esc, 4));
    case "U":
      return lit(parseHexEscape(source, esc, 8));
    case "N":
      throw new PythonRegexError(
        "named Unicode escapes (\\N{...}) cannot be translated",
        source.tell(),
        "Unsupported",
      );
  }
  if (OCTDIGITS.has(c)) {
    const more = source.getwhile(2, OCTDIGITS);
    const value = Number.parseInt(c + more, 8);
    if (value > 0o377) {
      throw source.error(`octal escape value ${esc}${more} outside of range 0-0o377`, 2 + more.length);
    }
    return lit(value);
  }
  if (DIGITS.has(c) || ASCIILETTERS.test(c)) throw source.error(`bad escape ${esc}`, 2);
  return lit(c.codePointAt(0)!);
}

function lit(cp: number): { lo: number; hi: number } {
  return { lo: cp, hi: cp };
}

function checkLookbehindGroup(state: ParseState, gid: number, source: Tokenizer): void {
  if (state.lookbehindGroups !== null) {
    if (!checkGroup(state, gid)) throw source.error("cannot refer to an open group");
    if (gid >= state.lookbehindGroups) {
      throw source.error("cannot refer to group defined in the same lookbehind subpattern");
    }
  }
}

function checkGroup(state: ParseState, gid: number): boolean {
  return gid < state.groupWidths.length && state.groupWidths[gid] !== null;
}

/** An escape outside a character set. */
function escapeNode(source: Tokenizer, esc: string, state: ParseState, f: RegexFlags): Node {
  const c = esc.slice(1);
  switch (c) {
    case "A":
      return { t: "at", kind: "bos", f };
    case "Z":
      return { t: "at", kind: "eos", f };
    case "b":
      return { t: "at", kind: "wb", f };
    case "B":
      return { t: "at", kind: "nwb", f };
    case "d":
    case "D":
    case "s":
    case "S":
    case "w":
    case "W":
      return { t: "set", negate: false, items: [{ cat: c }], f };
    case "a":
      return { t: "lit", cp: 7, f };
    case "f":
      return { t: "lit", cp: 12, f };
    case "n":
      return { t: "lit", cp: 10, f };
    case "r":
      return { t: "lit", cp: 13, f };
    case "t":
      return { t: "lit", cp: 9, f };
    case "v":
      return { t: "lit", cp: 11, f };
    case "\\":
      return { t: "lit", cp: 0x5c, f };
    case "x":
      return { t: "lit", cp: parseHexEscape(source, esc, 2), f };
    case "u":
      return { t: "lit", cp: parseHexEscape(source, esc, 4), f };
    case "U":
      return { t: "lit", cp: parseHexEscape(source, esc, 8), f };
    case "N":
      throw new PythonRegexError(
        "named Unicode escapes (\\N{...}) cannot be translated",
        source.tell(),
        "Unsupported",
      );
    case "0": {
      const more = source.getwhile(2, OCTDIGITS);
      return { t: "lit", cp: Number.parseInt(c + more, 8), f };
    }
  }
  if (DIGITS.has(c)) {
    let digits = c;
    if (source.next !== null && DIGITS.has(source.next)) {
      digits += source.get()!;
      if (
        OCTDIGITS.has(digits[0]!) &&
        OCTDIGITS.has(digits[1]!) &&
        source.next !== null &&
        OCTDIGITS.has(source.next)
      ) {
        digits += source.get()!;
        const value = Number.parseInt(digits, 8);
        if (value > 0o377) {
          throw source.error(`octal escape value \\${digits} outside of range 0-0o377`, 1 + digits.length);
        }
        return { t: "lit", cp: value, f };
      }
    }
    const group = Number.parseInt(digits, 10);
    if (group < state.groupWidths.length) {
      if (!checkGroup(state, group)) throw source.error("cannot refer to an open group", 1 + digits.length);
      checkLookbehindGroup(state, group, source);
      return { t: "backref", group, f };
    }
    throw source.error(`invalid group reference ${group}`, digits.length);
  }
  if (ASCIILETTERS.test(c)) throw source.error(`bad escape ${esc}`, 2);
  return { t: "lit", cp: c.codePointAt(0)!, f };
}

function parseSub(
  source: Tokenizer,
  state: ParseState,
  verbose: boolean,
  nested: number,
  f: RegexFlags,
): Alt {
  const items: Alt = [];
  let flags = f;
  for (;;) {
    const r = parseSeq(source, state, verbose, nested + 1, nested === 0 && items.length === 0, flags);
    items.push(r.seq);
    if (nested === 0) flags = r.flags;
    if (!source.match("|")) break;
    if (nested === 0) verbose = state.flags.x;
  }
  return items;
}

function parseSeq(
  source: Tokenizer,
  state: ParseState,
  verboseIn: boolean,
  nested: number,
  first: boolean,
  flagsIn: RegexFlags,
): { seq: Seq; flags: RegexFlags } {
  const seq: Seq = [];
  let verbose = verboseIn;
  let f = flagsIn;
  for (;;) {
    const thisToken = source.next;
    if (thisToken === null || thisToken === "|" || thisToken === ")") break;
    source.get();
    if (verbose) {
      if (WHITESPACE.has(thisToken)) continue;
      if (thisToken === "#") {
        for (;;) {
          const t = source.get();
          if (t === null || t === "\n") break;
        }
        continue;
      }
    }
    if (thisToken[0] === "\\") {
      seq.push(escapeNode(source, thisToken, state, f));
    } else if (!SPECIAL_CHARS.includes(thisToken)) {
      seq.push({ t: "lit", cp: thisToken.codePointAt(0)!, f });
    } else if (thisToken === "[") {
      seq.push(parseSet(source, f));
    } else if ("*+?{".includes(thisToken)) {
      const here = source.tell();
      let min = 0;
      let max = MAXREPEAT;
      if (thisToken === "?") max = 1;
      else if (thisToken === "+") min = 1;
      else if (thisToken === "{") {
        if (source.next === "}") {
          seq.push({ t: "lit", cp: 0x7b, f });
          continue;
        }
        let lo = "";
        let hi = "";
        while (source.next !== null && DIGITS.has(source.next)) lo += source.get();
        if (source.match(",")) {
          while (source.next !== null && DIGITS.has(source.next)) hi += source.get();
        } else hi = lo;
        if (!source.match("}")) {
          seq.push({ t: "lit", cp: 0x7b, f });
          source.seek(here);
          continue;
        }
        if (lo) {
          min = Number(lo);
          if (min >= MAXREPEAT)
            throw new PythonRegexError("the repetition number is too large", undefined, "OverflowError");
        }
        if (hi) {
          max = Number(hi);
          if (max >= MAXREPEAT)
            throw new PythonRegexError("the repetition number is too large", undefined, "OverflowError");
          if (max < min) throw source.error("min repeat greater than max repeat", source.tell() - here);
        }
      }
      const item = seq[seq.length - 1];
      if (item === undefined || item.t === "at") {
        throw source.error("nothing to repeat", source.tell() - here + thisToken.length);
      }
      if (item.t === "repeat") throw source.error("multiple repeat", source.tell() - here + thisToken.length);
      let mode: "greedy" | "lazy" | "possessive" = "greedy";
      if (source.match("?")) mode = "lazy";
      else if (source.match("+")) mode = "possessive";
      seq[seq.length - 1] = { t: "repeat", min, max, mode, item };
    } else if (thisToken === ".") {
      seq.push({ t: "any", f });
    } else if (thisToken === "(") {
      const r = parseGroup(source, state, verbose, nested, first, seq.length === 0, f);
      if (r === "global") {
        verbose = state.flags.x;
        f = { ...state.flags };
        continue;
      }
      if (r !== null) seq.push(r);
    } else if (thisToken === "^") {
      seq.push({ t: "at", kind: "bol", f });
    } else if (thisToken === "$") {
      seq.push({ t: "at", kind: "eol", f });
    }
  }
  return { seq, flags: f };
}

function parseSet(source: Tokenizer, f: RegexFlags): Node {
  const here = source.tell() - 1;
  const items: SetItem[] = [];
  const negate = source.match("^");
  for (;;) {
    const thisToken = source.get();
    if (thisToken === null) throw source.error("unterminated character set", source.tell() - here);
    if (thisToken === "]" && items.length > 0) break;
    let code1: SetItem;
    if (thisToken[0] === "\\") code1 = classEscape(source, thisToken);
    else code1 = lit(thisToken.codePointAt(0)!);
    if (source.match("-")) {
      const that = source.get();
      if (that === null) throw source.error("unterminated character set", source.tell() - here);
      if (that === "]") {
        items.push(code1, lit(0x2d));
        break;
      }
      const code2 = that[0] === "\\" ? classEscape(source, that) : lit(that.codePointAt(0)!);
      if ("cat" in code1 || "cat" in code2 || code2.lo < code1.lo) {
        throw source.error(`bad character range ${thisToken}-${that}`, thisToken.length + 1 + that.length);
      }
      items.push({ lo: code1.lo, hi: code2.lo });
    } else {
      items.push(code1);
    }
  }
  return { t: "set", negate, items, f };
}

/** Parses after "(": returns a node, null (comment), or "global" (global flags were set). */
function parseGroup(
  source: Tokenizer,
  state: ParseState,
  verbose: boolean,
  nested: number,
  first: boolean,
  seqEmpty: boolean,
  f: RegexFlags,
): Node | null | "global" {
  const start = source.tell() - 1;
  let capture = true;
  let atomic = false;
  let name: string | null = null;
  let add: Partial<RegexFlags> = {};
  let del: Partial<RegexFlags> = {};
  if (source.match("?")) {
    const char = source.get();
    if (char === null) throw source.error("unexpected end of pattern");
    if (char === "P") {
      if (source.match("<")) {
        name = source.getuntil(">", "group name");
        if (!isIdentifier(name)) throw source.error(`bad character in group name '${name}'`, name.length + 1);
      } else if (source.match("=")) {
        const ref = source.getuntil(")", "group name");
        if (!isIdentifier(ref)) throw source.error(`bad character in group name '${ref}'`, ref.length + 1);
        const gid = state.groupDict.get(ref);
        if (gid === undefined) throw source.error(`unknown group name '${ref}'`, ref.length + 1);
        if (!checkGroup(state, gid)) throw source.error("cannot refer to an open group", ref.length + 1);
        checkLookbehindGroup(state, gid, source);
        return { t: "backref", group: gid, f };
      } else {
        const next = source.get();
        if (next === null) throw source.error("unexpected end of pattern");
        throw source.error(`unknown extension ?P${next}`, next.length + 2);
      }
    } else if (char === ":") {
      capture = false;
    } else if (char === "#") {
      for (;;) {
        if (source.next === null)
          throw source.error("missing ), unterminated comment", source.tell() - start);
        if (source.get() === ")") break;
      }
      return null;
    } else if (char === "=" || char === "!" || char === "<") {
      let kind = char;
      let behind = false;
      let savedLookbehind: number | null = null;
      if (char === "<") {
        const next = source.get();
        if (next === null) throw source.error("unexpected end of pattern");
        if (next !== "=" && next !== "!") throw source.error(`unknown extension ?<${next}`, next.length + 2);
        kind = next;
        behind = true;
        savedLookbehind = state.lookbehindGroups;
        if (savedLookbehind === null) state.lookbehindGroups = state.groupWidths.length;
      }
      const body = parseSub(source, state, verbose, nested + 1, f);
      if (behind && savedLookbehind === null) state.lookbehindGroups = null;
      if (!source.match(")")) throw source.error("missing ), unterminated subpattern", source.tell() - start);
      if (behind) {
        const [lo, hi] = altWidth(body, state);
        if (lo > MAXREPEAT) throw new PythonRegexError("looks too much behind", undefined);
        if (lo !== hi) throw new PythonRegexError("look-behind requires fixed-width pattern", undefined);
      }
      return { t: "look", behind, negate: kind === "!", body };
    } else if (char === "(") {
      throw new PythonRegexError("conditional groups (?(...)...) cannot be translated", start, "Unsupported");
    } else if (char === ">") {
      capture = false;
      atomic = true;
    } else if (FLAG_CHARS.includes(char) || char === "-") {
      const parsed = parseFlags(source, char);
      if (parsed.kind === "global") {
        if (!first || !seqEmpty) {
          throw source.error("global flags not at the start of the expression", source.tell() - start);
        }
        for (const k of Object.keys(parsed.add) as Array<keyof RegexFlags>) state.flags[k] = true;
        return "global";
      }
      add = parsed.add;
      del = parsed.del;
      capture = false;
    } else {
      throw source.error(`unknown extension ?${char}`, char.length + 1);
    }
  }
  let group: number | null = null;
  if (capture) {
    group = state.groupWidths.length;
    state.groupWidths.push(null);
    if (name !== null) {
      const old = state.groupDict.get(name);
      if (old !== undefined) {
        throw source.error(
          `redefinition of group name '${name}' as group ${group}; was group ${old}`,
          name.length + 1,
        );
      }
      state.groupDict.set(name, group);
    }
  }
  const subVerbose = (verbose || add.x === true) && del.x !== true;
  const inner = combineFlags(f, add, del);
  const body = parseSub(source, state, subVerbose, nested + 1, inner);
  if (!source.match(")")) throw source.error("missing ), unterminated subpattern", source.tell() - start);
  if (group !== null) state.groupWidths[group] = altWidth(body, state);
  if (atomic) return { t: "atomic", body };
  return { t: "group", index: group, body };
}

type ParsedFlags =
  | { kind: "global"; add: Partial<RegexFlags> }
  | { kind: "scoped"; add: Partial<RegexFlags>; del: Partial<RegexFlags> };

/** The flags of an inline flag group (re._parser._parse_flags), after "(?" and its first character. */
function parseFlags(source: Tokenizer, firstChar: string): ParsedFlags {
  const add: Partial<RegexFlags> = {};
  const del: Partial<RegexFlags> = {};
  let char: string | null = firstChar;
  const unknownOr = (fallback: string, c: string) => (/^\p{L}$/u.test(c) ? "unknown flag" : fallback);
  if (char !== "-") {
    for (;;) {
      if (char === "L") throw source.error("bad inline flags: cannot use 'L' flag with a str pattern");
      const key = char as keyof RegexFlags;
      add[key] = true;
      if ((key === "a" || key === "u") && add.a && add.u) {
        throw source.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
      }
      char = source.get();
      if (char === null) throw source.error("missing -, : or )");
      if (")-:".includes(char)) break;
      if (!FLAG_CHARS.includes(char)) throw source.error(unknownOr("missing -, : or )", char), char.length);
    }
  }
  if (char === ")") return { kind: "global", add };
  if (char === "-") {
    char = source.get();
    if (char === null) throw source.error("missing flag");
    if (!FLAG_CHARS.includes(char)) throw source.error(unknownOr("missing flag", char), char.length);
    for (;;) {
      if (char === "a" || char === "u" || char === "L") {
        throw source.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
      }
      del[char as keyof RegexFlags] = true;
      char = source.get();
      if (char === null) throw source.error("missing :");
      if (char === ":") break;
      if (!FLAG_CHARS.includes(char)) throw source.error(unknownOr("missing :", char), char.length);
    }
  }
  for (const k of Object.keys(add) as Array<keyof RegexFlags>) {
    if (del[k]) throw source.error("bad inline flags: flag turned on and off", 1);
  }
  return { kind: "scoped", add, del };
}

// --------------------------------------------------------------------------------------------------
// Widths (re._parser.SubPattern.getwidth), for the fixed-width look-behind rule

const INF = Number.POSITIVE_INFINITY;

function altWidth(alt: Alt, state: ParseState): [number, number] {
  if (alt.length === 1) return seqWidth(alt[0]!, state);
  let lo = INF;
  let hi = 0;
  for (const seq of alt) {
    const [l, h] = seqWidth(seq, state);
    lo = Math.min(lo, l);
    hi = Math.max(hi, h);
  }
  return [lo, hi];
}

function seqWidth(seq: Seq, state: ParseState): [number, number] {
  let lo = 0;
  let hi = 0;
  for (const node of seq) {
    const [l, h] = nodeWidth(node, state);
    lo += l;
    hi += h;
  }
  return [lo, hi];
}

function nodeWidth(node: Node, state: ParseState): [number, number] {
  switch (node.t) {
    case "lit":
    case "any":
    case "set":
      return [1, 1];
    case "at":
    case "look":
      return [0, 0];
    case "group":
    case "atomic":
      return altWidth(node.body, state);
    case "repeat": {
      const [l, h] = nodeWidth(node.item, state);
      if (node.max === 0) return [0, 0];
      return [l * node.min, node.max === MAXREPEAT && h > 0 ? INF : h * node.max];
    }
    case "backref":
      return state.groupWidths[node.group] ?? [0, 0];
  }
}

// --------------------------------------------------------------------------------------------------
// Rendering to a JavaScript RegExp (flag `v`, plus `i` when the pattern is case-insensitive)

const PY_SPACE_ITEMS =
  "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const ASCII_SPACE_ITEMS = "\\t-\\r\\x20";
const WORD_ITEMS = "\\p{L}\\p{N}_";
const ASCII_WORD_ITEMS = "A-Za-z0-9_";

function categoryItems(cat: Category, ascii: boolean): string {
  switch (cat) {
    case "d":
      return ascii ? "0-9" : "\\p{Nd}";
    case "D":
      return ascii ? "[^0-9]" : "\\P{Nd}";
    case "w":
      return ascii ? ASCII_WORD_ITEMS : WORD_ITEMS;
    case "W":
      return `[^${ascii ? ASCII_WORD_ITEMS : WORD_ITEMS}]`;
    case "s":
      return ascii ? ASCII_SPACE_ITEMS : PY_SPACE_ITEMS;
    case "S":
      return `[^${ascii ? ASCII_SPACE_ITEMS : PY_SPACE_ITEMS}]`;
  }
}

function escapeCp(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  return `\\u{${cp.toString(16)}}`;
}

interface RenderContext {
  groupMap: number[]; // Python group number → JS group number
  jsGroups: number;
  iStates: Set<boolean>;
}

function isCased(cp: number): boolean {
  const s = String.fromCodePoint(cp);
  return s.toLowerCase() !== s || s.toUpperCase() !== s;
}

function setIsCased(items: SetItem[]): boolean {
  for (const item of items) {
    if ("cat" in item) continue;
    if (item.hi - item.lo > 512) return true;
    for (let cp = item.lo; cp <= item.hi; cp++) if (isCased(cp)) return true;
  }
  return false;
}

/**
 * IGNORECASE under ASCII: Python folds A-Z/a-z only. Rendered explicitly (case-closed ranges), which
 * needs the JavaScript regex to be compiled without `i`.
 */
function renderAsciiCaseless(items: SetItem[], negate: boolean, ctx: RenderContext, single: boolean): string {
  const closed: SetItem[] = [];
  let cased = false;
  for (const item of items) {
    closed.push(item);
    if ("cat" in item) {
      cased = true;
      continue;
    }
    for (const [from, to, shift] of [
      [0x41, 0x5a, 0x20],
      [0x61, 0x7a, -0x20],
    ] as const) {
      const lo = Math.max(item.lo, from);
      const hi = Math.min(item.hi, to);
      if (lo <= hi) closed.push({ lo: lo + shift, hi: hi + shift });
    }
    if (setIsCased([item])) cased = true;
  }
  if (cased) ctx.iStates.add(false);
  if (single && closed.length === 1) {
    const only = closed[0]!;
    if (!("cat" in only)) return escapeCp(only.lo);
  }
  let out = negate ? "[^" : "[";
  for (const item of closed) {
    if ("cat" in item) out += categoryItems(item.cat, true);
    else out += item.lo === item.hi ? escapeCp(item.lo) : `${escapeCp(item.lo)}-${escapeCp(item.hi)}`;
  }
  return `${out}]`;
}

function renderAlt(alt: Alt, ctx: RenderContext): string {
  return alt.map((seq) => seq.map((n) => renderNode(n, ctx)).join("")).join("|");
}

function wordBoundary(ascii: boolean, negate: boolean): string {
  const w = `[${ascii ? ASCII_WORD_ITEMS : WORD_ITEMS}]`;
  if (!negate) return `(?:(?<=${w})(?!${w})|(?<!${w})(?=${w}))`;
  // Python: \B never matches in an empty string.
  return `(?:(?<=${w})(?=${w})|(?<!${w})(?!${w})(?:(?<=[\\s\\S])|(?=[\\s\\S])))`;
}

function renderNode(node: Node, ctx: RenderContext): string {
  switch (node.t) {
    case "lit":
      if (node.f.i && node.f.a) return renderAsciiCaseless([{ lo: node.cp, hi: node.cp }], false, ctx, true);
      if (isCased(node.cp)) ctx.iStates.add(node.f.i);
      return escapeCp(node.cp);
    case "any":
      return node.f.s ? "[\\s\\S]" : "[^\\n]";
    case "set": {
      if (node.f.i && node.f.a) return renderAsciiCaseless(node.items, node.negate, ctx, false);
      if (setIsCased(node.items)) ctx.iStates.add(node.f.i);
      let out = node.negate ? "[^" : "[";
      for (const item of node.items) {
        if ("cat" in item) out += categoryItems(item.cat, node.f.a);
        else out += item.lo === item.hi ? escapeCp(item.lo) : `${escapeCp(item.lo)}-${escapeCp(item.hi)}`;
      }
      return `${out}]`;
    }
    case "at":
      switch (node.kind) {
        case "bos":
          return "(?<![\\s\\S])";
        case "eos":
          return "(?![\\s\\S])";
        case "bol":
          return node.f.m ? "(?<![^\\n])" : "(?<![\\s\\S])";
        case "eol":
          return node.f.m ? "(?=\\n|(?![\\s\\S]))" : "(?=\\n?(?![\\s\\S]))";
        case "wb":
        case "nwb":
          // Under JS `i`, an ASCII class would also match U+017F and U+212A (they fold to s and k).
          if (node.f.a && node.f.i) ctx.iStates.add(false);
          return wordBoundary(node.f.a, node.kind === "nwb");
      }
      break;
    case "group": {
      if (node.index === null) return `(?:${renderAlt(node.body, ctx)})`;
      const js = ++ctx.jsGroups;
      ctx.groupMap[node.index] = js;
      return `(${renderAlt(node.body, ctx)})`;
    }
    case "atomic": {
      const js = ++ctx.jsGroups;
      return `(?:(?=(${renderAlt(node.body, ctx)}))\\${js})`;
    }
    case "look": {
      const open = node.behind ? (node.negate ? "(?<!" : "(?<=") : node.negate ? "(?!" : "(?=";
      return `${open}${renderAlt(node.body, ctx)})`;
    }
    case "repeat": {
      let q: string;
      if (node.min === 0 && node.max === MAXREPEAT) q = "*";
      else if (node.min === 1 && node.max === MAXREPEAT) q = "+";
      else if (node.min === 0 && node.max === 1) q = "?";
      else if (node.max === MAXREPEAT) q = `{${node.min},}`;
      else if (node.min === node.max) q = `{${node.min}}`;
      else q = `{${node.min},${node.max}}`;
      if (node.mode === "possessive") {
        const js = ++ctx.jsGroups;
        const item = `(?:${renderNode(node.item, ctx)})`;
        return `(?:(?=(${item}${q}))\\${js})`;
      }
      const item = `(?:${renderNode(node.item, ctx)})`;
      return `${item}${q}${node.mode === "lazy" ? "?" : ""}`;
    }
    case "backref": {
      ctx.iStates.add(node.f.i);
      return `(?:\\${ctx.groupMap[node.group]})`;
    }
  }
  return "";
}

// --------------------------------------------------------------------------------------------------
// Public API

export interface TranslatedRegex {
  source: string;
  flags: string;
}

/** Translate a Python `re` pattern (with initial flags) to a JavaScript regex source and flags. */
export function translatePythonRegex(pattern: string, initial: Partial<RegexFlags> = {}): TranslatedRegex {
  const flags: RegexFlags = { ...NO_FLAGS, ...initial };
  const state: ParseState = {
    flags,
    groupWidths: [null],
    groupDict: new Map(),
    lookbehindGroups: null,
  };
  const source = new Tokenizer(pattern);
  const alt = parseTop(source, state);
  if (source.next !== null) throw source.error("unbalanced parenthesis");
  if (state.flags.a && state.flags.u) {
    throw new PythonRegexError("ASCII and UNICODE flags are incompatible", undefined, "ValueError");
  }
  const ctx: RenderContext = { groupMap: [0], jsGroups: 0, iStates: new Set() };
  const body = renderAlt(alt, ctx);
  if (ctx.iStates.size > 1) {
    throw new PythonRegexError(
      "case-insensitivity that differs between parts of the pattern cannot be translated",
      undefined,
      "Unsupported",
    );
  }
  return { source: body, flags: ctx.iStates.has(true) ? "iv" : "v" };
}

function parseTop(source: Tokenizer, state: ParseState): Alt {
  return parseSub(source, state, state.flags.x, 0, { ...state.flags });
}

const regexCache = new Map<string, RegExp | QueryError>();
const CACHE_LIMIT = 10_000;

/** Flags of the `/body/flags` form. */
const SLASH_FORM = /^\/([\s\S]+)\/([imsx]{0,4})$/;

/**
 * Compile the argument of `$regex` as karton-core does: `/body/flags` (flags from `imsx`, at most four)
 * compiles `body` with those flags; any other string is the pattern itself. Returns a RegExp to use with
 * `test()` (search semantics), or throws a QueryError naming the pattern. Results are cached.
 */
export function compilePythonRegex(condition: string): RegExp {
  let cached = regexCache.get(condition);
  if (cached === undefined) {
    cached = build(condition);
    if (regexCache.size >= CACHE_LIMIT) regexCache.clear();
    regexCache.set(condition, cached);
  }
  if (cached instanceof QueryError) throw cached;
  return cached;
}

function build(condition: string): RegExp | QueryError {
  const m = SLASH_FORM.exec(condition);
  let pattern = condition;
  const flags: Partial<RegexFlags> = {};
  if (m) {
    pattern = m[1]!;
    for (const c of m[2]!) flags[c as "i" | "m" | "s" | "x"] = true;
  }
  try {
    const t = translatePythonRegex(pattern, flags);
    return new RegExp(t.source, t.flags);
  } catch (error) {
    if (error instanceof PythonRegexError) {
      const type = error.pythonType === "error" ? "re.error" : error.pythonType;
      return new QueryError(
        `${condition} failed to execute with error ${type}(${JSON.stringify(error.message)})`,
        error.pythonType === "Unsupported" ? "Unsupported" : "QueryError",
      );
    }
    return new QueryError(
      `${condition} cannot be translated to a JavaScript regex: ${String(error)}`,
      "Unsupported",
    );
  }
}

/**
 * Legacy wildcard patterns of filter values (spec §7.3): Python's `fnmatch.translate(pattern)` searched
 * with `re.search`. The translated regex is anchored at the end only, so a header value matches when
 * **some suffix** of it matches the whole glob — equivalently, when the value matches `*` + glob.
 *
 * Glob syntax (case-sensitive, no escape character): `*` any run including newlines, `?` one character
 * (code point), `[...]` a set (`[!...]` negated, `]` first is a member, `a-z` ranges, reversed ranges are
 * dropped, an emptied set never matches), an unclosed `[` is literal, everything else is literal.
 *
 * The set rules are reproduced by running Python's own algorithm on the set text (chunks split at range
 * hyphens, empty ranges removed, then the resulting regex set body interpreted), so quirks such as
 * `[z-a!]` (= any character) come out the same.
 */

type GlobToken =
  | { kind: "star" }
  | { kind: "any" }
  | { kind: "never" }
  | { kind: "literal"; cp: number }
  | { kind: "set"; negated: boolean; ranges: Array<[number, number]> };

export type GlobMatcher = (value: string) => boolean;

const BACKSLASH = 0x5c;
const HYPHEN = 0x2d;
const BANG = 0x21;
const CARET = 0x5e;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** Python's set handling of `fnmatch.translate` for `pat[start:end]`, as a regex set body (code points). */
function pythonSetBody(pat: number[], start: number, end: number): number[] {
  let i = start;
  const stuff = pat.slice(i, end);
  let body: number[];
  if (!stuff.includes(HYPHEN)) {
    body = [];
    for (const cp of stuff) {
      if (cp === BACKSLASH) body.push(BACKSLASH, BACKSLASH);
      else body.push(cp);
    }
  } else {
    const chunks: number[][] = [];
    let k = pat[i] === BANG ? i + 2 : i + 1;
    for (;;) {
      let found = -1;
      for (let p = k; p < end; p++) {
        if (pat[p] === HYPHEN) {
          found = p;
          break;
        }
      }
      if (found < 0) break;
      chunks.push(pat.slice(i, found));
      i = found + 1;
      k = found + 3;
    }
    const last = pat.slice(i, end);
    if (last.length > 0) chunks.push(last);
    else chunks[chunks.length - 1]!.push(HYPHEN);
    // Remove empty ranges (Python compares the code points around each range hyphen).
    for (let c = chunks.length - 1; c > 0; c--) {
      const prev = chunks[c - 1]!;
      const cur = chunks[c]!;
      if (prev[prev.length - 1]! > cur[0]!) {
        chunks[c - 1] = prev.slice(0, -1).concat(cur.slice(1));
        chunks.splice(c, 1);
      }
    }
    body = [];
    chunks.forEach((chunk, index) => {
      if (index > 0) body.push(HYPHEN);
      for (const cp of chunk) {
        if (cp === BACKSLASH || cp === HYPHEN) body.push(BACKSLASH);
        body.push(cp);
      }
    });
  }
  // Escape set operations (& ~ |).
  const escaped: number[] = [];
  for (const cp of body) {
    if (cp === 0x26 || cp === 0x7e || cp === 0x7c) escaped.push(BACKSLASH);
    escaped.push(cp);
  }
  return escaped;
}

/** Interpret a Python regex set body as produced above (`[` + body + `]`). */
function setToken(body: number[]): GlobToken {
  if (body.length === 0) return { kind: "never" };
  if (body.length === 1 && body[0] === BANG) return { kind: "any" };
  let negated = false;
  let items = body;
  if (body[0] === BANG) {
    negated = true;
    items = body.slice(1);
  } else if (body[0] === CARET || body[0] === LBRACKET) {
    items = [BACKSLASH, ...body];
  }
  const ranges: Array<[number, number]> = [];
  let p = 0;
  const atom = (): number => {
    const cp = items[p++]!;
    return cp === BACKSLASH && p < items.length ? items[p++]! : cp;
  };
  // A `]` first in the set (right after `[` or `[^`) is a member; Python parses it as a literal.
  while (p < items.length) {
    const lo = atom();
    if (p + 1 < items.length && items[p] === HYPHEN) {
      p++;
      const hi = atom();
      if (hi < lo) throw new Error("internal: bad glob range");
      ranges.push([lo, hi]);
    } else {
      ranges.push([lo, lo]);
    }
  }
  return { kind: "set", negated, ranges };
}

/** Tokenize a glob the way `fnmatch.translate` does (code points). */
export function tokenizeGlob(pattern: string): GlobToken[] {
  const pat = Array.from(pattern, (c) => c.codePointAt(0)!);
  const n = pat.length;
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < n) {
    const c = pat[i++]!;
    if (c === 0x2a) {
      if (tokens[tokens.length - 1]?.kind !== "star") tokens.push({ kind: "star" });
    } else if (c === 0x3f) {
      tokens.push({ kind: "any" });
    } else if (c === LBRACKET) {
      let j = i;
      if (j < n && pat[j] === BANG) j++;
      if (j < n && pat[j] === RBRACKET) j++;
      while (j < n && pat[j] !== RBRACKET) j++;
      if (j >= n) {
        tokens.push({ kind: "literal", cp: LBRACKET });
      } else {
        tokens.push(setToken(pythonSetBody(pat, i, j)));
        i = j + 1;
      }
    } else {
      tokens.push({ kind: "literal", cp: c });
    }
  }
  return tokens;
}

const REGEX_SYNTAX = new Set(Array.from("^$\\.*+?()[]{}|/-", (c) => c.codePointAt(0)!));

function escapeCodePoint(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a)) {
    return String.fromCodePoint(cp);
  }
  if (cp < 0x80 && !REGEX_SYNTAX.has(cp) && cp >= 0x20 && cp !== 0x7f) return String.fromCodePoint(cp);
  return `\\u{${cp.toString(16)}}`;
}

/** JavaScript regex source (flags `su`) equivalent to the glob searched with Python's `re.search`. */
export function globToRegExpSource(pattern: string): string {
  let src = "";
  for (const t of tokenizeGlob(pattern)) {
    switch (t.kind) {
      case "star":
        src += ".*";
        break;
      case "any":
        src += ".";
        break;
      case "never":
        src += "(?!)";
        break;
      case "literal":
        src += escapeCodePoint(t.cp);
        break;
      case "set": {
        let cls = t.negated ? "[^" : "[";
        for (const [lo, hi] of t.ranges) {
          cls += lo === hi ? escapeCodePoint(lo) : `${escapeCodePoint(lo)}-${escapeCodePoint(hi)}`;
        }
        src += `${cls}]`;
        break;
      }
    }
  }
  return `(?:${src})$`;
}

const SURROGATE = /[\ud800-\udfff]/;

/** Build a matcher, using string operations for the common shapes `L`, `L*`, `*L`, `*L*`. */
function buildMatcher(pattern: string): GlobMatcher {
  const tokens = tokenizeGlob(pattern);
  // Literal runs separated by stars?
  const segments: string[] = [""];
  let simple = true;
  for (const t of tokens) {
    if (t.kind === "star") segments.push("");
    else if (t.kind === "literal") segments[segments.length - 1] += String.fromCodePoint(t.cp);
    else {
      simple = false;
      break;
    }
  }
  if (simple && !segments.some((s) => SURROGATE.test(s))) {
    // Suffix semantics: matching `*` + glob in full.
    if (segments.length === 1) {
      const lit = segments[0]!;
      return (v) => v.endsWith(lit);
    }
    if (segments.length === 2) {
      const [head, tail] = segments as [string, string];
      if (tail === "") return (v) => v.includes(head); // L*  (and * alone)
      if (head === "") return (v) => v.endsWith(tail); // *L
    }
    if (segments.length === 3 && segments[0] === "" && segments[2] === "") {
      const mid = segments[1]!;
      return (v) => v.includes(mid); // *L*
    }
  }
  const re = new RegExp(globToRegExpSource(pattern), "su");
  return (v) => re.test(v);
}

const cache = new Map<string, GlobMatcher>();
const CACHE_LIMIT = 10_000;

/** A cached matcher telling whether a str header value matches the glob (suffix semantics). */
export function compileGlob(pattern: string): GlobMatcher {
  let m = cache.get(pattern);
  if (m === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    m = buildMatcher(pattern);
    cache.set(pattern, m);
  }
  return m;
}

/** Does `pattern` switch a filter value to wildcard mode (`pat()` of spec §7.2)? */
export function isGlobPattern(value: string): boolean {
  return /[?*[\]!]/.test(value);
}

/** Python's `fnmatch.translate(pattern)` text is never needed at run time; the matcher is exact. */
export function globMatches(pattern: string, value: string): boolean {
  return compileGlob(pattern)(value);
}

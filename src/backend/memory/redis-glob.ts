/**
 * Redis glob patterns (`PSUBSCRIBE`, `SCAN MATCH`, `KEYS`), as Redis' `stringmatchlen` reads them,
 * so the embedded backend's log subscriptions match exactly the channels a Redis subscription would:
 *
 * - `*` any run of characters (possibly empty), `?` exactly one character;
 * - `[abc]` a set, `[^abc]` its negation, `[a-z]` a range (reversed ranges are swapped), `\x` inside
 *   a set is the literal `x`; an unclosed set ends at the end of the pattern;
 * - `\x` outside a set is the literal `x`; everything else is literal and case-sensitive.
 *
 * Redis matches bytes; this matcher works on UTF-16 code units, which is the same for the ASCII
 * channel names Karton uses (`karton.log.<level>.<identity>`).
 */

/** True when `text` matches the Redis glob `pattern`. */
export function redisGlobMatch(pattern: string, text: string): boolean {
  return matchFrom(pattern, 0, text, 0, 0, { skipLonger: false });
}

/** Compiles a pattern once for repeated use (same result as {@link redisGlobMatch}). */
export function redisGlob(pattern: string): (text: string) => boolean {
  if (!/[*?[\\]/.test(pattern)) return (text) => text === pattern;
  return (text) => matchFrom(pattern, 0, text, 0, 0, { skipLonger: false });
}

/** Bounds the recursion of pathological patterns (`*a*a*a*…b`), as Redis does since 7.0. */
const MAX_NESTING = 1000;

/**
 * Shared by the recursive calls of one match: once the rest of the pattern after a `*` matched
 * nowhere in the rest of the text, longer matches of earlier `*` cannot help (Redis'
 * `skipLongerMatches`), which keeps `*a*a*…b` linear instead of exponential.
 */
interface MatchState {
  skipLonger: boolean;
}

function matchFrom(
  pattern: string,
  p: number,
  text: string,
  s: number,
  nesting: number,
  state: MatchState,
): boolean {
  if (nesting > MAX_NESTING) return false;
  while (p < pattern.length && s < text.length) {
    const c = pattern[p]!;
    switch (c) {
      case "*": {
        while (p + 1 < pattern.length && pattern[p + 1] === "*") p++;
        if (p + 1 === pattern.length) return true;
        for (let i = s; i < text.length; i++) {
          if (matchFrom(pattern, p + 1, text, i, nesting + 1, state)) return true;
          if (state.skipLonger) return false;
        }
        state.skipLonger = true;
        return false;
      }
      case "?":
        s++;
        break;
      case "[": {
        p++;
        const negate = pattern[p] === "^";
        if (negate) p++;
        let found = false;
        const ch = text.charCodeAt(s);
        for (;;) {
          if (p >= pattern.length) {
            p--; // unclosed set: stop at the last pattern character, like Redis
            break;
          }
          const cur = pattern[p]!;
          if (cur === "]") break;
          if (cur === "\\" && p + 1 < pattern.length) {
            p++;
            if (pattern.charCodeAt(p) === ch) found = true;
          } else if (p + 2 < pattern.length && pattern[p + 1] === "-") {
            let start = pattern.charCodeAt(p);
            let end = pattern.charCodeAt(p + 2);
            if (start > end) [start, end] = [end, start];
            p += 2;
            if (ch >= start && ch <= end) found = true;
          } else if (cur.charCodeAt(0) === ch) {
            found = true;
          }
          p++;
        }
        if (found === negate) return false;
        s++;
        break;
      }
      case "\\":
        if (p + 1 < pattern.length) p++;
        if (pattern[p] !== text[s]) return false;
        s++;
        break;
      default:
        if (c !== text[s]) return false;
        s++;
    }
    p++;
  }
  if (s < text.length) return false;
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

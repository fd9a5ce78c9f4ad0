/**
 * Orders two strings by Unicode code point, as Python compares `str` objects.
 *
 * JavaScript's `<` and the default `Array.prototype.sort` compare UTF-16 code units, which differs as soon
 * as a surrogate (part of an astral character such as U+1F980) meets a BMP character at or above U+E000:
 * UTF-16 puts "🦀" before "！" (U+FF01), Python after it. Lone surrogates count as code points of their own
 * (U+D800..U+DFFF), as in Python.
 *
 * Returns a negative number, zero or a positive number, so it can be passed to `Array.prototype.sort`.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below the surrogate range the code unit is the code point, whatever precedes it.
    if (x < 0xd800 || y < 0xd800) return x - y;
    return compareAtSurrogate(a, b, i, x, y);
  }
  return a.length - b.length;
}

function compareAtSurrogate(a: string, b: string, i: number, x: number, y: number): number {
  // Both strings are equal before index i. If a high surrogate precedes i, it may start a pair in one
  // string and stand alone in the other.
  if (i > 0) {
    const prev = a.charCodeAt(i - 1);
    if (prev >= 0xd800 && prev <= 0xdbff) {
      const pairA = x >= 0xdc00 && x <= 0xdfff;
      const pairB = y >= 0xdc00 && y <= 0xdfff;
      if (pairA && pairB) return x - y;
      // A pair (>= U+10000) sorts after the lone high surrogate (U+D800..U+DBFF).
      if (pairA) return 1;
      if (pairB) return -1;
      // Both lone: the code points start at i.
    }
  }
  // codePointAt(i) starts with the differing unit, so the two values differ.
  return (a.codePointAt(i) as number) - (b.codePointAt(i) as number);
}

/** Sorts property names in place by code point; cheap when they are already sorted (the usual case). */
export function sortKeysByCodePoint(keys: string[]): string[] {
  for (let i = 1; i < keys.length; i++) {
    if (compareCodePoints(keys[i - 1] as string, keys[i] as string) > 0) {
      keys.sort(compareCodePoints);
      break;
    }
  }
  return keys;
}

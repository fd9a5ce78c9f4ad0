/**
 * Key order of parsed objects that JavaScript cannot represent by itself.
 *
 * JavaScript enumerates array-index keys ("0", "9", "10", ...) in numeric order ahead of all other keys,
 * whatever order they were added in. Python keeps insertion order, and some documents are written
 * without key sorting (log records, `karton.outputs` members), so the parser remembers the text order of
 * the few objects where the two differ, and `stringify(..., { sortKeys: false })` writes them in that order.
 */
const parsedOrder = new WeakMap<object, readonly string[]>();

/** True for keys that JavaScript enumerates as array indices: canonical integers below 2^32 - 1. */
export function isArrayIndexKey(key: string): boolean {
  const len = key.length;
  if (len === 0 || len > 10) return false;
  const c0 = key.charCodeAt(0);
  if (c0 < 0x30 || c0 > 0x39 || (c0 === 0x30 && len > 1)) return false;
  for (let i = 1; i < len; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return len < 10 || Number(key) < 4294967295;
}

/** Records `order` (the text order of the keys of `obj`) if JavaScript enumerates them differently. */
export function rememberKeyOrder(obj: object, order: string[]): void {
  const actual = Object.keys(obj);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== order[i]) {
      parsedOrder.set(obj, order);
      return;
    }
  }
}

/** The keys of `obj` in insertion order as far as it is known: text order for parsed objects. */
export function keysInInsertionOrder(obj: object): string[] {
  const keys = Object.keys(obj);
  const remembered = parsedOrder.get(obj);
  if (remembered === undefined) return keys;
  // The object may have changed since it was parsed: drop deleted keys, append new ones.
  const present = new Set(keys);
  const result: string[] = [];
  for (const k of remembered) {
    if (present.delete(k)) result.push(k);
  }
  for (const k of present) result.push(k);
  return result;
}

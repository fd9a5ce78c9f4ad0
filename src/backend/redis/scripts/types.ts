/**
 * A Lua script run with EVALSHA (loaded by ioredis `defineCommand`, re-sent with EVAL after a
 * NOSCRIPT, e.g. after a Redis restart). The source is embedded as a TypeScript string so the
 * scripts are found at run time both from `src/` (vitest) and from `dist/` (built), with no asset
 * copying.
 */
export interface LuaScript {
  /** Command name given to ioredis (`<name>` in the BullMQ-style `<name>-<numKeys>` naming). */
  name: string;
  /** Fixed number of KEYS, or undefined when the caller passes it first (variable key count). */
  numberOfKeys: number | undefined;
  lua: string;
}

import type { LuaScript } from "./types.js";

/**
 * takeUnrouted-2: moves up to ARGV[1] more uids from the head of karton.tasks to the tail of a
 * router's routing list, atomically. Used after the blocking BLMOVE of the first uid.
 *
 * KEYS[1] = karton.tasks, KEYS[2] = karton.ts.routing:<instanceId>; ARGV[1] = max count
 * Returns the moved uids in order.
 */
export const takeUnrouted: LuaScript = {
  name: "takeUnrouted",
  numberOfKeys: 2,
  lua: `
local max = tonumber(ARGV[1])
local moved = {}
while #moved < max do
  local uid = redis.call("LMOVE", KEYS[1], KEYS[2], "LEFT", "RIGHT")
  if not uid then break end
  moved[#moved + 1] = uid
end
return moved
`,
};

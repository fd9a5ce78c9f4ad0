import type { LuaScript } from "./types.js";

/**
 * claimTask-5: atomically moves the next task uid of a consumer into its instance's claim list.
 *
 * KEYS[1..4] = bare identity list, karton.queue.high:<id>, .normal:<id>, .low:<id> (pop order)
 * KEYS[5]    = karton.ts.claims:<instanceId>
 * Returns the uid, or nil when all four queues are empty. Non-blocking.
 */
export const claimTask: LuaScript = {
  name: "claimTask",
  numberOfKeys: 5,
  lua: `
for i = 1, 4 do
  local uid = redis.call("LMOVE", KEYS[i], KEYS[5], "LEFT", "RIGHT")
  if uid then return uid end
end
return false
`,
};

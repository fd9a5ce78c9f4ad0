import type { LuaScript } from "./types.js";

/**
 * completeClaimed: writes the final document of a claimed task and releases the claim.
 *
 * KEYS[1] = karton.task:<uid>, KEYS[2] = karton.ts.claims:<instanceId>, KEYS[3] = karton.ts.attempts,
 * KEYS[4..] = karton.metrics.<m> hashes to increment for the identity
 * ARGV[1] = document, ARGV[2] = uid, ARGV[3] = identity
 *
 * The document is always written (last writer wins, as in Python). The metrics are counted only
 * when this call released the claim, so a retry after a lost reply never counts twice.
 * Returns the number of claim entries removed (0 or 1).
 */
export const completeClaimed: LuaScript = {
  name: "completeClaimed",
  numberOfKeys: undefined,
  lua: `
redis.call("SET", KEYS[1], ARGV[1])
local removed = redis.call("LREM", KEYS[2], 0, ARGV[2])
redis.call("HDEL", KEYS[3], ARGV[2])
if removed > 0 then
  for i = 4, #KEYS do
    redis.call("HINCRBY", KEYS[i], ARGV[3], 1)
  end
end
return removed
`,
};

import type { LuaScript } from "./types.js";

/**
 * requeueAbandoned-4: puts one claim of a dead consumer back into its queue, once.
 *
 * KEYS[1] = karton.ts.claims:<dead instance>, KEYS[2] = karton.task:<uid>,
 * KEYS[3] = karton.queue.<priority>:<identity>, KEYS[4] = karton.ts.attempts
 * ARGV[1] = uid, ARGV[2] = document (status Spawned)
 * Only when the uid was still claimed (LREM removed it): SET, RPUSH, HINCRBY attempts. Returns 1/0.
 */
export const requeueAbandoned: LuaScript = {
  name: "requeueAbandoned",
  numberOfKeys: 4,
  lua: `
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then return 0 end
redis.call("SET", KEYS[2], ARGV[2])
redis.call("RPUSH", KEYS[3], ARGV[1])
redis.call("HINCRBY", KEYS[4], ARGV[1], 1)
return 1
`,
};

/**
 * crashAbandoned-4: finishes one claim of a dead consumer as Crashed, once.
 *
 * KEYS[1] = karton.ts.claims:<dead instance>, KEYS[2] = karton.task:<uid>,
 * KEYS[3] = karton.metrics.crashed, KEYS[4] = karton.ts.attempts
 * ARGV[1] = uid, ARGV[2] = document (status Crashed), ARGV[3] = identity
 * Returns 1 when this call did it, 0 when the claim was already gone.
 */
export const crashAbandoned: LuaScript = {
  name: "crashAbandoned",
  numberOfKeys: 4,
  lua: `
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then return 0 end
redis.call("SET", KEYS[2], ARGV[2])
redis.call("HINCRBY", KEYS[3], ARGV[3], 1)
redis.call("HDEL", KEYS[4], ARGV[1])
return 1
`,
};

/**
 * returnAbandonedUnrouted-2: hands a dead router's taken uids back to the head of karton.tasks,
 * keeping their order, and deletes its routing list.
 *
 * KEYS[1] = karton.ts.routing:<dead instance>, KEYS[2] = karton.tasks. Returns the count.
 */
export const returnAbandonedUnrouted: LuaScript = {
  name: "returnAbandonedUnrouted",
  numberOfKeys: 2,
  lua: `
local n = 0
while redis.call("LMOVE", KEYS[1], KEYS[2], "RIGHT", "LEFT") do
  n = n + 1
end
redis.call("DEL", KEYS[1])
return n
`,
};

/**
 * forgetInstance-4: removes an instance's registration (and heartbeat) only when it holds no
 * claim and no routing batch any more, so nothing can become unrecoverable.
 *
 * KEYS[1] = karton.ts.instances, KEYS[2] = claims list, KEYS[3] = routing list, KEYS[4] = alive key
 * ARGV[1] = instanceId, ARGV[2] = "1" to delete the heartbeat too (clean shutdown of this instance)
 * Returns 1 when forgotten, 0 when claims remain (registration kept for recovery).
 */
export const forgetInstance: LuaScript = {
  name: "forgetInstance",
  numberOfKeys: 4,
  lua: `
if ARGV[2] == "1" then redis.call("DEL", KEYS[4]) end
if redis.call("LLEN", KEYS[2]) > 0 or redis.call("LLEN", KEYS[3]) > 0 then return 0 end
redis.call("HDEL", KEYS[1], ARGV[1])
return 1
`,
};

/**
 * handBackClaimed-3: gives a claimed, unprocessed task back (graceful shutdown): the uid goes back
 * to the HEAD of its queue (it was taken from there), the document is written, the claim released.
 *
 * KEYS[1] = karton.ts.claims:<instanceId>, KEYS[2] = karton.task:<uid>, KEYS[3] = queue key
 * ARGV[1] = uid, ARGV[2] = document (status Spawned)
 * Does nothing and returns 0 when the claim is gone (already recovered elsewhere): pushing the uid
 * again would hand the task out twice.
 */
export const handBackClaimed: LuaScript = {
  name: "handBackClaimed",
  numberOfKeys: 3,
  lua: `
if redis.call("LREM", KEYS[1], 0, ARGV[1]) == 0 then return 0 end
redis.call("SET", KEYS[2], ARGV[2])
redis.call("LPUSH", KEYS[3], ARGV[1])
return 1
`,
};

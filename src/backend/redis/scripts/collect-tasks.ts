import type { LuaScript } from "./types.js";

/**
 * collectTasks: deletes task documents for the garbage collector and counts each one that this
 * call actually deleted, so a document seen twice by a SCAN (or judged by two collectors) is
 * counted once.
 *
 * KEYS[1] = karton.metrics.garbage-collected, KEYS[2] = karton.ts.attempts, KEYS[3..] = task keys
 * ARGV[1..] = the receiver of each task key ("unknown" when none), ARGV[#KEYS - 1] = the uid of the
 * first task key, and so on: ARGV = receivers..., uids...
 * Per key: DEL; then one HINCRBY per receiver with the number deleted, and HDEL of the uids'
 * recovery attempts. Returns the number of documents deleted.
 */
export const collectTasks: LuaScript = {
  name: "collectTasks",
  numberOfKeys: undefined,
  lua: `
local n = #KEYS - 2
local counts = {}
local receivers = {}
local deleted = 0
for i = 1, n do
  if redis.call("DEL", KEYS[i + 2]) == 1 then
    deleted = deleted + 1
    local receiver = ARGV[i]
    local c = counts[receiver]
    if c then
      counts[receiver] = c + 1
    else
      counts[receiver] = 1
      receivers[#receivers + 1] = receiver
    end
  end
end
for _, receiver in ipairs(receivers) do
  redis.call("HINCRBY", KEYS[1], receiver, counts[receiver])
end
if n > 0 then redis.call("HDEL", KEYS[2], unpack(ARGV, n + 1, n + n)) end
return deleted
`,
};

import { TASK_KEY_PREFIX } from "../keys.js";
import type { LuaScript } from "./types.js";

/**
 * applyRoutePlan-3: applies one routing batch atomically (all of it or nothing, whatever instant
 * the router dies at), and only once.
 *
 * KEYS[1] = karton.ts.routing:<instanceId>, KEYS[2] = karton.metrics.assigned,
 * KEYS[3] = karton.ts.quarantine
 * ARGV[1] = T (number of taken uids), ARGV[2..T+1] = the taken uids, ARGV[T+2] = quarantine cap,
 * then a sequence of operations:
 *   "O", outputs key, member, ttl ("" = no EXPIRE)      SADD (+ EXPIRE)
 *   "M", text                                           defines document middle #n (n = 1, 2, ...)
 *   "F", head, n, tail, queue key, uid, identity       SET karton.task:<uid> head..middle #n..tail,
 *                                                       RPUSH queue uid; counts a fork for identity
 *   "S", uid, head, n, tail                             finished original (one MSET at the end)
 *   "Q", record JSON                                    RPUSH quarantine (trimmed to the cap)
 * A document is sent in three pieces so that the middle (`"payload": ..., "payload_persistent": ...`,
 * the bulk of it) that a task shares with its forks crosses the wire once (see taskDocumentParts);
 * middle #0 is the empty string.
 *
 * Guard: when uids were taken but none of them is in the routing list any more, the batch was
 * already applied (a retry after a lost reply) or handed back by a recoverer: nothing is done and
 * -1 is returned. Otherwise the operations run in order (SET of a fork before its RPUSH), then one
 * `HINCRBY karton.metrics.assigned <identity> <forks>` per identity (the sum of Python's increments
 * of 1; the script is atomic, so nobody sees the difference), the originals are written with one
 * MSET, and the taken uids leave the routing list.
 * Like MULTI/EXEC, a failing command (e.g. WRONGTYPE) does not stop the others; the errors are
 * returned as strings. Returns the list of error messages (empty on success).
 */
export const applyRoutePlan: LuaScript = {
  name: "applyRoutePlan",
  numberOfKeys: 3,
  lua: `
local TASK_KEY_PREFIX = "${TASK_KEY_PREFIX}"
local taken = tonumber(ARGV[1])
if taken > 0 then
  local present = false
  for i = 2, taken + 1 do
    if redis.call("LPOS", KEYS[1], ARGV[i]) then
      present = true
      break
    end
  end
  if not present then return -1 end
end
local errors = {}
local function run(...)
  local reply = redis.pcall(...)
  if type(reply) == "table" and reply.err then errors[#errors + 1] = reply.err end
end
local mset = {}
local assigned = {}
local identities = {}
local middles = {}
middles[0] = ""
local quarantined = 0
local i = taken + 3
while i <= #ARGV do
  local op = ARGV[i]
  if op == "F" then
    run("SET", TASK_KEY_PREFIX .. ARGV[i + 5], ARGV[i + 1] .. middles[tonumber(ARGV[i + 2])] .. ARGV[i + 3])
    run("RPUSH", ARGV[i + 4], ARGV[i + 5])
    local identity = ARGV[i + 6]
    local n = assigned[identity]
    if n then
      assigned[identity] = n + 1
    else
      assigned[identity] = 1
      identities[#identities + 1] = identity
    end
    i = i + 7
  elseif op == "M" then
    middles[#middles + 1] = ARGV[i + 1]
    i = i + 2
  elseif op == "S" then
    mset[#mset + 1] = TASK_KEY_PREFIX .. ARGV[i + 1]
    mset[#mset + 1] = ARGV[i + 2] .. middles[tonumber(ARGV[i + 3])] .. ARGV[i + 4]
    i = i + 5
  elseif op == "O" then
    run("SADD", ARGV[i + 1], ARGV[i + 2])
    if ARGV[i + 3] ~= "" then run("EXPIRE", ARGV[i + 1], ARGV[i + 3]) end
    i = i + 4
  elseif op == "Q" then
    run("RPUSH", KEYS[3], ARGV[i + 1])
    quarantined = quarantined + 1
    i = i + 2
  else
    return redis.error_reply("applyRoutePlan: unknown operation " .. tostring(op))
  end
end
for _, identity in ipairs(identities) do
  run("HINCRBY", KEYS[2], identity, assigned[identity])
end
local chunk = 1000
for first = 1, #mset, chunk do
  local last = math.min(first + chunk - 1, #mset)
  run("MSET", unpack(mset, first, last))
end
if quarantined > 0 then run("LTRIM", KEYS[3], -tonumber(ARGV[taken + 2]), -1) end
for j = 2, taken + 1 do
  redis.call("LREM", KEYS[1], 0, ARGV[j])
end
return errors
`,
};

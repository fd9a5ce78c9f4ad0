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
 *   "F", task key, document, queue key, uid, identity   SET, RPUSH, HINCRBY assigned identity 1
 *   "S", task key, document                             finished original (one MSET at the end)
 *   "Q", record JSON                                    RPUSH quarantine (trimmed to the cap)
 *
 * Guard: when uids were taken but none of them is in the routing list any more, the batch was
 * already applied (a retry after a lost reply) or handed back by a recoverer: nothing is done and
 * -1 is returned. Otherwise the operations run in order (SET of a fork before its RPUSH), the
 * originals are written with one MSET, and the taken uids leave the routing list.
 * Like MULTI/EXEC, a failing command (e.g. WRONGTYPE) does not stop the others; the errors are
 * returned as strings. Returns the list of error messages (empty on success).
 */
export const applyRoutePlan: LuaScript = {
  name: "applyRoutePlan",
  numberOfKeys: 3,
  lua: `
local taken = tonumber(ARGV[1])
if taken > 0 then
  local present = 0
  for i = 2, taken + 1 do
    if redis.call("LPOS", KEYS[1], ARGV[i]) then present = present + 1 end
  end
  if present == 0 then return -1 end
end
local errors = {}
local function run(...)
  local reply = redis.pcall(...)
  if type(reply) == "table" and reply.err then errors[#errors + 1] = reply.err end
end
local mset = {}
local quarantined = 0
local i = taken + 3
while i <= #ARGV do
  local op = ARGV[i]
  if op == "O" then
    run("SADD", ARGV[i + 1], ARGV[i + 2])
    if ARGV[i + 3] ~= "" then run("EXPIRE", ARGV[i + 1], ARGV[i + 3]) end
    i = i + 4
  elseif op == "F" then
    run("SET", ARGV[i + 1], ARGV[i + 2])
    run("RPUSH", ARGV[i + 3], ARGV[i + 4])
    run("HINCRBY", KEYS[2], ARGV[i + 5], 1)
    i = i + 6
  elseif op == "S" then
    mset[#mset + 1] = ARGV[i + 1]
    mset[#mset + 1] = ARGV[i + 2]
    i = i + 3
  elseif op == "Q" then
    run("RPUSH", KEYS[3], ARGV[i + 1])
    quarantined = quarantined + 1
    i = i + 2
  else
    return redis.error_reply("applyRoutePlan: unknown operation " .. tostring(op))
  end
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

import { taskDocumentsLua } from "./task-documents.js";
import type { LuaScript } from "./types.js";

/**
 * claimWithBind-6: a consumer's bind check, claims and reads in one round trip. Reads the stored
 * bind of the identity; only when it is exactly the expected value, moves up to ARGV[3] task uids,
 * each from the first non-empty of the bare identity list, high, normal and low (strict priority),
 * into the instance's claim list, and reads their documents.
 *
 * KEYS[1..4] = bare identity list, karton.queue.high:<id>, .normal:<id>, .low:<id> (pop order)
 * KEYS[5]    = karton.ts.claims:<instanceId>, KEYS[6] = karton.binds
 * ARGV[1]    = identity, ARGV[2] = expected bind value, ARGV[3] = how many tasks at most
 * Returns {bind, uids, documents} (bind nil when there is none; no uid when the bind differs or the
 * queues are empty; a document nil when missing). Non-blocking.
 */
export const claimWithBind: LuaScript = {
  name: "claimWithBind",
  numberOfKeys: 6,
  lua: `${taskDocumentsLua}
local bind = redis.call("HGET", KEYS[6], ARGV[1])
local uids = {}
if bind ~= ARGV[2] then return {bind, uids, {}} end
local max = tonumber(ARGV[3])
local queue = 1
while #uids < max and queue <= 4 do
  local uid = redis.call("LMOVE", KEYS[queue], KEYS[5], "LEFT", "RIGHT")
  if uid then uids[#uids + 1] = uid else queue = queue + 1 end
end
local docs = taskDocuments(uids)
return {bind, uids, docs}
`,
};

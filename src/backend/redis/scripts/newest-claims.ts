import { TASK_KEY_PREFIX } from "../keys.js";
import type { LuaScript } from "./types.js";

/**
 * newestClaims-1: the last ARGV[1] uids of a claim list and their documents (MGET). A consumer sends
 * it right behind the BLMOVE that claims a task, on the same connection, so the document comes with
 * the claim instead of one round trip later; the claimed uid is looked up among those returned (other
 * claims of the same process may land in the list in between).
 *
 * KEYS[1] = karton.ts.claims:<instanceId>; ARGV[1] = how many uids from the tail
 * Returns {uids, documents (nil when missing)}.
 */
export const newestClaims: LuaScript = {
  name: "newestClaims",
  numberOfKeys: 1,
  lua: `
local uids = redis.call("LRANGE", KEYS[1], -tonumber(ARGV[1]), -1)
local docs = {}
if #uids > 0 then
  local keys = {}
  for i = 1, #uids do keys[i] = "${TASK_KEY_PREFIX}" .. uids[i] end
  docs = redis.call("MGET", unpack(keys))
end
return {uids, docs}
`,
};

import { taskDocumentsLua } from "./task-documents.js";
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
  lua: `${taskDocumentsLua}
local uids = redis.call("LRANGE", KEYS[1], -tonumber(ARGV[1]), -1)
local docs = taskDocuments(uids)
return {uids, docs}
`,
};

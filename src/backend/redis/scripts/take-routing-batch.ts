import { taskDocumentsLua } from "./task-documents.js";
import type { LuaScript } from "./types.js";

/**
 * takeRoutingBatch-3: what a router needs for one batch, in one round trip: moves up to ARGV[1]
 * uids from the head of karton.tasks to the tail of the router's routing list, reads their
 * documents (MGET) and the binds (HGETALL). With ARGV[3] = "*", the batch starts with the uids
 * already in the routing list except ARGV[4..] (the uids of a batch being applied): the router sends
 * the script right behind a BLMOVE on the same connection, so the uid the BLMOVE brings is routed
 * without another round trip.
 *
 * The binds change rarely and a router takes a batch per lone task, so they are sent only when
 * their digest differs from the one the router already holds, ARGV[2] ("" for none): the SHA1 of
 * the fields and values in HGETALL order, NUL-separated (bind values are JSON, which has no raw NUL;
 * length prefixes would double the script's time).
 *
 * KEYS[1] = karton.tasks, KEYS[2] = karton.ts.routing:<instanceId>, KEYS[3] = karton.binds
 * Returns {uids, documents (nil when missing), binds digest[, binds as HGETALL's flat field/value
 * list when the digest is not ARGV[2]]}.
 * The documents are read with the keys built here from the uids (`karton.task:<uid>`), as the
 * router would right after the move; Python's router reads them with MGET too.
 */
export const takeRoutingBatch: LuaScript = {
  name: "takeRoutingBatch",
  numberOfKeys: 3,
  lua: `${taskDocumentsLua}
local max = tonumber(ARGV[1])
local uids = {}
if ARGV[3] == "*" then
  local applying = {}
  for i = 4, #ARGV do applying[ARGV[i]] = true end
  for _, uid in ipairs(redis.call("LRANGE", KEYS[2], 0, -1)) do
    if not applying[uid] then uids[#uids + 1] = uid end
  end
end
local moved = 0
while moved < max do
  local uid = redis.call("LMOVE", KEYS[1], KEYS[2], "LEFT", "RIGHT")
  if not uid then break end
  uids[#uids + 1] = uid
  moved = moved + 1
end
local docs = taskDocuments(uids)
local binds = redis.call("HGETALL", KEYS[3])
local digest = redis.sha1hex(table.concat(binds, "\0"))
if digest == ARGV[2] then return {uids, docs, digest} end
return {uids, docs, digest, binds}
`,
};

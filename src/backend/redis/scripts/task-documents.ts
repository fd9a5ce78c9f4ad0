import { TASK_KEY_PREFIX } from "../keys.js";

/**
 * Lua shared by the scripts that return task documents with uids: `taskDocuments(uids)` is the MGET
 * of their `karton.task:<uid>` keys (nil where missing), {} for no uids.
 */
export const taskDocumentsLua = `
local function taskDocuments(uids)
  if #uids == 0 then return {} end
  local keys = {}
  for i = 1, #uids do keys[i] = "${TASK_KEY_PREFIX}" .. uids[i] end
  return redis.call("MGET", unpack(keys))
end
`;

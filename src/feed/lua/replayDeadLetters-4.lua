--[[
  Gives dead letters back to their group: each moves, in this one step, from
  the group's dead letters to its replay stream (a new id 0-<n>, field rp_from
  = the original id, then the original fields), where only this group reads
  it, as a new delivery. Ids no longer among the dead letters are skipped.

  KEYS[1] groups   KEYS[2] dlq   KEYS[3] replay   KEYS[4] meta

  ARGV[1] group
  ARGV[2] with no ids: replay the oldest this many
  ARGV[3..] dead letter ids

  Output: { code, replayed, remaining }
    OK               remaining: dead letters the group still has
    GROUP_NOT_FOUND  the event has no such group
]]
local k = { groups = KEYS[1], dlq = KEYS[2], replay = KEYS[3], meta = KEYS[4] }
local group, limit = ARGV[1], tonumber(ARGV[2])

if redis.call('SISMEMBER', k.groups, group) == 0 then
  return { GROUP_NOT_FOUND, 0, 0 }
end

local letters = {}
if #ARGV > 2 then
  local seen = {}
  for i = 3, #ARGV do
    local entry = not seen[ARGV[i]] and redis.call('XRANGE', k.dlq, ARGV[i], ARGV[i])[1]
    seen[ARGV[i]] = true
    if entry then
      letters[#letters + 1] = entry
    end
  end
else
  letters = redis.call('XRANGE', k.dlq, '-', '+', 'COUNT', limit)
end

-- Writes start here.
local replayed = 0
for _, entry in ipairs(letters) do
  -- The dead letter's own fields come first (see feed-lib.lua), the original's after them.
  local fields = entry[2]
  redis.call('XADD', k.replay, '0-*', 'rp_from', fields[2], unpack(fields, DL_FIELDS * 2 + 1))
  redis.call('XDEL', k.dlq, entry[1])
  replayed = replayed + 1
end
if replayed > 0 then
  redis.call('HINCRBY', k.meta, 'replayed_total', replayed)
end
return { OK, replayed, redis.call('XLEN', k.dlq) }

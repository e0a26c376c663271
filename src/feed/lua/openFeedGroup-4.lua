--[[
  Creates a consumer group on an event's change feed, or finds it. Creating
  one makes the outbox stream if the event has none yet, so a group can exist
  before the event's first change.

  KEYS[1] log   KEYS[2] replay   KEYS[3] groups   KEYS[4] meta

  ARGV[1] group
  ARGV[2] where a new group starts: "$" (new entries only), "0" (every entry held), or an entry id
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code }
    GROUP_CREATED  the group was made, on the outbox and on its replay stream
    GROUP_EXISTS   the group already existed on the outbox (its start is not changed)
]]
local k = { log = KEYS[1], replay = KEYS[2], groups = KEYS[3], meta = KEYS[4] }
local group, start = ARGV[1], ARGV[2]

local on_log = group_info(k.log, group) ~= nil
local on_replay = group_info(k.replay, group) ~= nil
if on_log and on_replay then
  return { GROUP_EXISTS }
end

-- Writes start here. (A group missing from one stream only, say after its
-- replay stream was deleted by hand, is completed.)
if not on_replay then
  redis.call('XGROUP', 'CREATE', k.replay, group, '0', 'MKSTREAM')
end
if on_log then
  return { GROUP_EXISTS }
end
redis.call('XGROUP', 'CREATE', k.log, group, start, 'MKSTREAM')
redis.call('SADD', k.groups, group)
redis.call('HSETNX', k.meta, 'created_ms', int_str(now_ms(ARGV[3])))
return { GROUP_CREATED }

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
    GROUP_EXISTS   the group already existed; nothing changed
]]
local k = { log = KEYS[1], replay = KEYS[2], groups = KEYS[3], meta = KEYS[4] }
local group, start = ARGV[1], ARGV[2]

local infos = redis.pcall('XINFO', 'GROUPS', k.log)
if not infos.err then
  for _, info in ipairs(infos) do
    if field_of(info, 'name') == group then
      return { GROUP_EXISTS }
    end
  end
end

-- Writes start here.
redis.call('XGROUP', 'CREATE', k.log, group, start, 'MKSTREAM')
local replay = redis.pcall('XGROUP', 'CREATE', k.replay, group, '0', 'MKSTREAM')
if replay.err and not string.find(replay.err, 'BUSYGROUP', 1, true) then
  return redis.error_reply(replay.err)
end
redis.call('SADD', k.groups, group)
redis.call('HSETNX', k.meta, 'created_ms', int_str(now_ms(ARGV[3])))
return { GROUP_CREATED }

--[[
  Acknowledges delivered entries for a group. Ids that are not pending (never
  delivered, already acknowledged, another group's) are skipped. Idempotent.

  KEYS[1] log   KEYS[2] replay   KEYS[3] due   KEYS[4] meta

  ARGV[1] group
  ARGV[2..] entry ids: outbox ids, or 0-<n> for replayed dead letters

  Output: { OK, acknowledged }
]]
local k = { log = KEYS[1], replay = KEYS[2], due = KEYS[3], meta = KEYS[4] }
local group = ARGV[1]

local acked = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local stream = k.log
  if is_replay_id(id) then
    stream = k.replay
  end
  if redis.call('XACK', stream, group, id) == 1 then
    acked = acked + 1
    redis.call('ZREM', k.due, id)
    if stream == k.replay then
      redis.call('XDEL', k.replay, id)
    end
  end
end
if acked > 0 then
  redis.call('HINCRBY', k.meta, 'acked_total', acked)
end
return { OK, acked }

--[[
  Reads an event's outbox stream for the feed's stats: its size, ends and groups.

  KEYS[1] log   KEYS[2] groups

  Output: { OK, length, first_id ("" when empty), last_id ("" when empty), { group, ... } }
]]
local k = { log = KEYS[1], groups = KEYS[2] }

local first = redis.call('XRANGE', k.log, '-', '+', 'COUNT', 1)[1]
local last = redis.call('XREVRANGE', k.log, '+', '-', 'COUNT', 1)[1]
local groups = redis.call('SMEMBERS', k.groups)
table.sort(groups)
return { OK, redis.call('XLEN', k.log), first and first[1] or '', last and last[1] or '', groups }

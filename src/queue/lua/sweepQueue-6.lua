--[[
  Periodic maintenance of one event's line: expires idle waiters in a bounded batch.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] seen
  KEYS[4] tickets  KEYS[5] stats     KEYS[6] log

  ARGV[1] clock skew ms (tests only; "0" in production)
  ARGV[2] batch limit

  Output: { code, expired, more (1 when another batch is due) }
    OK               swept
    EVENT_NOT_FOUND  no queue configured for the event
  Events: queue.expired
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], seen = KEYS[3],
  tickets = KEYS[4], stats = KEYS[5], log = KEYS[6],
}
local skew, limit = ARGV[1], tonumber(ARGV[2])

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0 }
end

local expired, more = expire_idle(k, now_ms(skew), idle_ms_of(k.config), limit)
return { OK, expired, more and 1 or 0 }

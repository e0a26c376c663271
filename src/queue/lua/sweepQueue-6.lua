--[[
  Periodic maintenance of one event's line: expires idle waiters in a bounded
  batch, and trims the outbox to its retention (exactly: an event nobody
  writes to still loses its old entries).

  KEYS[1] config   KEYS[2] waiting   KEYS[3] seen
  KEYS[4] tickets  KEYS[5] stats     KEYS[6] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything (here: exactly, by this sweep)
  ARGV[2] clock skew ms (tests only; "0" in production)
  ARGV[3] batch limit

  Output: { code, expired, more (1 when another batch is due) }
    OK               swept
    EVENT_NOT_FOUND  no queue configured for the event
  Events: queue.expired
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], seen = KEYS[3],
  tickets = KEYS[4], stats = KEYS[5], log = KEYS[6], log_min = log_min_of(ARGV[1]),
}
local skew, limit = ARGV[2], tonumber(ARGV[3])

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0 }
end

trim_log(k)
local expired, more = expire_idle(k, now_ms(skew), idle_ms_of(k.config), limit)
return { OK, expired, more and 1 or 0 }

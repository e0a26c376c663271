--[[
  Periodic maintenance of one event's inventory: expires due holds in a
  bounded batch, returning their seats, and trims the outbox to its retention
  (exactly: an event nobody writes to still loses its old entries).

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds
  KEYS[5] expiry  KEYS[6] users   KEYS[7] counts KEYS[8] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything (here: exactly, by this sweep)
  ARGV[2] clock skew ms (tests only; "0" in production)
  ARGV[3] batch limit

  Output: { code, expired, more (1 when another batch is due) }
    OK               swept
    EVENT_NOT_FOUND  no seat map
  Events: seat.expired
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4],
  expiry = KEYS[5], users = KEYS[6], counts = KEYS[7], log = KEYS[8], log_min = log_min_of(ARGV[1]),
}
local skew, limit = ARGV[2], tonumber(ARGV[3])

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0 }
end

trim_log(k)
local expired, more = expire_due(k, now_ms(skew), limit)
return { OK, expired, more and 1 or 0 }

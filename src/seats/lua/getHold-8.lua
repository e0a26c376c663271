--[[
  Reads a hold. A HELD hold past its expiry expires here and reads EXPIRED.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds
  KEYS[5] expiry  KEYS[6] users   KEYS[7] counts KEYS[8] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] hold id
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code, hold, {}, 0 }   (hold as in hold_view, seat-lib.lua)
    OK               the hold (any state)
    EVENT_NOT_FOUND  HOLD_NOT_FOUND
  Events: seat.expired (expired holds swept on the way, possibly this one)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4],
  expiry = KEYS[5], users = KEYS[6], counts = KEYS[7], log = KEYS[8], log_min = log_min_of(ARGV[1]),
}
local hold_id, skew = ARGV[2], ARGV[3]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, {}, {}, 0 }
end
local now = now_ms(skew)
expire_due(k, now, SWEEP_BATCH)

local h = read_hold(k.holds, hold_id)
if not h then
  return { HOLD_NOT_FOUND, {}, {}, 0 }
end
return { OK, hold_view(k, settle(k, h, now)), {}, 0 }

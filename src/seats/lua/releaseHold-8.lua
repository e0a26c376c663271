--[[
  Gives a hold's seats back to inventory. Idempotent for a released hold.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds
  KEYS[5] expiry  KEYS[6] users   KEYS[7] counts KEYS[8] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] hold id
  ARGV[3] user id
  ARGV[4] clock skew ms (tests only; "0" in production)

  Output: { code, hold, {}, 0 }   (hold as in hold_view, seat-lib.lua)
    RELEASED          the hold, now RELEASED
    ALREADY_RELEASED  it was released before: unchanged
    EVENT_NOT_FOUND   HOLD_NOT_FOUND   NOT_HOLD_OWNER
    HOLD_EXPIRED      its seats went back when it expired
    HOLD_CONFIRMED    sold seats are not released
  Events: seat.released; seat.expired (expired holds swept on the way, possibly this one)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4],
  expiry = KEYS[5], users = KEYS[6], counts = KEYS[7], log = KEYS[8], log_min = log_min_of(ARGV[1]),
}
local hold_id, user, skew = ARGV[2], ARGV[3], ARGV[4]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, {}, {}, 0 }
end
local now = now_ms(skew)
expire_due(k, now, SWEEP_BATCH)

local h, refusal = owned_hold(k, hold_id, user, now)
if h and h.state == H_RELEASED then
  return { ALREADY_RELEASED, hold_view(k, h), {}, 0 }
end
refusal = refusal or ended_refusal(h)
if refusal then
  return { refusal, {}, {}, 0 }
end

-- Writes start here.
end_hold(k, h, H_RELEASED, CT_SEAT_RELEASED)
return { RELEASED, hold_view(k, h), {}, 0 }

--[[
  Pushes a live hold's expiry out to min(now + ttl, created + max hold lifetime);
  never brings it sooner.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds
  KEYS[5] expiry  KEYS[6] users   KEYS[7] counts KEYS[8] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] hold id
  ARGV[3] user id
  ARGV[4] clock skew ms (tests only; "0" in production)
  ARGV[5] ttl seconds; "" = the event's hold TTL

  Output: { code, hold, {}, 0 }   (hold as in hold_view, seat-lib.lua)
    EXTENDED         the hold with its new expiry (unchanged, and nothing written,
                     when it already was as late)
    EVENT_NOT_FOUND  HOLD_NOT_FOUND  NOT_HOLD_OWNER
    HOLD_EXPIRED     HOLD_RELEASED   HOLD_CONFIRMED   the hold is not live
  Events: seat.extended (+ expires, the new expiry) when the expiry moved later;
    seat.expired (expired holds swept on the way, possibly this one)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4],
  expiry = KEYS[5], users = KEYS[6], counts = KEYS[7], log = KEYS[8], log_min = log_min_of(ARGV[1]),
}
local hold_id, user, skew, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local settings = settings_of(k.config)
if not settings then
  return { EVENT_NOT_FOUND, {}, {}, 0 }
end
local now = now_ms(skew)
expire_due(k, now, SWEEP_BATCH)

local h, refusal = owned_hold(k, hold_id, user, now)
refusal = refusal or ended_refusal(h)
if refusal then
  return { refusal, {}, {}, 0 }
end

local ttl_ms = ttl == '' and settings.hold_ttl or tonumber(ttl) * 1000
local expires = math.min(now + ttl_ms, h.created + settings.max_hold)
if expires <= h.expires then
  return { EXTENDED, hold_view(k, h), {}, 0 }
end

-- Writes start here.
h.expires = expires
redis.call('ZADD', k.expiry, int_str(h.expires), hold_id)
write_hold(k.holds, h)
local places = places_of(k, h.seats)
log_change(k, CT_SEAT_EXTENDED, h, places, { 'expires', int_str(h.expires) })
return { EXTENDED, hold_view(k, h, places), {}, 0 }

--[[
  Turns a live hold into a sale. Idempotent for the same order id. The hold id
  is the fencing token: an expired hold is never confirmed, even when its
  seats are still free. A sale ends the user's admission session, if one is
  active, freeing its max_active slot.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds
  KEYS[5] expiry  KEYS[6] users   KEYS[7] counts KEYS[8] log
  KEYS[9] the event's queue ticket bucket of the user   KEYS[10] the event's queue active sessions

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] hold id
  ARGV[3] user id
  ARGV[4] order id
  ARGV[5] clock skew ms (tests only; "0" in production)

  Output: { code, hold, {}, 0 }   (hold as in hold_view, seat-lib.lua)
    CONFIRMED          the hold, now CONFIRMED under the order id
    ALREADY_CONFIRMED  confirmed before under the same order id: unchanged (its
                       record is rewritten as it is, for the replication offset)
    HOLD_CONFIRMED     confirmed before under another order id
    EVENT_NOT_FOUND    HOLD_NOT_FOUND   NOT_HOLD_OWNER
    HOLD_EXPIRED       HOLD_RELEASED
  Events: seat.confirmed (+ order); queue.session_ended (reason confirmed) when a
    session ends; seat.expired (expired holds swept on the way, possibly this one)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4],
  expiry = KEYS[5], users = KEYS[6], counts = KEYS[7], log = KEYS[8],
  tickets = KEYS[9], active = KEYS[10], log_min = log_min_of(ARGV[1]),
}
local hold_id, user, order, skew = ARGV[2], ARGV[3], ARGV[4], ARGV[5]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, {}, {}, 0 }
end
local now = now_ms(skew)
expire_due(k, now, SWEEP_BATCH)

local h, refusal = owned_hold(k, hold_id, user, now)
if h and h.state == H_CONFIRMED and h.order == order then
  -- The record written again, unchanged: a WAIT behind this call then waits
  -- for a write later than the sale, whichever connection made the sale.
  redis.call('HSET', k.holds, hold_id, redis.call('HGET', k.holds, hold_id))
  return { ALREADY_CONFIRMED, hold_view(k, h), {}, 0 }
end
refusal = refusal or ended_refusal(h)
if refusal then
  return { refusal, {}, {}, 0 }
end

-- Writes start here.
local places, marks = places_of(k, h.seats), {}
for _, seat in ipairs(h.seats) do
  marks[#marks + 1] = seat
  marks[#marks + 1] = 'S' .. hold_id
end
chunked('HSET', k.taken, marks)
count(k, h, places, 'held', -1)
count(k, h, places, 'sold', 1)
redis.call('ZREM', k.expiry, hold_id)
h.state, h.order = H_CONFIRMED, order
write_hold(k.holds, h)
log_change(k, CT_SEAT_CONFIRMED, h, places, { 'order', order })

-- The sale ends the admission session. An admitted ticket record is packed
-- '>BI4I6I6I6': state, seq, joined, issued, expires (src/queue/lua/queue-lib.lua).
if redis.call('ZREM', k.active, user) == 1 then
  local raw = redis.call('HGET', k.tickets, user) or ''
  if #raw == 23 then
    local _, seq, joined, issued, expires = struct.unpack('>BI4I6I6I6', raw)
    redis.call('HSET', k.tickets, user, struct.pack('>BI4I6I6I6', T_LEFT, seq, joined, issued, expires))
    log_entry(k, CT_QUEUE_SESSION_ENDED, 'user', user, 'seq', int_str(seq),
      'reason', 'confirmed', 'issued', int_str(issued), 'expires', int_str(expires))
  end
end
return { CONFIRMED, hold_view(k, h, places), {}, 0 }

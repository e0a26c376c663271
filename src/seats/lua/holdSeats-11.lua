--[[
  Holds seats for a user, all or nothing: explicit seats, a general-admission
  quantity, or the best available seats of a section.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds  KEYS[5] expiry
  KEYS[6] users   KEYS[7] counts  KEYS[8] log    KEYS[9] layout
  KEYS[10] the event's queue `active` sessions (user -> session expiry ms)
  KEYS[11] the request's idempotency record (`request` in src/seats/keys.ts):
           "<hold id>|<sha1 of the selection>", living as long as the hold
           can (the event's maximum hold lifetime); unused without a request id

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] hold id (random, chosen by the caller: the fencing token)
  ARGV[3] user id
  ARGV[4] clock skew ms (tests only; "0" in production)
  ARGV[5] "1" when the caller verified the user's admission pass for this event, else "0"
  ARGV[6] kind: "seats" | "ga" | "best"
  ARGV[7] tier (ga) or section (best); "" for seats
  ARGV[8] quantity (ga, best); "0" for seats
  ARGV[9] the caller's request id (idempotency key per event and user); "" for none
  ARGV[10..] seat ids (seats), distinct

  Output: { code, hold, seat_ids, n }   (hold as in hold_view, seat-lib.lua)
    HELD                the new hold
    ALREADY_HELD        this user already has a hold with this id, or made one
                        under this request id with the same selection: it, as it
                        stands (HELD, or RELEASED, CONFIRMED, EXPIRED since)
    REQUEST_ID_REUSED   the request id made a hold of another selection
    EVENT_NOT_FOUND     no seat map
    PASS_REQUIRED       the seat map requires an admission pass and none was verified
    SESSION_NOT_ACTIVE  the pass verified, but the user's admission session has ended
    HOLD_ID_TAKEN       another user's hold has this id
    UNKNOWN_SEAT        seat_ids = the requested seats the map does not have
    UNKNOWN_SECTION     UNKNOWN_TIER
    SEAT_LIMIT_REACHED  n = how many more seats the user may take
    SEAT_UNAVAILABLE    seat_ids = the requested seats that are held or sold
    SOLD_OUT            n = available seats of the section or places of the tier
  Events: seat.held (+ expires); seat.expired (expired holds swept on the way)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4], expiry = KEYS[5],
  users = KEYS[6], counts = KEYS[7], log = KEYS[8], layout = KEYS[9], active = KEYS[10], request = KEYS[11],
  log_min = log_min_of(ARGV[1]),
}
local hold_id, user, skew, pass_ok = ARGV[2], ARGV[3], ARGV[4], ARGV[5] == '1'
local kind, target, quantity = ARGV[6], ARGV[7], tonumber(ARGV[8])
local request_id, first_seat = ARGV[9], 10

local settings = settings_of(k.config)
if not settings then
  return { EVENT_NOT_FOUND, {}, {}, 0 }
end
if settings.require_pass and not pass_ok then
  return { PASS_REQUIRED, {}, {}, 0 }
end
local now = now_ms(skew)

-- A retry converges on the first call: its hold as it stands, even after the
-- session or the hold ended. Nothing is written but a due expiry.
local fingerprint
if request_id ~= '' then
  fingerprint = redis.sha1hex(table.concat({ kind, target, ARGV[8], table.concat(ARGV, ',', first_seat) }, '|'))
  local made = redis.call('GET', k.request)
  local made_id, made_print = string.match(made or '', '^([^|]*)|(.*)$')
  local earlier = made_id and read_hold(k.holds, made_id)
  if earlier and made_print ~= fingerprint then
    return { REQUEST_ID_REUSED, {}, {}, 0 }
  elseif earlier then
    return { ALREADY_HELD, hold_view(k, settle(k, earlier, now)), {}, 0 }
  end
end

if settings.require_pass then
  -- A pass verifies offline until it expires; the session may have ended sooner (leave, confirm).
  local session_ends = tonumber(redis.call('ZSCORE', k.active, user))
  if not session_ends or session_ends <= now then
    return { SESSION_NOT_ACTIVE, {}, {}, 0 }
  end
end
expire_due(k, now, SWEEP_BATCH)

local existing = read_hold(k.holds, hold_id)
if existing and existing.user ~= user then
  return { HOLD_ID_TAKEN, {}, {}, 0 }
elseif existing then
  return { ALREADY_HELD, hold_view(k, settle(k, existing, now)), {}, 0 }
end

local h = {
  id = hold_id, user = user, state = H_HELD, created = now, quantity = quantity, tier = '', order = '',
  expires = now + math.min(settings.hold_ttl, settings.max_hold), seats = {},
}

-- Available places of a tier (`t:<id>`) or seats of a section (`s:<id>`); false when it does not exist.
local function available_in(scope)
  local c = redis.call('HMGET', k.counts, scope .. ':cap', scope .. ':held', scope .. ':sold')
  return c[1] and tonumber(c[1]) - tonumber(c[2]) - tonumber(c[3])
end

local available, places = nil, {} -- available: for a tier or section only
if kind == 'seats' then
  local unknown
  h.seats, unknown, places = requested_seats(k, ARGV, first_seat)
  h.quantity = #h.seats
  if #unknown > 0 then
    return { UNKNOWN_SEAT, {}, unknown, 0 }
  end
elseif kind == 'ga' then
  available = available_in('t:' .. target)
  if not available then
    return { UNKNOWN_TIER, {}, {}, 0 }
  end
  h.tier = target
else
  available = available_in('s:' .. target)
  if not available then
    return { UNKNOWN_SECTION, {}, {}, 0 }
  end
end

-- Expired holds blocking requested seats expire first: they may be this user's own.
local busy = kind == 'seats' and unavailable_seats(k, h.seats, now) or {}
local has = tonumber(redis.call('HGET', k.users, user) or '0')
if settings.max_per_user > 0 and has + h.quantity > settings.max_per_user then
  return { SEAT_LIMIT_REACHED, {}, {}, math.max(0, settings.max_per_user - has) }
end
if #busy > 0 then
  return { SEAT_UNAVAILABLE, {}, busy, 0 }
end
if available then
  if kind == 'best' and available >= quantity then
    h.seats, places = best_available(k, target, quantity)
  end
  if available < quantity or not h.seats then
    return { SOLD_OUT, {}, {}, available }
  end
end

-- The hold's own writes start here (only sweeps of expired holds came before).
local marks = {}
for _, seat in ipairs(h.seats) do
  marks[#marks + 1] = seat
  marks[#marks + 1] = 'H' .. hold_id
end
chunked('HSET', k.taken, marks)
count(k, h, places, 'held', 1)
count_free_in_rows(k, places, -1)
redis.call('HINCRBY', k.users, user, h.quantity)
redis.call('ZADD', k.expiry, int_str(h.expires), hold_id)
write_hold(k.holds, h)
if fingerprint then
  redis.call('SET', k.request, hold_id .. '|' .. fingerprint, 'PX', int_str(settings.max_hold))
end
log_change(k, CT_SEAT_HELD, h, places, { 'expires', int_str(h.expires) })
return { HELD, hold_view(k, h, places), {}, 0 }

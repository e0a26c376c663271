-- Shared helpers for the seat scripts, included after the prelude.
--
-- Records (key names in src/seats/keys.ts):
--   seats   hash  seat id -> "section|row"
--   taken   hash  seat id -> "H<hold id>" while held, "S<hold id>" once sold; absent = available
--   holds   hash  hold id -> "state|user|created_ms|expires_ms|quantity|tier|order|seat,seat,..."
--   expiry  zset  HELD hold ids scored by expires_ms
--   users   hash  user id -> seats and GA places the user holds or bought
--   counts  hash  e:cap e:held e:sold, s:<section>:cap|held|sold, t:<tier>:cap|held|sold,
--                 r:<section>|<row> = the row's available seats (what best-available skips full rows by)
--   layout  hash  <section> -> "row,row,..." front to back; <section>|<row> -> "seat,seat,..." left to right
--   request string per (user, HoldSeats request id): "<hold id>|<sha1 of the selection>", expiring
--                 after the event's maximum hold lifetime. Only holdSeats reads or writes it: a retry
--                 answers the hold as it stands, so release, confirm, extend and expiry need not touch it.
-- A hold is live while it is HELD and now < expires_ms. From expires_ms on it
-- is expired; a sweep (or the first script that touches it) returns its seats.
--
-- Outbox entries of a hold (XADD to the event's log; src/redis/change-types.ts) have the fields
--   type      CT_SEAT_HELD | CT_SEAT_EXTENDED | CT_SEAT_RELEASED | CT_SEAT_CONFIRMED | CT_SEAT_EXPIRED
--   hold      hold id
--   user      user id
--   seats     "section|row|seat" per seat, joined by ","; "" for general admission
--   tier      general-admission tier; "" for reserved seats
--   quantity  seats or places in the hold
-- plus "expires" (epoch ms) on seat.held and seat.extended, "order" on seat.confirmed.
-- A loaded map logs CT_SEAT_MAP_LOADED; a sale that ends an admission session
-- logs CT_QUEUE_SESSION_ENDED.

local function split(text, sep)
  local out = {}
  for item in string.gmatch(text, '[^' .. sep .. ']+') do
    out[#out + 1] = item
  end
  return out
end

-- redis.call(cmd, key, items...) in slices of CHUNK items, so no call unpacks a
-- huge table (Lua's stack holds ~8000 values). CHUNK is even: HSET pairs stay
-- whole. Returns the replies of a multi-reply command (HMGET) concatenated.
local function chunked(cmd, key, items)
  local out = {}
  for i = 1, #items, CHUNK do
    local last = math.min(i + CHUNK - 1, #items)
    local reply = redis.call(cmd, key, unpack(items, i, last))
    if type(reply) == 'table' then
      for j = 1, last - i + 1 do
        out[#out + 1] = reply[j]
      end
    end
  end
  return out
end

local function read_hold(holds_key, id)
  local raw = redis.call('HGET', holds_key, id)
  if not raw then
    return nil
  end
  local state, user, created, expires, quantity, tier, order, seats =
    string.match(raw, '^(%d+)|([^|]*)|(%d+)|(%d+)|(%d+)|([^|]*)|([^|]*)|(.*)$')
  return {
    id = id, state = tonumber(state), user = user, created = tonumber(created), expires = tonumber(expires),
    quantity = tonumber(quantity), tier = tier, order = order, seats = split(seats, ','),
  }
end

local function write_hold(holds_key, h)
  local fields = {
    int_str(h.state), h.user, int_str(h.created), int_str(h.expires), int_str(h.quantity),
    h.tier, h.order, table.concat(h.seats, ','),
  }
  redis.call('HSET', holds_key, h.id, table.concat(fields, '|'))
end

-- "section|row" of each seat id, false for a seat the map does not have.
local function places_of(k, seat_ids)
  return chunked('HMGET', k.seats, seat_ids)
end

-- Places grouped: the distinct keys `key_of(place)` in first-seen order, and how many places each has.
local function tally(places, key_of)
  local per, order = {}, {}
  for i = 1, #places do
    local key = key_of(places[i])
    if not per[key] then
      per[key] = 0
      order[#order + 1] = key
    end
    per[key] = per[key] + 1
  end
  return order, per
end

local function section_of(place)
  return string.match(place, '^([^|]*)')
end

local function same(place)
  return place
end

-- Adds delta * quantity to counter `what` (held or sold) of the event and of
-- the hold's tier or of each section its seats are in.
local function count(k, h, places, what, delta)
  redis.call('HINCRBY', k.counts, 'e:' .. what, delta * h.quantity)
  if h.tier ~= '' then
    redis.call('HINCRBY', k.counts, 't:' .. h.tier .. ':' .. what, delta * h.quantity)
    return
  end
  local sections, per = tally(places, section_of)
  for _, section in ipairs(sections) do
    redis.call('HINCRBY', k.counts, 's:' .. section .. ':' .. what, delta * per[section])
  end
end

-- Adds delta per seat to the available count of each row the seats are in
-- (-1 when seats are held, +1 when they come back; a sale changes nothing).
local function count_free_in_rows(k, places, delta)
  local rows, per = tally(places, same)
  for _, row in ipairs(rows) do
    redis.call('HINCRBY', k.counts, 'r:' .. row, delta * per[row])
  end
end

-- Logs a change of hold `h` (its seats at `places`), with `extra` field/value pairs after its own.
local function log_change(k, kind, h, places, extra)
  local seats = {}
  for i = 1, #h.seats do
    seats[i] = places[i] .. '|' .. h.seats[i]
  end
  local fields = {
    'hold', h.id, 'user', h.user, 'seats', table.concat(seats, ','), 'tier', h.tier, 'quantity', int_str(h.quantity),
  }
  for _, value in ipairs(extra or {}) do
    fields[#fields + 1] = value
  end
  log_entry(k, kind, unpack(fields))
end

-- The reply form of a hold:
-- { hold_id, user, state, created_ms, expires_ms, order, tier, quantity, { seat, section, row, ... } }
local function hold_view(k, h, places)
  places = places or places_of(k, h.seats)
  local seats = {}
  for i = 1, #h.seats do
    local section, row = string.match(places[i], '^([^|]*)|(.*)$')
    seats[#seats + 1] = h.seats[i]
    seats[#seats + 1] = section
    seats[#seats + 1] = row
  end
  return { h.id, h.user, h.state, h.created, h.expires, h.order, h.tier, h.quantity, seats }
end

-- Gives a HELD hold's seats back and ends it as `state` (H_RELEASED or H_EXPIRED).
local function end_hold(k, h, state, kind)
  local places = places_of(k, h.seats)
  chunked('HDEL', k.taken, h.seats)
  count(k, h, places, 'held', -1)
  count_free_in_rows(k, places, 1)
  if redis.call('HINCRBY', k.users, h.user, -h.quantity) <= 0 then
    redis.call('HDEL', k.users, h.user)
  end
  redis.call('ZREM', k.expiry, h.id)
  h.state = state
  write_hold(k.holds, h)
  log_change(k, kind, h, places)
end

-- Expires up to `limit` holds whose expiry has come. Returns how many, and
-- whether more are due.
local function expire_due(k, now, limit)
  local ids = redis.call('ZRANGEBYSCORE', k.expiry, '-inf', int_str(now), 'LIMIT', 0, limit + 1)
  local expired = 0
  for i = 1, math.min(#ids, limit) do
    local h = read_hold(k.holds, ids[i])
    if h and h.state == H_HELD then
      end_hold(k, h, H_EXPIRED, CT_SEAT_EXPIRED)
      expired = expired + 1
    else
      redis.call('ZREM', k.expiry, ids[i])
    end
  end
  return expired, #ids > limit
end

-- A HELD hold past its expiry that no sweep reached yet expires now.
local function settle(k, h, now)
  if h.state == H_HELD and h.expires <= now then
    end_hold(k, h, H_EXPIRED, CT_SEAT_EXPIRED)
  end
  return h
end

-- The caller's hold (settled), or nil and the refusal code.
local function owned_hold(k, hold_id, user, now)
  local h = read_hold(k.holds, hold_id)
  if not h then
    return nil, HOLD_NOT_FOUND
  end
  if h.user ~= user then
    return nil, NOT_HOLD_OWNER
  end
  return settle(k, h, now)
end

-- The refusal for an operation on a hold that is no longer HELD; nil while it is.
local function ended_refusal(h)
  if h.state == H_EXPIRED then
    return HOLD_EXPIRED
  elseif h.state == H_RELEASED then
    return HOLD_RELEASED
  elseif h.state == H_CONFIRMED then
    return HOLD_CONFIRMED
  end
  return nil
end

-- Settings in milliseconds, or nil when the event has no seat map.
local function settings_of(config_key)
  local s = redis.call('HMGET', config_key, 'hold_ttl', 'max_hold_ttl', 'max_per_user', 'require_pass')
  if not s[1] then
    return nil
  end
  return {
    hold_ttl = tonumber(s[1]) * 1000, max_hold = tonumber(s[2]) * 1000, max_per_user = tonumber(s[3]),
    require_pass = s[4] == '1',
  }
end

-- A section's row ids front to back; nil for an unknown section.
local function section_rows(k, section)
  local rows = redis.call('HGET', k.layout, section)
  return rows and split(rows, ',') or nil
end

-- The seats of each of a section's rows, left to right: { { seat, ... }, ... } in the order of `rows`.
local function row_seats(k, section, rows)
  local fields = {}
  for i, row in ipairs(rows) do
    fields[i] = section .. '|' .. row
  end
  local out = {}
  for i, list in ipairs(chunked('HMGET', k.layout, fields)) do
    out[i] = split(list, ',')
  end
  return out
end

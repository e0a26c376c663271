--[[
  Loads or replaces an event's inventory. Refused once anything is held or
  sold. Every earlier hold record is dropped with the old map.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds  KEYS[5] expiry
  KEYS[6] users   KEYS[7] counts  KEYS[8] log    KEYS[9] layout

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] clock skew ms (tests only; "0" in production)
  ARGV[3] hold ttl seconds   ARGV[4] max hold ttl seconds
  ARGV[5] max seats per user (0 = no cap)   ARGV[6] require pass (0/1)
  ARGV[7] n = number of sections
  ARGV[8 .. 7+2n]  section id, layout "row=seat,seat;row=seat" pairs (rows front to back)
  ARGV[8+2n ..]    tier id, capacity pairs

  Output: { code, sections, seats, tiers, capacity, duplicate_id }
    CREATED           a first map
    UPDATED           the previous map was replaced
    SEAT_MAP_IN_USE   seats are held or sold
    SEAT_MAP_INVALID  duplicate_id = a seat, section or tier id given twice, or a row id
                      twice in one section; nothing written
  Events: seat.map_loaded (sections, seats, tiers, capacity, replaced 1/0) on CREATED
    and UPDATED; seat.expired (expired holds swept on the way)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4], expiry = KEYS[5],
  users = KEYS[6], counts = KEYS[7], log = KEYS[8], layout = KEYS[9], log_min = log_min_of(ARGV[1]),
}
local skew, hold_ttl, max_hold_ttl, max_per_user, require_pass = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n_sections = tonumber(ARGV[7])

local replacing = redis.call('EXISTS', k.config) == 1
if replacing then
  expire_due(k, now_ms(skew), SWEEP_BATCH)
  local c = redis.call('HMGET', k.counts, 'e:held', 'e:sold')
  if tonumber(c[1] or '0') + tonumber(c[2] or '0') > 0 then
    return { SEAT_MAP_IN_USE, 0, 0, 0, 0, '' }
  end
end

local seen = { s = {}, seat = {}, t = {} }
local layouts, places, counters, names = {}, {}, { 'e:held', 0, 'e:sold', 0 }, { s = {}, t = {} }
local total = 0
local function add_scope(prefix, id, cap)
  if seen[prefix][id] then
    return false
  end
  seen[prefix][id] = true
  table.insert(names[prefix], id)
  for _, v in ipairs({ prefix .. ':' .. id .. ':cap', cap, prefix .. ':' .. id .. ':held', 0, prefix .. ':' .. id .. ':sold', 0 }) do
    table.insert(counters, v)
  end
  total = total + cap
  return true
end

for i = 1, n_sections do
  local section, layout = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
  local cap, row_ids, seen_rows = 0, {}, {}
  for row in string.gmatch(layout, '[^;]+') do
    local row_id, list = string.match(row, '^([^=]*)=(.*)$')
    if seen_rows[row_id] then
      return { SEAT_MAP_INVALID, 0, 0, 0, 0, row_id }
    end
    seen_rows[row_id] = true
    local place, size = section .. '|' .. row_id, 0
    for seat in string.gmatch(list, '[^,]+') do
      if seen.seat[seat] then
        return { SEAT_MAP_INVALID, 0, 0, 0, 0, seat }
      end
      seen.seat[seat] = true
      table.insert(places, seat)
      table.insert(places, place)
      size = size + 1
    end
    table.insert(row_ids, row_id)
    table.insert(layouts, place)
    table.insert(layouts, list)
    table.insert(counters, 'r:' .. place)
    table.insert(counters, size)
    cap = cap + size
  end
  if not add_scope('s', section, cap) then
    return { SEAT_MAP_INVALID, 0, 0, 0, 0, section }
  end
  table.insert(layouts, section)
  table.insert(layouts, table.concat(row_ids, ','))
end
for i = 8 + 2 * n_sections, #ARGV, 2 do
  if not add_scope('t', ARGV[i], tonumber(ARGV[i + 1])) then
    return { SEAT_MAP_INVALID, 0, 0, 0, 0, ARGV[i] }
  end
end
table.insert(counters, 'e:cap')
table.insert(counters, total)

-- Writes start here.
redis.call('UNLINK', k.config, k.seats, k.taken, k.holds, k.expiry, k.users, k.counts, k.layout)
redis.call('HSET', k.config, 'hold_ttl', hold_ttl, 'max_hold_ttl', max_hold_ttl, 'max_per_user', max_per_user,
  'require_pass', require_pass, 'sections', table.concat(names.s, ','), 'tiers', table.concat(names.t, ','),
  'loaded_at', int_str(now_ms(skew)))
chunked('HSET', k.layout, layouts)
chunked('HSET', k.seats, places)
chunked('HSET', k.counts, counters)
log_entry(k, CT_SEAT_MAP_LOADED, 'sections', int_str(#names.s), 'seats', int_str(#places / 2),
  'tiers', int_str(#names.t), 'capacity', int_str(total), 'replaced', replacing and '1' or '0')
return { replacing and UPDATED or CREATED, #names.s, #places / 2, #names.t, total, '' }

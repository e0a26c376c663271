--[[
  A consistent snapshot of an event's inventory: counts for the event, each
  section and each tier, and each seat's status in one section.

  KEYS[1] config  KEYS[2] seats   KEYS[3] taken  KEYS[4] holds  KEYS[5] expiry
  KEYS[6] users   KEYS[7] counts  KEYS[8] log    KEYS[9] layout

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] section whose seats to list; "" = none
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code, settings, event, sections, tiers, rows, cursor }
    settings = { hold_ttl_s, max_hold_ttl_s, max_per_user, require_pass (0/1) }
    event    = { capacity, held, sold }
    sections = { section, capacity, held, sold, ... } in load order; tiers likewise
    rows     = { row, "seat,seat,...", statuses, ... } front to back, where
               statuses has one digit per seat: S_AVAILABLE, S_HELD or S_SOLD
    cursor   = id of the newest outbox entry ("0-0" if none): the snapshot
               includes every change up to it and none after it
    OK               the snapshot
    EVENT_NOT_FOUND  no seat map
    UNKNOWN_SECTION  the section to list does not exist
  Events: seat.expired (expired holds swept on the way)
]]
local k = {
  config = KEYS[1], seats = KEYS[2], taken = KEYS[3], holds = KEYS[4], expiry = KEYS[5],
  users = KEYS[6], counts = KEYS[7], log = KEYS[8], layout = KEYS[9], log_min = log_min_of(ARGV[1]),
}
local section, skew = ARGV[2], ARGV[3]

local cfg = redis.call('HMGET', k.config, 'hold_ttl', 'max_hold_ttl', 'max_per_user', 'require_pass', 'sections', 'tiers')
if not cfg[1] then
  return { EVENT_NOT_FOUND, {}, {}, {}, {}, {}, '' }
end
local rows = {}
if section ~= '' then
  rows = section_rows(k, section)
  if not rows then
    return { UNKNOWN_SECTION, {}, {}, {}, {}, {}, '' }
  end
end
expire_due(k, now_ms(skew), SWEEP_BATCH)

-- The counters asked for, not the whole hash: it also has one counter per row.
local fields = { 'e:cap', 'e:held', 'e:sold' }
local function scope_fields(prefix, ids)
  for _, id in ipairs(ids) do
    for _, what in ipairs({ ':cap', ':held', ':sold' }) do
      fields[#fields + 1] = prefix .. id .. what
    end
  end
end
local section_ids, tier_ids = split(cfg[5], ','), split(cfg[6], ',')
scope_fields('s:', section_ids)
scope_fields('t:', tier_ids)
local values = chunked('HMGET', k.counts, fields)
local at = 3
local function scoped(ids)
  local out = {}
  for _, id in ipairs(ids) do
    table.insert(out, id)
    for j = 1, 3 do
      table.insert(out, tonumber(values[at + j]))
    end
    at = at + 3
  end
  return out
end
local section_counts = scoped(section_ids)
local tier_counts = scoped(tier_ids)

local listed = {}
for r, seats in ipairs(row_seats(k, section, rows)) do
  local statuses = {}
  for i, value in ipairs(chunked('HMGET', k.taken, seats)) do
    local mark = value and string.sub(value, 1, 1)
    statuses[i] = mark == 'S' and S_SOLD or mark == 'H' and S_HELD or S_AVAILABLE
  end
  table.insert(listed, rows[r])
  table.insert(listed, table.concat(seats, ','))
  table.insert(listed, table.concat(statuses))
end

local newest = redis.call('XREVRANGE', k.log, '+', '-', 'COUNT', 1)[1]
return {
  OK,
  { tonumber(cfg[1]), tonumber(cfg[2]), tonumber(cfg[3]), tonumber(cfg[4]) },
  { tonumber(values[1]), tonumber(values[2]), tonumber(values[3]) },
  section_counts, tier_counts, listed, newest and newest[1] or '0-0',
}

-- Helpers every feature's library shares, defined once per library load,
-- right after the prelude's constants (see src/redis/prelude.ts).

local function now_ms(skew_ms)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + (tonumber(skew_ms) or 0)
end

local function int_str(n)
  return string.format('%d', n)
end

-- The outbox's trim threshold for one call (epoch ms), from the caller's
-- "trim before" ARGV ('0' keeps everything): entries with older ids go as
-- changes are appended. Never later than now, so an append never trims its
-- own entry. Scripts keep it as `k.log_min`, next to `k.log`. `clock_ms`, when
-- given, is Redis TIME in ms as the script already read it (no skew).
local function log_min_of(trim_before, clock_ms)
  local ms = tonumber(trim_before)
  if not ms or ms < 0 then
    error({ err = 'ERR trim threshold must be epoch ms or 0, got ' .. tostring(trim_before) })
  end
  return int_str(math.min(math.floor(ms), clock_ms or now_ms(0)))
end

-- Appends one entry of type `kind` (a CT_* name) with the given field/value
-- pairs to the event's outbox. Entries older than `k.log_min` are trimmed on
-- the way, approximately (MINID ~ drops whole stream nodes only), so
-- retention costs next to nothing here.
--
-- The first append of a call also publishes the entry's id on the shard
-- channel named like the stream (SPUBLISH: same name, same hash tag, so the
-- same cluster slot as every key of the script): the outbox readers that
-- follow the event learn of it at once instead of at their next poll. One
-- message per call, however many entries it appends; the readers read the
-- stream itself, so the message only says "look now".
local function log_entry(k, kind, ...)
  local id = redis.call('XADD', k.log, 'MINID', '~', k.log_min, '*', 'type', kind, ...)
  if not k.log_signalled then
    k.log_signalled = true
    redis.call('SPUBLISH', k.log, id)
  end
end

-- Retention for events nobody writes to: trims the outbox to `k.log_min`
-- exactly (whole nodes go at once, only the boundary node entry by entry).
-- Returns how many entries went.
local function trim_log(k)
  if k.log_min == '0' then
    return 0
  end
  return redis.call('XTRIM', k.log, 'MINID', k.log_min)
end


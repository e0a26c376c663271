-- Shared helpers for the change feed scripts, included after the prelude.
--
-- Records (key names in src/feed/keys.ts):
--   log     the event's outbox stream; every group reads it
--   replay  stream of one group's replayed dead letters, ids 0-<n>; fields
--           rp_from (the original id) and then the original entry's fields
--   dlq     stream of one group's dead letters; fields dl_id (original id),
--           dl_reason, dl_count, dl_consumer, dl_at (epoch ms), then the
--           original entry's fields
--   due     zset: every entry pending for the group (either stream), scored
--           by when it is due for redelivery (epoch ms)
--   meta    hash: delivered_total, acked_total, trimmed_while_pending,
--           skipped_total, replayed_total, created_ms
--   groups  set: the event's group names

local function now_ms(skew_ms)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + (tonumber(skew_ms) or 0)
end

local function int_str(n)
  return string.format('%d', n)
end

-- Replayed entries live under ids 0-<n>; outbox ids carry a time.
local function is_replay_id(id)
  return string.sub(id, 1, 2) == '0-'
end

-- How many entries of `stream` the consumer holds unacknowledged; false when
-- the group does not exist on the stream.
local function held_by(stream, group, consumer)
  local summary = redis.pcall('XPENDING', stream, group)
  if summary.err then
    return false
  end
  if type(summary[4]) == 'table' then
    for _, row in ipairs(summary[4]) do
      if row[1] == consumer then
        return tonumber(row[2])
      end
    end
  end
  return 0
end

-- The value of `name` in a flat { field, value, ... } list, or nil.
local function field_of(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then
      return fields[i + 1]
    end
  end
  return nil
end

-- Delay added to the visibility timeout before delivery number `n` + 1.
-- Exponential uses full jitter (math.random, seeded by the caller).
local function backoff_ms(kind, base, cap, n)
  if kind == BACKOFF_FIXED then
    return math.min(base, cap)
  end
  if kind == BACKOFF_LINEAR then
    return math.min(base * n, cap)
  end
  local ceiling = math.min(base * 2 ^ math.min(n - 1, 40), cap)
  if ceiling < 1 then
    return 0
  end
  return math.random(0, math.floor(ceiling))
end

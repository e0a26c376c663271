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
--
-- Why a due set rather than XAUTOCLAIM's min-idle-time: that is one value per
-- call and counts Redis's own idle clock, while the backoff differs per entry
-- (it grows with the delivery count) and the scripts' clock is TIME + skew.
-- Every delivery (XREADGROUP or XCLAIM) writes the entry's due time in the
-- same script; Ack, dead-lettering and trimming remove it. So the set always
-- equals the group's pending entries, and the step finds exactly those due
-- with one ZRANGEBYSCORE, then reads each one's owner and count (XPENDING on
-- that id) and its fields (XRANGE: an empty answer means retention removed it).

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

-- The group's XINFO GROUPS record on `stream` (flat field list), or nil.
local function group_info(stream, group)
  local infos = redis.pcall('XINFO', 'GROUPS', stream)
  if infos.err then
    return nil
  end
  for _, info in ipairs(infos) do
    if field_of(info, 'name') == group then
      return info
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

local function stream_of(k, id)
  if is_replay_id(id) then
    return k.replay
  end
  return k.log
end

-- Acknowledges an entry for the group and forgets it (a replayed one is deleted too).
local function settle(k, group, stream, id)
  redis.call('XACK', stream, group, id)
  redis.call('ZREM', k.due, id)
  if stream == k.replay then
    redis.call('XDEL', k.replay, id)
  end
end

-- The original id and fields of an entry: a replayed one carries them after rp_from.
local function unwrap(k, stream, id, fields)
  if stream == k.replay then
    return fields[2], { unpack(fields, 3) }
  end
  return id, fields
end

-- A delivery step (deliverChanges): s = { k, group, consumer, now, room, batch,
-- visibility, max_deliveries, backoff = { kind, base, cap }, types, out,
-- delivered, skipped, trimmed }.

local function wanted(s, fields)
  return s.types == '' or string.find(s.types, ',' .. (field_of(fields, 'type') or '') .. ',', 1, true) ~= nil
end

-- Hands an entry to the step's consumer as delivery number `count`, due again after visibility + backoff.
local function hand_out(s, stream, id, fields, count)
  local original, body = unwrap(s.k, stream, id, fields)
  local from = ''
  if stream == s.k.replay then
    from = original
  end
  local delay = s.visibility + backoff_ms(s.backoff.kind, s.backoff.base, s.backoff.cap, count)
  redis.call('ZADD', s.k.due, s.now + delay, id)
  s.out[#s.out + 1] = { id, count, from, body }
  s.delivered = s.delivered + 1
end

-- Moves an entry to the dead letters: dl_* fields first (DL_FIELDS of them), then the original's.
local function dead_letter(s, stream, id, fields, owner, count)
  local original, body = unwrap(s.k, stream, id, fields)
  redis.call('XADD', s.k.dlq, '*', 'dl_id', original, 'dl_reason', 'max_deliveries', 'dl_count', count,
    'dl_consumer', owner, 'dl_at', int_str(s.now), unpack(body))
  settle(s.k, s.group, stream, id)
end

-- One due entry: settled (gone, given up, or of a skipped type) or claimed
-- by the step's consumer, its own always and another's while there is room.
local function redeliver(s, id)
  local stream = stream_of(s.k, id)
  local pending = redis.call('XPENDING', stream, s.group, id, id, 1)[1]
  if not pending then
    redis.call('ZREM', s.k.due, id)
    return
  end
  local owner, count = pending[2], tonumber(pending[4])
  local entry = redis.call('XRANGE', stream, id, id)[1]
  local mine = owner == s.consumer
  if not entry then
    settle(s.k, s.group, stream, id)
    s.trimmed = s.trimmed + 1
  elseif count >= s.max_deliveries then
    dead_letter(s, stream, id, entry[2], owner, count)
  elseif not wanted(s, entry[2]) then
    settle(s.k, s.group, stream, id)
    s.skipped = s.skipped + 1
  else
    if mine or s.room > 0 then
      if not mine then
        s.room = s.room - 1
      end
      local claimed = redis.call('XCLAIM', stream, s.group, s.consumer, 0, id)[1]
      hand_out(s, stream, id, claimed[2], count + 1)
    end
    return
  end
  if mine then
    s.room = s.room + 1
  end
end

-- New entries of one stream while there is room; true when it has more.
local function read_new(s, stream)
  while s.room > 0 and s.delivered < s.batch and s.budget > 0 do
    local want = math.min(s.room, s.batch - s.delivered, s.budget)
    local read = redis.call('XREADGROUP', 'GROUP', s.group, s.consumer, 'COUNT', want, 'STREAMS', stream, '>')
    local entries = read and read[1][2] or {}
    s.budget = s.budget - #entries
    for _, entry in ipairs(entries) do
      if wanted(s, entry[2]) then
        s.room = s.room - 1
        hand_out(s, stream, entry[1], entry[2], 1)
      else
        settle(s.k, s.group, stream, entry[1])
        s.skipped = s.skipped + 1
      end
    end
    if #entries < want then
      return false
    end
  end
  return true
end

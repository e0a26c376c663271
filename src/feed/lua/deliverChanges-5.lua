--[[
  One delivery step of a change feed subscriber (a consumer of a group):
  first the group's entries due for redelivery, then new entries (replayed
  dead letters, then the outbox), never letting the consumer hold more than
  max_in_flight unacknowledged entries.

  KEYS[1] log   KEYS[2] replay   KEYS[3] dlq   KEYS[4] due   KEYS[5] meta

  ARGV[1] group              ARGV[2] consumer
  ARGV[3] max in flight      ARGV[4] batch (most entries delivered by this call)
  ARGV[5] visibility ms      ARGV[6] max deliveries
  ARGV[7] backoff kind (BACKOFF_*)   ARGV[8] backoff base ms   ARGV[9] backoff cap ms
  ARGV[10] jitter seed       ARGV[11] clock skew ms (tests only; "0" in production)
  ARGV[12] types: "" = all, else ",type,type,"

  Output: { code, entries, in_flight, more }
    OK               entries: { id, delivery_count, replayed_from ("" if none), { field, value, ... } }, ...
                     in_flight: what the consumer holds after this step;
                     more: 1 when another step right away may deliver more
    GROUP_NOT_FOUND  the group does not exist on the streams (nothing written)
  Due entries: delivered max deliveries times → moved to dlq (reason max_deliveries) and
    acknowledged; removed from the stream by retention → acknowledged and counted as
    trimmed_while_pending; of a type this consumer skips → acknowledged; else claimed
    (its own ones always, others' while there is room).
  New entries of a type this consumer skips are acknowledged without delivery (skipped_total).
]]
local k = { log = KEYS[1], replay = KEYS[2], dlq = KEYS[3], due = KEYS[4], meta = KEYS[5] }
local group, consumer = ARGV[1], ARGV[2]
local max_in_flight, batch = tonumber(ARGV[3]), tonumber(ARGV[4])
local visibility, max_deliveries = tonumber(ARGV[5]), tonumber(ARGV[6])
local kind, base, cap = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local types = ARGV[12]

local held_log = held_by(k.log, group, consumer)
local held_replay = held_by(k.replay, group, consumer)
if not held_log or not held_replay then
  return { GROUP_NOT_FOUND, {}, 0, 0 }
end

-- Writes start here.
math.randomseed(tonumber(ARGV[10]))
local now = now_ms(ARGV[11])
local room = max_in_flight - held_log - held_replay
local out = {}
local delivered, skipped, trimmed, more = 0, 0, 0, 0

local function wanted(fields)
  return types == '' or string.find(types, ',' .. (field_of(fields, 'type') or '') .. ',', 1, true) ~= nil
end

local function stream_of(id)
  if is_replay_id(id) then
    return k.replay
  end
  return k.log
end

-- Acknowledges an entry for the group and forgets it everywhere.
local function settle(stream, id)
  redis.call('XACK', stream, group, id)
  redis.call('ZREM', k.due, id)
  if stream == k.replay then
    redis.call('XDEL', k.replay, id)
  end
end

-- Hands an entry to this consumer as delivery number `count`.
local function deliver(stream, id, fields, count)
  local from = ''
  if stream == k.replay then
    from = fields[2]
    fields = { unpack(fields, 3) }
  end
  redis.call('ZADD', k.due, now + visibility + backoff_ms(kind, base, cap, count), id)
  out[#out + 1] = { id, count, from, fields }
  delivered = delivered + 1
end

local function dead_letter(stream, id, fields, owner, count)
  local original = id
  if stream == k.replay then
    original = fields[2]
    fields = { unpack(fields, 3) }
  end
  redis.call('XADD', k.dlq, '*', 'dl_id', original, 'dl_reason', 'max_deliveries', 'dl_count', count,
    'dl_consumer', owner, 'dl_at', int_str(now), unpack(fields))
  settle(stream, id)
end

-- 1. Entries due for redelivery.
local due = redis.call('ZRANGEBYSCORE', k.due, '-inf', now, 'LIMIT', 0, batch)
if #due == batch then
  more = 1
end
for _, id in ipairs(due) do
  local stream = stream_of(id)
  local pending = redis.call('XPENDING', stream, group, id, id, 1)[1]
  if not pending then
    redis.call('ZREM', k.due, id)
  else
    local owner, count = pending[2], tonumber(pending[4])
    local entry = redis.call('XRANGE', stream, id, id)[1]
    local settled = true
    if not entry then
      settle(stream, id)
      trimmed = trimmed + 1
    elseif count >= max_deliveries then
      dead_letter(stream, id, entry[2], owner, count)
    elseif not wanted(entry[2]) then
      settle(stream, id)
      skipped = skipped + 1
    else
      settled = false
    end
    if settled and owner == consumer then
      room = room + 1
    elseif not settled and (owner == consumer or room > 0) then
      if owner ~= consumer then
        room = room - 1
      end
      local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id)[1]
      deliver(stream, id, claimed[2], count + 1)
    end
  end
end

-- 2. New entries: replayed dead letters first, then the outbox.
local budget = batch * 4
for _, stream in ipairs({ k.replay, k.log }) do
  local exhausted = false
  while not exhausted and room > 0 and delivered < batch and budget > 0 do
    local want = math.min(room, batch - delivered, budget)
    local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want, 'STREAMS', stream, '>')
    local entries = read and read[1][2] or {}
    exhausted = #entries < want
    budget = budget - #entries
    for _, entry in ipairs(entries) do
      if wanted(entry[2]) then
        room = room - 1
        deliver(stream, entry[1], entry[2], 1)
      else
        settle(stream, entry[1])
        skipped = skipped + 1
      end
    end
  end
  if not exhausted and room > 0 then
    more = 1
  end
end

if delivered > 0 then
  redis.call('HINCRBY', k.meta, 'delivered_total', delivered)
end
if skipped > 0 then
  redis.call('HINCRBY', k.meta, 'skipped_total', skipped)
end
if trimmed > 0 then
  redis.call('HINCRBY', k.meta, 'trimmed_while_pending', trimmed)
end
return { OK, out, max_in_flight - room, more }

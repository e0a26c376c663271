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
  Due entries (see redeliver in feed-lib.lua): delivered max deliveries times → dead
    letter (reason max_deliveries) and acknowledged; removed by retention → acknowledged,
    counted in trimmed_while_pending; of a type this consumer skips → acknowledged;
    else claimed, its own always, others' while there is room.
  New entries of a type this consumer skips are acknowledged without delivery (skipped_total).
]]
local k = { log = KEYS[1], replay = KEYS[2], dlq = KEYS[3], due = KEYS[4], meta = KEYS[5] }
local group, consumer = ARGV[1], ARGV[2]
local max_in_flight, batch = tonumber(ARGV[3]), tonumber(ARGV[4])

local held_log = held_by(k.log, group, consumer)
local held_replay = held_by(k.replay, group, consumer)
if not held_log or not held_replay then
  return { GROUP_NOT_FOUND, {}, 0, 0 }
end

-- Writes start here.
math.randomseed(tonumber(ARGV[10]))
local s = {
  k = k, group = group, consumer = consumer, now = now_ms(ARGV[11]),
  room = max_in_flight - held_log - held_replay, batch = batch, budget = batch * 4,
  visibility = tonumber(ARGV[5]), max_deliveries = tonumber(ARGV[6]),
  backoff = { kind = tonumber(ARGV[7]), base = tonumber(ARGV[8]), cap = tonumber(ARGV[9]) },
  types = ARGV[12], out = {}, delivered = 0, skipped = 0, trimmed = 0,
}

local due = redis.call('ZRANGEBYSCORE', k.due, '-inf', s.now, 'LIMIT', 0, batch)
for _, id in ipairs(due) do
  redeliver(s, id)
end
local replay_more = read_new(s, k.replay)
local log_more = read_new(s, k.log)
local more = 0
if s.room > 0 and (#due == batch or replay_more or log_more) then
  more = 1
end

for field, n in pairs({ delivered_total = s.delivered, skipped_total = s.skipped, trimmed_while_pending = s.trimmed }) do
  if n > 0 then
    redis.call('HINCRBY', k.meta, field, n)
  end
end
return { OK, s.out, max_in_flight - s.room, more }

--[[
  Reads one consumer group's progress through an event's change feed.

  KEYS[1] log   KEYS[2] replay   KEYS[3] dlq   KEYS[4] meta

  ARGV[1] group
  ARGV[2] clock skew ms (tests only; "0" in production)

  Output: { code, consumers, pending, oldest_pending_age_ms, lag, last_delivered_id,
            delivered_total, acked_total, dead_letters, trimmed_while_pending }
    OK               oldest_pending_age_ms is -1 when nothing is pending
    GROUP_NOT_FOUND  no such group on the outbox
  Lag: outbox entries not yet delivered to the group (Redis's own count, or
    counted after the last delivered id, at most LAG_SCAN, when Redis cannot
    tell), plus replayed dead letters waiting for delivery.
]]
local k = { log = KEYS[1], replay = KEYS[2], dlq = KEYS[3], meta = KEYS[4] }
local group = ARGV[1]

local info = group_info(k.log, group)
if not info then
  return { GROUP_NOT_FOUND, 0, 0, -1, 0, '', 0, 0, 0, 0 }
end

local now = now_ms(ARGV[2])
local last_delivered = field_of(info, 'last-delivered-id')
local lag = field_of(info, 'lag')
if not lag then
  lag = #redis.call('XRANGE', k.log, '(' .. last_delivered, '+', 'COUNT', LAG_SCAN)
end

local pending = tonumber(field_of(info, 'pending'))
local oldest = -1
local first = redis.call('XPENDING', k.log, group)[2]
if first then
  oldest = tonumber(string.match(first, '^(%d+)-'))
end
local replay = redis.pcall('XPENDING', k.replay, group)
if not replay.err then
  pending = pending + replay[1]
  lag = lag + redis.call('XLEN', k.replay) - replay[1]
  if replay[2] then
    local entry = redis.call('XRANGE', k.replay, replay[2], replay[2])[1]
    local from = entry and tonumber(string.match(field_of(entry[2], 'rp_from') or '', '^(%d+)-'))
    if from and (oldest < 0 or from < oldest) then
      oldest = from
    end
  end
end
local age = -1
if oldest >= 0 then
  age = math.max(0, now - oldest)
end

local m = redis.call('HMGET', k.meta, 'delivered_total', 'acked_total', 'trimmed_while_pending')
return {
  OK, tonumber(field_of(info, 'consumers')), pending, age, lag, last_delivered,
  tonumber(m[1]) or 0, tonumber(m[2]) or 0, redis.call('XLEN', k.dlq), tonumber(m[3]) or 0,
}

--[[
  Reads a consistent snapshot of an event's queue configuration and counters.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] tickets (bucket prefix)   KEYS[4] stats   KEYS[5] active

  ARGV[1] clock skew ms (tests only; "0" in production)

  Output: { code, rate, burst, max_active, session_ttl, idle_timeout, opens_at, state,
            waiting, joined_total, admitted_total, oldest_waiter_age_ms, active, rate_ewma, pre_queue }
    oldest_waiter_age_ms: how long the user at the head of the line has waited in
      it; for users who joined before an opening, the line began at the opening
    active: admission sessions not yet expired (lapsed ones count out before they are swept)
    pre_queue: of the waiting, users in the pre-queue (before or during the opening shuffle)
    rate_ewma: measured admissions per second (decimal string), "" before the first
    OK               the snapshot
    EVENT_NOT_FOUND  no queue configured for the event
  Events: none
  Flags: no-writes
    (it only reads: called with FCALL_RO, which a replica may serve as well)
]]
local k = { config = KEYS[1], waiting = KEYS[2], tickets = KEYS[3], stats = KEYS[4], active = KEYS[5] }
local skew = ARGV[1]

local c = redis.call('HMGET', k.config, 'rate', 'burst', 'max_active', 'session_ttl', 'idle_timeout', 'opens_at', 'state')
if not c[7] then
  return { EVENT_NOT_FOUND, '', 0, 0, 0, 0, '', 0, 0, 0, 0, 0, 0, '', 0 }
end
local s = redis.call('HMGET', k.stats, 'joined_total', 'admitted_total', 'rate_ewma', 'opened_ms')
local now = now_ms(skew)

local oldest_age = 0
local head = redis.call('ZRANGE', k.waiting, 0, 0)
if head[1] then
  local ticket = read_ticket(k, head[1])
  if ticket then
    oldest_age = math.max(0, now - math.max(tonumber(ticket.joined), tonumber(s[4] or 0)))
  end
end

local pre, pre_count = pre_queue_of(k.stats), 0
if pre then
  pre_count = redis.call('ZCOUNT', k.waiting, pre.first, pre.last)
end

return {
  OK, c[1], tonumber(c[2]), tonumber(c[3]), tonumber(c[4]), tonumber(c[5]), c[6], tonumber(c[7]),
  redis.call('ZCARD', k.waiting), tonumber(s[1] or 0), tonumber(s[2] or 0), oldest_age,
  redis.call('ZCOUNT', k.active, '(' .. int_str(now), '+inf'), s[3] or '', pre_count,
}

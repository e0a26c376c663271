--[[
  Reads a user's ticket with their exact position, and records their presence.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] seen
  KEYS[4] tickets  KEYS[5] stats     KEYS[6] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] user id
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code, ticket_state, position, waiting_total, joined_ms, issued_ms, expires_ms, rate_ewma, opens_at_ms }
    position: 1-based place in line while WAITING; 0 otherwise, and 0 in the
      pre-queue (waiting for the opening shuffle), where opens_at_ms is the sale
      start (0 for everyone else, and if opens_at was removed)
    issued_ms/expires_ms: the admission session, 0 when never admitted
    rate_ewma: measured admissions per second (decimal string), "" before the first
    OK               the ticket (WAITING, ADMITTED, LEFT or EXPIRED; an admitted
                     session past its expiry reads EXPIRED before it is swept)
    EVENT_NOT_FOUND  no queue configured for the event
    NOT_IN_QUEUE     the user never joined this event
  Events: queue.expired (idle users swept on the way, possibly this one)
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], seen = KEYS[3],
  tickets = KEYS[4], stats = KEYS[5], log = KEYS[6], log_min = log_min_of(ARGV[1]),
}
local user, skew = ARGV[2], ARGV[3]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0, 0, 0, '', 0 }
end
local ticket = read_ticket(k.tickets, user)
if not ticket then
  return { NOT_IN_QUEUE, 0, 0, 0, 0, 0, 0, '', 0 }
end

-- Writes start here.
local now = now_ms(skew)
local idle_ms = idle_ms_of(k.config)
expire_idle(k, now, idle_ms, SWEEP_BATCH)

local state = state_at(ticket, now)
if state == T_WAITING then
  local seen = tonumber(redis.call('ZSCORE', k.seen, user))
  if seen == nil or seen < now - idle_ms then
    if seen ~= nil then
      end_waiting(k, user, ticket, T_EXPIRED, CT_QUEUE_EXPIRED)
      redis.call('HINCRBY', k.stats, 'expired_total', 1)
    end
    state = T_EXPIRED
  else
    redis.call('ZADD', k.seen, 'XX', now, user)
  end
end

return ticket_reply(OK, k, user, ticket, state, true)

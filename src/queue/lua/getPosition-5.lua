--[[
  Reads a user's ticket with their exact position, and records their presence.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] ticket (the user's bucket)
  KEYS[4] stats    KEYS[5] log

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
  Events: queue.expired (this user, idle past the timeout and not swept yet)
]]
local clock = now_ms(0)
local k = {
  config = KEYS[1], waiting = KEYS[2], ticket = KEYS[3], stats = KEYS[4], log = KEYS[5],
  log_min = log_min_of(ARGV[1], clock),
}
local user = ARGV[2]

local idle_timeout = redis.call('HGET', k.config, 'idle_timeout')
if not idle_timeout then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0, 0, 0, '', 0 }
end
local ticket = read_ticket_at(k.ticket, user)
if not ticket then
  return { NOT_IN_QUEUE, 0, 0, 0, 0, 0, 0, '', 0 }
end

-- Writes start here.
local now = clock + (tonumber(ARGV[3]) or 0)
local state = state_at(ticket, now)
if state == T_WAITING then
  if ticket.seen < now - tonumber(idle_timeout) * 1000 then
    end_waiting(k, user, ticket, T_EXPIRED, CT_QUEUE_EXPIRED)
    redis.call('HINCRBY', k.stats, 'expired_total', 1)
    state = T_EXPIRED
  else
    touch(user, ticket, now)
  end
end

return ticket_reply(OK, k, user, ticket, state, true)

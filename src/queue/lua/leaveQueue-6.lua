--[[
  Takes a user out of an event's line, or ends their admission session. Idempotent.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] ticket (the user's bucket)
  KEYS[4] stats    KEYS[5] log       KEYS[6] active

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] user id
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code, ticket_state, position, waiting_total, joined_ms, issued_ms, expires_ms, "", 0 }
    (the ticket fields as in getPosition; no rate)
    LEFT             the user was waiting, or admitted with a live session, and now has left
    ALREADY_ENDED    the ticket had already ended (LEFT or EXPIRED, including a
                     session past its expiry, which is ended as EXPIRED here)
    EVENT_NOT_FOUND  no queue configured for the event
    NOT_IN_QUEUE     the user never joined this event
  Events: queue.left (a waiting user); queue.session_ended reason=left (an admitted
    user) or reason=expired (a lapsed session the admitter had not swept yet)
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], ticket = KEYS[3],
  stats = KEYS[4], log = KEYS[5], active = KEYS[6], log_min = log_min_of(ARGV[1]),
}
local user, skew = ARGV[2], ARGV[3]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0, 0, 0, '', 0 }
end
local ticket = read_ticket_at(k.ticket, user)
if not ticket then
  return { NOT_IN_QUEUE, 0, 0, 0, 0, 0, 0, '', 0 }
end
if ticket.state == T_LEFT or ticket.state == T_EXPIRED then
  return ticket_reply(ALREADY_ENDED, k, user, ticket, ticket.state, false)
end

-- Writes start here.
if ticket.state == T_WAITING then
  end_waiting(k, user, ticket, T_LEFT, CT_QUEUE_LEFT)
  redis.call('HINCRBY', k.stats, 'left_total', 1)
  return ticket_reply(LEFT, k, user, ticket, T_LEFT, false)
end
if state_at(ticket, now_ms(skew)) == T_EXPIRED then
  end_session(k, user, ticket, T_EXPIRED, 'expired')
  return ticket_reply(ALREADY_ENDED, k, user, ticket, T_EXPIRED, false)
end
end_session(k, user, ticket, T_LEFT, 'left')
return ticket_reply(LEFT, k, user, ticket, T_LEFT, false)

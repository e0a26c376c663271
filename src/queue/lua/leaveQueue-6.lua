--[[
  Takes a user out of an event's line. Idempotent.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] seen
  KEYS[4] tickets  KEYS[5] stats     KEYS[6] log

  ARGV[1] user id

  Output: { code, ticket_state, position, waiting_total, joined_ms }
    LEFT             the user was waiting and now has left
    ALREADY_ENDED    the ticket had already ended (LEFT or EXPIRED): unchanged
    EVENT_NOT_FOUND  no queue configured for the event
    NOT_IN_QUEUE     the user never joined this event
  Events: queue.left
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], seen = KEYS[3],
  tickets = KEYS[4], stats = KEYS[5], log = KEYS[6],
}
local user = ARGV[1]

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0 }
end
local ticket = read_ticket(k.tickets, user)
if not ticket then
  return { NOT_IN_QUEUE, 0, 0, 0, 0 }
end
if ticket.state == T_LEFT or ticket.state == T_EXPIRED then
  return { ALREADY_ENDED, ticket.state, 0, redis.call('ZCARD', k.waiting), tonumber(ticket.joined) }
end

-- Writes start here. A waiting user leaves the line; an admitted user ends their session.
end_waiting(k, user, ticket, T_LEFT, 'queue.left')
redis.call('HINCRBY', k.stats, 'left_total', 1)
return { LEFT, T_LEFT, 0, redis.call('ZCARD', k.waiting), tonumber(ticket.joined) }

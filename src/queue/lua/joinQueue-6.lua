--[[
  Puts a user in an event's line, or returns their existing place.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] ticket (the user's bucket)
  KEYS[4] stats    KEYS[5] log       KEYS[6] active

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] user id
  ARGV[3] clock skew ms (tests only; "0" in production)

  Output: { code, ticket_state, position, waiting_total, joined_ms, issued_ms, expires_ms, rate_ewma, opens_at_ms }
    (the ticket fields as in getPosition)
    JOINED          a new place at the back of the line; before the sale opens
                    (opens_at), a place in the pre-queue (position 0)
    ALREADY_JOINED  the user waits, or holds a live admission: the original ticket
    EVENT_NOT_FOUND no queue configured for the event
    QUEUE_CLOSED    the queue is closed and the user has no live ticket
  Events: queue.joined (new place; pre = "1" for a place in the pre-queue);
    queue.expired (the user's own stale place, before rejoining);
    queue.session_ended reason=expired (the user's own lapsed session, before rejoining)
]]
local clock = now_ms(0)
local k = {
  config = KEYS[1], waiting = KEYS[2], ticket = KEYS[3],
  stats = KEYS[4], log = KEYS[5], active = KEYS[6], log_min = log_min_of(ARGV[1], clock),
}
local user = ARGV[2]

local c = redis.call('HMGET', k.config, 'state', 'opens_at', 'idle_timeout')
local state, opens_at = tonumber(c[1]), tonumber(c[2])
if not state then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0, 0, 0, '', 0 }
end
local now = clock + (tonumber(ARGV[3]) or 0)

local ticket = read_ticket_at(k.ticket, user)
local live = false
if ticket and ticket.state == T_WAITING then
  live = ticket.seen >= now - tonumber(c[3]) * 1000
elseif ticket and ticket.state == T_ADMITTED then
  live = state_at(ticket, now) == T_ADMITTED
end
if not live and state == Q_CLOSED then
  return { QUEUE_CLOSED, 0, 0, 0, 0, 0, 0, '', 0 }
end

-- Writes start here.
if live then
  if ticket.state == T_WAITING then
    touch(user, ticket, now)
  end
  return ticket_reply(ALREADY_JOINED, k, user, ticket, ticket.state, true)
end

-- A stale ticket the sweeps did not reach yet ends here, before rejoining.
if ticket and ticket.state == T_WAITING and redis.call('ZSCORE', k.waiting, user) then
  end_waiting(k, user, ticket, T_EXPIRED, CT_QUEUE_EXPIRED)
  redis.call('HINCRBY', k.stats, 'expired_total', 1)
elseif ticket and ticket.state == T_ADMITTED then
  end_session(k, user, ticket, T_EXPIRED, 'expired')
end

-- Places are numbered by the join count: one more for every new place.
local next_seq = redis.call('HINCRBY', k.stats, 'joined_total', 1)
local seq = int_str(next_seq)
-- Before the sale opens, joins form the pre-queue (see pre_queue_of).
local in_pre = false
if opens_at and now < opens_at then
  local pre = pre_queue_of(k.stats)
  if not pre then
    redis.call('HSET', k.stats, 'pre_first', seq, 'pre_last', seq)
    in_pre = true
  elseif not pre.next and pre.last == next_seq - 1 then
    redis.call('HSET', k.stats, 'pre_last', seq)
    in_pre = true
  end
end
redis.call('ZADD', k.waiting, next_seq, user)
write_waiting(k.ticket, user, next_seq, now, now)
if in_pre then
  log_change(k, CT_QUEUE_JOINED, user, seq, 'pre', '1')
else
  log_change(k, CT_QUEUE_JOINED, user, seq)
end

-- The new place is the last one: its position is the line's length.
local rate = redis.call('HGET', k.stats, 'rate_ewma') or ''
local total = redis.call('ZCARD', k.waiting)
if in_pre then
  return { JOINED, T_WAITING, 0, total, now, 0, 0, rate, opens_at }
end
return { JOINED, T_WAITING, total, total, now, 0, 0, rate, 0 }

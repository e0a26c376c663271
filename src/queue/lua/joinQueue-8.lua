--[[
  Puts a user in an event's line, or returns their existing place.

  KEYS[1] config   KEYS[2] seq    KEYS[3] waiting   KEYS[4] seen
  KEYS[5] tickets  KEYS[6] stats  KEYS[7] log       KEYS[8] active

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
    queue.expired (idle users swept on the way);
    queue.session_ended reason=expired (the user's own lapsed session, before rejoining)
]]
local k = {
  config = KEYS[1], seq = KEYS[2], waiting = KEYS[3], seen = KEYS[4],
  tickets = KEYS[5], stats = KEYS[6], log = KEYS[7], active = KEYS[8], log_min = log_min_of(ARGV[1]),
}
local user, skew = ARGV[2], ARGV[3]

local c = redis.call('HMGET', k.config, 'state', 'opens_at')
local state, opens_at = tonumber(c[1]), tonumber(c[2])
if not state then
  return { EVENT_NOT_FOUND, 0, 0, 0, 0, 0, 0, '', 0 }
end
local now = now_ms(skew)
local idle_ms = idle_ms_of(k.config)

local ticket = read_ticket(k.tickets, user)
local live = false
if ticket and ticket.state == T_WAITING then
  local seen = tonumber(redis.call('ZSCORE', k.seen, user))
  live = seen ~= nil and seen >= now - idle_ms
elseif ticket and ticket.state == T_ADMITTED then
  live = state_at(ticket, now) == T_ADMITTED
end
if not live and state == Q_CLOSED then
  return { QUEUE_CLOSED, 0, 0, 0, 0, 0, 0, '', 0 }
end

-- Writes start here.
expire_idle(k, now, idle_ms, SWEEP_BATCH)

if live then
  if ticket.state == T_WAITING then
    redis.call('ZADD', k.seen, 'XX', now, user)
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

local next_seq = redis.call('INCR', k.seq)
local seq = int_str(next_seq)
local joined = int_str(now)
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
redis.call('ZADD', k.waiting, seq, user)
redis.call('ZADD', k.seen, now, user)
write_ticket(k.tickets, user, T_WAITING, seq, joined)
redis.call('HINCRBY', k.stats, 'joined_total', 1)
if in_pre then
  log_change(k, CT_QUEUE_JOINED, user, seq, 'pre', '1')
else
  log_change(k, CT_QUEUE_JOINED, user, seq)
end

return ticket_reply(JOINED, k, user, { state = T_WAITING, seq = seq, joined = joined }, T_WAITING, true)

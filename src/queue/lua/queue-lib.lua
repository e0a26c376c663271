-- Shared helpers for the queue scripts, included after the prelude.
--
-- A ticket record lives in the event's `tickets` hash, field = user id,
-- value = "<state>|<seq>|<joined_ms>". `seq` is the user's place in arrival
-- order (an INCR per event), so positions are ranks in the `waiting` sorted set
-- scored by seq: integers, exact, no timestamps involved.

local function now_ms(skew_ms)
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + (tonumber(skew_ms) or 0)
end

local function int_str(n)
  return string.format('%d', n)
end

local function read_ticket(tickets_key, user)
  local raw = redis.call('HGET', tickets_key, user)
  if not raw then
    return nil
  end
  local state, seq, joined = string.match(raw, '^(%d+)|(%d+)|(%d+)$')
  return { state = tonumber(state), seq = seq, joined = joined }
end

local function write_ticket(tickets_key, user, state, seq, joined)
  redis.call('HSET', tickets_key, user, state .. '|' .. seq .. '|' .. joined)
end

local function log_change(log_key, kind, user, seq)
  redis.call('XADD', log_key, 'MAXLEN', '~', LOG_MAXLEN, '*', 'type', kind, 'user', user, 'seq', seq)
end

-- 1-based position of a waiting user, 0 when not waiting.
local function position_of(waiting_key, user)
  local rank = redis.call('ZRANK', waiting_key, user)
  if rank then
    return rank + 1
  end
  return 0
end

-- Removes a waiting user from the line and records their terminal state.
local function end_waiting(k, user, ticket, state, kind)
  redis.call('ZREM', k.waiting, user)
  redis.call('ZREM', k.seen, user)
  write_ticket(k.tickets, user, state, ticket.seq, ticket.joined)
  log_change(k.log, kind, user, ticket.seq)
end

-- Expires up to `limit` users who have neither polled nor watched since
-- `now - idle_ms`. Returns how many were expired and whether more remain.
local function expire_idle(k, now, idle_ms, limit)
  local cutoff = now - idle_ms
  local users = redis.call('ZRANGEBYSCORE', k.seen, '-inf', '(' .. int_str(cutoff), 'LIMIT', 0, limit + 1)
  local expired = 0
  for i = 1, math.min(#users, limit) do
    local user = users[i]
    local ticket = read_ticket(k.tickets, user)
    if ticket then
      end_waiting(k, user, ticket, T_EXPIRED, 'queue.expired')
    else
      redis.call('ZREM', k.seen, user)
      redis.call('ZREM', k.waiting, user)
    end
    expired = expired + 1
  end
  if expired > 0 then
    redis.call('HINCRBY', k.stats, 'expired_total', expired)
  end
  return expired, #users > limit
end

local function idle_ms_of(config_key)
  return tonumber(redis.call('HGET', config_key, 'idle_timeout')) * 1000
end

--[[
  Periodic maintenance of one event's line: one bounded step of the walk that
  expires idle waiters, and the outbox trimmed to its retention (exactly: an
  event nobody writes to still loses its old entries).

  The walk goes through the line in order (the `waiting` set, by seq), at
  most `limit` waiters a step, and resumes where the previous step stopped
  (`sweep_at` in stats: the last seq examined). A waiter whose last presence
  is older than the idle timeout is expired. Expiring is what a step's time
  goes to (the ticket rewritten, the ZREM, the outbox entry; a present waiter
  is only read), so a step also stops right after its `max_expired`-th
  expiry, and the next one resumes behind that waiter: a crowd gone at once
  takes more steps, each no longer than `max_expired` expiries. A walk ends
  at the back of the line, or early at the first waiter who joined within
  the idle timeout (and after the last opening shuffle): everyone behind
  joined later still, so nobody there can be idle. The walk remembers the earliest presence it left
  in the line (`sweep_min`); until that is idle too, nobody can be, and a step
  costs one read. Presence only moves forward and newcomers arrive present, so
  a walk that ends having run at one clock reading leaves no idle waiter
  behind. The opening shuffle moves waiters between places: when it is done
  the next walk starts afresh (admitQueue clears `sweep_at` and `sweep_min`).

  KEYS[1] config   KEYS[2] waiting   KEYS[3] tickets (bucket prefix)
  KEYS[4] stats    KEYS[5] log

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything (here: exactly, by this sweep)
  ARGV[2] clock skew ms (tests only; "0" in production)
  ARGV[3] batch limit: most waiters examined by this step
  ARGV[4] most waiters expired by this step (it stops after that many)

  Output: { code, expired, more (1 when the walk goes on: another step is due), examined }
    OK               swept
    EVENT_NOT_FOUND  no queue configured for the event
  Events: queue.expired
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], tickets = KEYS[3], stats = KEYS[4], log = KEYS[5],
  log_min = log_min_of(ARGV[1]),
}
local skew, limit, max_expired = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local idle_timeout = redis.call('HGET', k.config, 'idle_timeout')
if not idle_timeout then
  return { EVENT_NOT_FOUND, 0, 0, 0 }
end

trim_log(k)
local now = now_ms(skew)
local cutoff = now - tonumber(idle_timeout) * 1000
local s = redis.call('HMGET', k.stats, 'sweep_at', 'sweep_min', 'sweep_pass_min', 'opened_ms')
local at, earliest = s[1], tonumber(s[3]) or math.huge
if not at then
  local min = tonumber(s[2])
  if min and min >= cutoff then
    return { OK, 0, 0, 0 }
  end
  at, earliest = '-inf', math.huge
else
  at = '(' .. at
end
local opened = tonumber(s[4]) or 0

-- Read in chunks of at most the step's share of expiries: a step that stops
-- on its share has read little beyond it.
local chunk = math.min(limit, max_expired)
local expired, examined, done, stop = 0, 0, false, false
local last
while not stop and examined < limit do
  local want = math.min(chunk, limit - examined)
  local line = redis.call('ZRANGEBYSCORE', k.waiting, at, '+inf', 'WITHSCORES', 'LIMIT', 0, want)
  -- A short read is the back of the line.
  done = #line < 2 * want
  stop = done
  for i = 1, #line, 2 do
    local user = line[i]
    last = line[i + 1]
    examined = examined + 1
    local ticket = read_ticket(k, user)
    if not ticket or ticket.state ~= T_WAITING then
      -- Not a waiting ticket (never expected): only the stray entry goes.
      redis.call('ZREM', k.waiting, user)
    elseif ticket.seen < cutoff then
      end_waiting(k, user, ticket, T_EXPIRED, CT_QUEUE_EXPIRED)
      expired = expired + 1
      if expired >= max_expired then
        -- The step's share of expiries: the walk goes on behind this waiter,
        -- unless they were the back of the line.
        done = done and i + 1 == #line
        stop = true
        break
      end
    else
      earliest = math.min(earliest, ticket.seen)
      local joined = tonumber(ticket.joined)
      if joined >= cutoff and joined >= opened then
        -- Everyone behind joined later: present at least since this one joined.
        earliest = math.min(earliest, joined)
        done, stop = true, true
        break
      end
    end
  end
  if not stop then
    at = '(' .. last
  end
end
if expired > 0 then
  redis.call('HINCRBY', k.stats, 'expired_total', expired)
end

if done then
  redis.call('HDEL', k.stats, 'sweep_at', 'sweep_pass_min')
  if earliest == math.huge then
    redis.call('HDEL', k.stats, 'sweep_min')
  else
    redis.call('HSET', k.stats, 'sweep_min', int_str(earliest))
  end
  return { OK, expired, 0, examined }
end
local fields = { 'sweep_at', last }
if earliest ~= math.huge then
  fields[3], fields[4] = 'sweep_pass_min', int_str(earliest)
end
redis.call('HSET', k.stats, unpack(fields))
return { OK, expired, 1, examined }

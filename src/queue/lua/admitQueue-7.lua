--[[
  One admission step for an event: ends lapsed sessions, refills the token
  bucket from the clock and admits users from the head of the line. Every
  server instance runs it for every event on every tick; each call is atomic,
  so any number of instances together admit at the configured rate.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] tickets (bucket prefix)
  KEYS[4] stats    KEYS[5] log       KEYS[6] active   KEYS[7] bucket

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] clock skew ms (tests only; "0" in production)
  ARGV[3] most users admitted by this call
  ARGV[4] most sessions ended (and idle users met at the head of the line) by this call
  ARGV[5] most swaps of the opening shuffle done by this call
  ARGV[6] seed of this call's share of the opening shuffle (0 .. 2^31-1, random)

  Output: { code, admitted, sessions_ended, tokens, rate_ewma, more, opening }
    tokens     what the bucket holds after this step (decimal string)
    rate_ewma  measured admissions per second (decimal string), "" before the first
    more       1 when a limit of this call left work that is already due
    opening    OPENING_NONE       no sale start pending: admissions as configured
               OPENING_WAITING    before opens_at: nobody is admitted (the pre-queue fills)
               OPENING_SHUFFLING  the pre-queue's shuffle went on and is not done: nobody is admitted
               OPENING_SHUFFLED   this call finished the shuffle (admissions resume with the next call)
    OK               the step (PAUSED: sessions end and the bucket fills, nobody is admitted)
    EVENT_NOT_FOUND  no queue configured for the event
  Events: queue.admitted (user, seq, issued, expires) per admitted user;
    queue.session_ended (user, seq, reason=expired, issued, expires) per lapsed session;
    queue.expired for idle users met at the head of the line (they are never admitted);
    queue.shuffled (user "", seq = the pre-queue's last seq, first = its first) once
    the opening shuffle is done: every pre-queue user's seq and place changed
]]
local k = {
  config = KEYS[1], waiting = KEYS[2], tickets = KEYS[3],
  stats = KEYS[4], log = KEYS[5], active = KEYS[6], bucket = KEYS[7], log_min = log_min_of(ARGV[1]),
}
local skew, max_admit, max_end = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local max_swaps, seed = tonumber(ARGV[5]), tonumber(ARGV[6])

local c = redis.call('HMGET', k.config, 'rate', 'burst', 'max_active', 'session_ttl', 'idle_timeout', 'state', 'opens_at')
local state = tonumber(c[6])
if not state then
  return { EVENT_NOT_FOUND, 0, 0, '', '', 0, OPENING_NONE }
end
local opens_at = tonumber(c[7])
local rate, capacity, max_active = tonumber(c[1]), tonumber(c[2]) * MICRO, tonumber(c[3])
local ttl_ms, idle_ms = tonumber(c[4]) * 1000, tonumber(c[5]) * 1000

-- Writes start here.
local now = now_ms(skew)

-- Sessions past their expiry end, a bounded batch per call.
local lapsed = redis.call('ZRANGEBYSCORE', k.active, '-inf', int_str(now), 'LIMIT', 0, max_end + 1)
local ended = 0
for i = 1, math.min(#lapsed, max_end) do
  local ticket = read_ticket(k, lapsed[i])
  if ticket and ticket.state == T_ADMITTED then
    end_session(k, lapsed[i], ticket, T_EXPIRED, 'expired')
    ended = ended + 1
  else
    redis.call('ZREM', k.active, lapsed[i])
  end
end

-- The bucket refills from the clock, never above the burst; time that runs
-- backwards adds nothing. Tokens are counted in integer micro-tokens.
local b = redis.call('HMGET', k.bucket, 'tokens', 'refilled_ms')
local stored = b[1] and parse_micro(b[1])
local tokens, refilled = capacity, now
if stored then
  tokens, refilled = stored, tonumber(b[2])
  local elapsed = math.max(0, now - refilled)
  tokens = math.min(capacity, tokens + math.floor(elapsed * rate * 1000 + 0.5))
  refilled = math.max(refilled, now)
end
local refreshed = tokens ~= stored

-- Nobody is admitted before the sale opens, nor while the pre-queue is shuffled.
local opening = opening_step(k, now, opens_at, max_swaps, seed)
local more = opening == OPENING_SHUFFLING or opening == OPENING_SHUFFLED

-- Admission, lowest seq first. Idle users met at the head lose their place instead.
local waiting = redis.call('ZCARD', k.waiting)
local admitted, idle = 0, 0
if state ~= Q_PAUSED and waiting > 0 and opening == OPENING_NONE then
  local room = math.huge
  if max_active > 0 then
    room = math.max(0, max_active - redis.call('ZCOUNT', k.active, '(' .. int_str(now), '+inf'))
  end
  local want = math.min(math.floor(tokens / MICRO), room, max_admit)
  local issued, expires, cutoff = int_str(now), int_str(now + ttl_ms), now - idle_ms
  local examined = 0
  while admitted < want and examined < want + max_end do
    local head = redis.call('ZRANGE', k.waiting, 0, want - admitted - 1)
    if #head == 0 then
      break
    end
    for _, user in ipairs(head) do
      examined = examined + 1
      local ticket = read_ticket(k, user)
      if not ticket or ticket.state ~= T_WAITING then
        -- Not a waiting ticket (never expected): only the stray entry goes.
        redis.call('ZREM', k.waiting, user)
      elseif ticket.seen >= cutoff then
        redis.call('ZREM', k.waiting, user)
        write_ticket(ticket.key, user, T_ADMITTED, ticket.seq, ticket.joined, issued, expires)
        redis.call('ZADD', k.active, expires, user)
        log_change(k, CT_QUEUE_ADMITTED, user, ticket.seq, 'issued', issued, 'expires', expires)
        admitted = admitted + 1
      else
        end_waiting(k, user, ticket, T_EXPIRED, CT_QUEUE_EXPIRED)
        idle = idle + 1
      end
    end
  end
  tokens = tokens - admitted * MICRO
  local left = redis.call('ZCARD', k.waiting)
  more = left > 0 and (admitted < want or (admitted == max_admit and tokens >= MICRO and room > admitted))
  if admitted > 0 then
    redis.call('HINCRBY', k.stats, 'admitted_total', admitted)
  end
  if idle > 0 then
    redis.call('HINCRBY', k.stats, 'expired_total', idle)
  end
end
local rate_ewma = update_rate(k.stats, now, admitted, state ~= Q_PAUSED and waiting > 0 and opening == OPENING_NONE)

-- Nothing refilled (a full bucket, or too little time) and nothing spent:
-- no write, so not even a fraction of the elapsed time is lost.
if refreshed or admitted > 0 then
  redis.call('HSET', k.bucket, 'tokens', format_micro(tokens), 'refilled_ms', int_str(refilled))
end
return { OK, admitted, ended, format_micro(tokens), rate_ewma, (more or #lapsed > max_end) and 1 or 0, opening }

-- Shared helpers for the queue scripts, included after the prelude.
--
-- A ticket record lives in one of the event's ticket buckets: the hash
-- `k.tickets .. b` (`ticketBucketKey` in src/queue/keys.ts spells the same) (b in 0 .. TICKET_BUCKETS - 1, from the user id), field =
-- user id. Buckets stay small enough for Redis's compact hash encoding
-- (listpack, up to hash-max-listpack-entries fields of at most
-- hash-max-listpack-value bytes), which takes a fraction of the memory of one
-- big hash table. The value is packed binary (`struct`, big-endian):
--   state, seq, joined_ms, seen_ms                    waiting ('>BI4I6I6', 17 bytes)
--   state, seq, joined_ms                             ended while waiting ('>BI4I6', 11 bytes)
--   state, seq, joined_ms, issued_ms, expires_ms      admitted, or ended after admission ('>BI4I6I6I6', 23 bytes)
-- `seq` is the user's place in arrival order (an INCR per event), so positions
-- are ranks in the `waiting` sorted set scored by seq: integers, exact, no
-- timestamps involved. `seen_ms` is the waiter's last presence (Join,
-- GetPosition, a watch stream); the sweep reads it walking the line. An
-- admitted user's session lives in `active`, scored by its expiry; it ends
-- (EXPIRED) from `expires_ms` on, swept or not.

local PACK_WAITING, PACK_ENDED, PACK_ADMITTED = '>BI4I6I6', '>BI4I6', '>BI4I6I6I6'

-- The bucket holding `user`'s ticket (a polynomial hash of the id's bytes).
local function ticket_key(k, user)
  local h = 0
  for i = 1, #user do
    h = (h * 31 + string.byte(user, i)) % 1000003
  end
  return k.tickets .. (h % TICKET_BUCKETS)
end

-- The user's ticket in bucket `key` (nil when they never joined). Numbers
-- other than `state` and `seen` come as decimal strings, ready for replies
-- and the outbox; `issued`/`expires` for admitted and session-ended tickets
-- only, `seen` for waiting ones only.
local function read_ticket_at(key, user)
  local raw = redis.call('HGET', key, user)
  if not raw then
    return nil
  end
  local n = #raw
  if n == 17 then
    local state, seq, joined, seen = struct.unpack(PACK_WAITING, raw)
    return { key = key, state = state, seq = int_str(seq), joined = int_str(joined), seen = seen }
  elseif n == 23 then
    local state, seq, joined, issued, expires = struct.unpack(PACK_ADMITTED, raw)
    return {
      key = key, state = state, seq = int_str(seq), joined = int_str(joined),
      issued = int_str(issued), expires = int_str(expires),
    }
  end
  local state, seq, joined = struct.unpack(PACK_ENDED, raw)
  return { key = key, state = state, seq = int_str(seq), joined = int_str(joined) }
end

-- The user's ticket, wherever its bucket: for scripts that meet users in the
-- line (the one-user scripts get their bucket as a key from the caller).
local function read_ticket(k, user)
  return read_ticket_at(ticket_key(k, user), user)
end

-- A waiting ticket, present at `seen` (epoch ms).
local function write_waiting(key, user, seq, joined, seen)
  redis.call('HSET', key, user, struct.pack(PACK_WAITING, T_WAITING, seq, joined, seen))
end

-- Any other ticket: `issued` and `expires` (strings) are given for admitted
-- and session-ended tickets only.
local function write_ticket(key, user, state, seq, joined, issued, expires)
  local raw
  if issued then
    raw = struct.pack(PACK_ADMITTED, state, seq, joined, issued, expires)
  else
    raw = struct.pack(PACK_ENDED, state, seq, joined)
  end
  redis.call('HSET', key, user, raw)
end

-- Records a waiting user's presence at `now`.
local function touch(user, ticket, now)
  write_waiting(ticket.key, user, ticket.seq, ticket.joined, now)
  ticket.seen = now
end

-- The state a reader sees: an admitted session is over from its expiry on,
-- even before the admitter has swept it.
local function state_at(ticket, now)
  if ticket.state == T_ADMITTED and tonumber(ticket.expires) <= now then
    return T_EXPIRED
  end
  return ticket.state
end

-- Appends one change (a CT_* type) to the event's outbox; extra field/value
-- pairs follow `seq` (src/redis/change-types.ts lists each type's fields).
-- Entries older than `k.log_min` are trimmed on the way, approximately (MINID
-- ~ drops whole stream nodes only), so retention costs next to nothing here.
local function log_change(k, kind, user, seq, ...)
  log_entry(k, kind, 'user', user, 'seq', seq, ...)
end

-- 1-based position of a waiting user, 0 when not waiting.
local function position_of(waiting_key, user)
  local rank = redis.call('ZRANK', waiting_key, user)
  if rank then
    return rank + 1
  end
  return 0
end

-- The pre-queue, from fields of `stats`: users who joined before the sale
-- opened hold the seqs pre_first..pre_last (consecutive: a pre-queue join
-- extends the range only if no other join came between). At the opening the
-- admitter shuffles them (`shuffle_next` is its progress) into a uniformly
-- random order, ahead of everyone who joined later; the three fields go when
-- it is done. nil when there is no pre-queue waiting for its shuffle.
local function pre_queue_from(first, last, next)
  if not first then
    return nil
  end
  return { first = tonumber(first), last = tonumber(last), next = tonumber(next) }
end

local function pre_queue_of(stats_key)
  local p = redis.call('HMGET', stats_key, 'pre_first', 'pre_last', 'shuffle_next')
  return pre_queue_from(p[1], p[2], p[3])
end

-- What readers of the line need from `stats`, in one read: the measured
-- admission rate (a decimal string, '' before there is one) and the pre-queue.
local function line_stats(stats_key)
  local s = redis.call('HMGET', stats_key, 'rate_ewma', 'pre_first', 'pre_last', 'shuffle_next')
  return s[1] or '', pre_queue_from(s[2], s[3], s[4])
end

-- Whether a waiting ticket is in the pre-queue: its place is not decided yet.
local function in_pre_queue(pre, ticket)
  if not pre or ticket.state ~= T_WAITING then
    return false
  end
  local seq = tonumber(ticket.seq)
  return seq >= pre.first and seq <= pre.last
end

-- Moves a waiting user to place `seq` (a score of `waiting`, and their ticket's seq).
local function move_to(k, user, seq)
  redis.call('ZADD', k.waiting, 'XX', seq, user)
  local t = read_ticket(k, user)
  write_waiting(t.key, user, seq, t.joined, t.seen)
end

-- Up to `max_swaps` steps of a Fisher-Yates shuffle of the pre-queue's places,
-- with math.random seeded by `seed`; the shuffle goes on where the previous
-- call left it (`shuffle_next`, the highest place index not yet final).
-- Places are the seqs pre_first..pre_last, not ranks: a place whose user has
-- left is simply empty, so users leaving between two calls change nothing,
-- and the users still waiting end in a uniformly random order. Returns true
-- when the shuffle is complete.
local function shuffle_pre_queue(k, pre, max_swaps, seed)
  math.randomseed(seed)
  local i = pre.next or (pre.last - pre.first)
  local steps = 0
  while i > 0 and steps < max_swaps do
    local j = math.random(0, i)
    if j ~= i then
      local a, b = int_str(pre.first + i), int_str(pre.first + j)
      local at_a = redis.call('ZRANGEBYSCORE', k.waiting, a, a, 'LIMIT', 0, 1)[1]
      local at_b = redis.call('ZRANGEBYSCORE', k.waiting, b, b, 'LIMIT', 0, 1)[1]
      if at_a then
        move_to(k, at_a, b)
      end
      if at_b then
        move_to(k, at_b, a)
      end
    end
    i = i - 1
    steps = steps + 1
  end
  if i > 0 then
    redis.call('HSET', k.stats, 'shuffle_next', int_str(i))
    return false
  end
  return true
end

-- The opening, one admission step's share of it: nothing before opens_at;
-- from then on (or once opens_at is removed) the pre-queue is shuffled, a
-- bounded share per call, and `queue.shuffled` is logged when it is done.
-- Returns the OPENING_* phase; admissions happen only in OPENING_NONE.
local function opening_step(k, now, opens_at, max_swaps, seed)
  if opens_at and now < opens_at then
    return OPENING_WAITING
  end
  local pre = pre_queue_of(k.stats)
  if not pre then
    return OPENING_NONE
  end
  if not shuffle_pre_queue(k, pre, max_swaps, seed) then
    return OPENING_SHUFFLING
  end
  -- Waiters changed places: the idle sweep's next walk starts afresh (sweepQueue).
  redis.call('HDEL', k.stats, 'pre_first', 'pre_last', 'shuffle_next', 'sweep_at', 'sweep_min', 'sweep_pass_min')
  redis.call('HSET', k.stats, 'opened_ms', int_str(now))
  log_change(k, CT_QUEUE_SHUFFLED, '', int_str(pre.last), 'first', int_str(pre.first))
  return OPENING_SHUFFLED
end

-- The sale start (epoch ms) as pre-queue tickets report it; 0 when unset.
local function opens_at_of(config_key)
  return tonumber(redis.call('HGET', config_key, 'opens_at')) or 0
end

-- A ticket reply:
-- { code, state, position, waiting_total, joined_ms, issued_ms, expires_ms, rate, opens_at_ms }
-- (`issued_ms`/`expires_ms` 0 before admission; `rate` as in line_stats when
-- `with_rate`, else ''). A user in the pre-queue has position 0 and
-- `opens_at_ms` the sale start; everyone else has opens_at_ms 0.
local function ticket_reply(code, k, user, ticket, state, with_rate)
  local rate, pre = line_stats(k.stats)
  local position, opens_at = position_of(k.waiting, user), 0
  if state == T_WAITING and position > 0 and in_pre_queue(pre, ticket) then
    position, opens_at = 0, opens_at_of(k.config)
  end
  if not with_rate then
    rate = ''
  end
  return {
    code, state, position, redis.call('ZCARD', k.waiting),
    tonumber(ticket.joined), tonumber(ticket.issued or 0), tonumber(ticket.expires or 0), rate, opens_at,
  }
end

local function decimal(x)
  return string.format('%.17g', x)
end

-- A rate for readers: nine decimals, trailing zeros trimmed ("19.5", "20"), so
-- the last bits of floating-point noise never reach an estimate.
local function rate_str(x)
  local text = string.gsub(string.format('%.9f', x), '0+$', '')
  return (string.gsub(text, '%.$', ''))
end

-- Updates the measured admission rate with one admission step and returns it
-- as `line_stats` would. It is an exponentially weighted average of admissions
-- per second (time constant RATE_TAU_MS) kept as two decayed sums, the
-- admissions and the seconds they were measured over, so it is unbiased from
-- the first steps on instead of creeping up from zero. Only steps where
-- someone waited to be admitted (`measuring`) count, and the gap between two
-- counts at most RATE_MAX_GAP_MS, so a quiet or paused line does not decay it.
local function update_rate(stats_key, now, admitted, measuring)
  local r = redis.call('HMGET', stats_key, 'rate_sum', 'rate_span', 'rate_at', 'rate_ewma')
  local rate = r[4] or ''
  if not measuring then
    return rate
  end
  local sum, span, at = tonumber(r[1]), tonumber(r[2]), tonumber(r[3])
  if sum then
    local decay = math.exp(-math.min(math.max(0, now - at), RATE_MAX_GAP_MS) / RATE_TAU_MS)
    sum = sum * decay + admitted
    span = span * decay + (1 - decay) * RATE_TAU_MS / 1000
    at = math.max(at, now)
  elseif admitted > 0 then
    sum, span, at = admitted, 0, now
  else
    return rate
  end
  redis.call('HSET', stats_key, 'rate_sum', decimal(sum), 'rate_span', decimal(span), 'rate_at', int_str(at))
  if span > 0 then
    rate = rate_str(sum / span)
    redis.call('HSET', stats_key, 'rate_ewma', rate)
  end
  return rate
end

-- Token counts travel as exact decimal strings of whole micro-tokens ("2.05").
local MICRO = 1000000

local function parse_micro(text)
  local whole, frac = string.match(text, '^(%d+)%.?(%d*)$')
  return tonumber(whole) * MICRO + tonumber(string.sub(frac .. '000000', 1, 6))
end

local function format_micro(micro)
  local whole = math.floor(micro / MICRO)
  local frac = micro - whole * MICRO
  if frac == 0 then
    return int_str(whole)
  end
  return (string.gsub(string.format('%d.%06d', whole, frac), '0+$', ''))
end

-- Removes a waiting user from the line and records their terminal state.
local function end_waiting(k, user, ticket, state, kind)
  redis.call('ZREM', k.waiting, user)
  write_ticket(ticket.key, user, state, ticket.seq, ticket.joined)
  log_change(k, kind, user, ticket.seq)
end

-- Ends an admitted user's session (`reason` 'expired' or 'left'), freeing its
-- max_active slot. Not a change of the line: nobody's position moves.
local function end_session(k, user, ticket, state, reason)
  redis.call('ZREM', k.active, user)
  write_ticket(ticket.key, user, state, ticket.seq, ticket.joined, ticket.issued, ticket.expires)
  log_change(k, CT_QUEUE_SESSION_ENDED, user, ticket.seq,
    'reason', reason, 'issued', ticket.issued, 'expires', ticket.expires)
end

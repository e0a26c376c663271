--[[
  One tick of a process's watch loop for an event: the changes since the loop's
  cursor, fresh tickets for newly registered watchers, and presence for watched
  users. The Redis work is proportional to the changes and to the watchers
  that registered since the last tick, never to everyone watching.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] seen   KEYS[4] tickets   KEYS[5] log
  KEYS[6] stats

  ARGV[1] clock skew ms (tests only; "0" in production)
  ARGV[2] cursor: last outbox id the loop has applied ("" = start from now)
  ARGV[3] most changes to return; past that the reply asks for a resync
  ARGV[4] n_touch: how many users follow whose presence to refresh
  ARGV[5 .. 4+n_touch]   users to touch (still waiting ones only)
  ARGV[5+n_touch ..]     users whose tickets to read (newly registered watchers)

  Output: { code, cursor, resync, waiting_total, changes, tickets, idle_timeout_seconds, rate_ewma, opens_at_ms }
    changes = { kind, user, seq, issued, expires, ... } of the line's entries after the
      cursor, in order (queue.joined, left, expired, admitted, session_ended, shuffled;
      other entries, queue.configured and seat.*, only move the cursor); issued/expires
      are the session's ("0" unless the entry has them: queue.admitted, queue.session_ended)
    tickets = { user, found (0/1), state, position, joined_ms, seq, issued_ms, expires_ms, ... }
      per user read (an admitted session past its expiry reads EXPIRED; a user in
      the pre-queue reads position 0)
    rate_ewma = measured admissions per second (decimal string), "" before the first
    opens_at_ms = the sale start while a pre-queue waits for its shuffle, else 0;
      a queue.shuffled change means every pre-queue user's place and seq changed
    resync = 1 when changes were lost (trimmed) or too many: the cursor jumped
      to the newest entry and every watcher must be re-read
    OK               the tick
    EVENT_NOT_FOUND  no queue configured for the event
  Events: none
]]
local k = { config = KEYS[1], waiting = KEYS[2], seen = KEYS[3], tickets = KEYS[4], log = KEYS[5], stats = KEYS[6] }
local skew, cursor, max_changes, n_touch = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, cursor, 0, 0, {}, {}, 0, '', 0 }
end

local function newest_id()
  local last = redis.call('XREVRANGE', k.log, '+', '-', 'COUNT', 1)
  if last[1] then
    return last[1][1]
  end
  return '0-0'
end

local function id_after(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  return a_ms > b_ms or (a_ms == b_ms and tonumber(a_seq) > tonumber(b_seq))
end

-- The entries the watch loop follows, read positionally (user, seq, issued, expires).
local LINE_CHANGES = {
  [CT_QUEUE_JOINED] = true, [CT_QUEUE_LEFT] = true, [CT_QUEUE_EXPIRED] = true,
  [CT_QUEUE_ADMITTED] = true, [CT_QUEUE_SESSION_ENDED] = true, [CT_QUEUE_SHUFFLED] = true,
}

local changes, resync = {}, 0
if cursor == '' then
  cursor = newest_id()
else
  local first = redis.call('XRANGE', k.log, '-', '+', 'COUNT', 1)
  local entries = redis.call('XRANGE', k.log, '(' .. cursor, '+', 'COUNT', max_changes + 1)
  if (first[1] and id_after(first[1][1], cursor) and cursor ~= '0-0') or #entries > max_changes then
    resync = 1
    cursor = newest_id()
  else
    for _, entry in ipairs(entries) do
      local f = entry[2]
      local fields = {}
      for i = 1, #f, 2 do
        fields[f[i]] = f[i + 1]
      end
      -- The stream also carries seat changes and configuration; only changes of the line pass.
      if LINE_CHANGES[fields.type or ''] then
        table.insert(changes, fields.type)
        table.insert(changes, fields.user)
        table.insert(changes, fields.seq)
        table.insert(changes, fields.issued or '0')
        table.insert(changes, fields.expires or '0')
      end
      cursor = entry[1]
    end
  end
end

local now = now_ms(skew)
for i = 5, 4 + n_touch do
  redis.call('ZADD', k.seen, 'XX', now, ARGV[i])
end

local rate, pre = line_stats(k.stats)
local tickets = {}
for i = 5 + n_touch, #ARGV do
  local user = ARGV[i]
  local ticket = read_ticket(k.tickets, user)
  table.insert(tickets, user)
  if ticket then
    local rank = redis.call('ZRANK', k.waiting, user)
    if ticket.state == T_WAITING and rank then
      redis.call('ZADD', k.seen, 'XX', now, user)
    end
    table.insert(tickets, 1)
    table.insert(tickets, state_at(ticket, now))
    table.insert(tickets, (rank and not in_pre_queue(pre, ticket)) and rank + 1 or 0)
    table.insert(tickets, tonumber(ticket.joined))
    table.insert(tickets, ticket.seq)
    table.insert(tickets, tonumber(ticket.issued or 0))
    table.insert(tickets, tonumber(ticket.expires or 0))
  else
    for _ = 1, 7 do
      table.insert(tickets, 0)
    end
  end
end

return {
  OK, cursor, resync, redis.call('ZCARD', k.waiting), changes, tickets,
  tonumber(redis.call('HGET', k.config, 'idle_timeout')), rate, pre and opens_at_of(k.config) or 0,
}

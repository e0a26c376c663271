--[[
  One tick of a process's WatchPosition loop for an event: presence for watched
  users, fresh tickets for watchers being read, and the line's figures. The
  changes themselves come from the process's outbox reader; this script reads
  the newest outbox id only, so the loop knows which changes the tickets
  already include. The Redis work follows the watchers being read and
  refreshed this tick, never everyone watching.

  KEYS[1] config   KEYS[2] waiting   KEYS[3] tickets (bucket prefix)   KEYS[4] stats
  KEYS[5] log

  ARGV[1] clock skew ms (tests only; "0" in production)
  ARGV[2] n_touch: how many users follow whose presence to refresh
  ARGV[3 .. 2+n_touch]   users to touch (still waiting ones only)
  ARGV[3+n_touch ..]     users whose tickets to read (watchers being read)

  Output: { code, log_id, waiting_total, tickets, idle_timeout_seconds, rate_ewma, opens_at_ms }
    log_id  = id of the newest outbox entry ("0-0" if none): the tickets include
      every change up to it and none after it
    tickets = { user, found (0/1), state, position, joined_ms, seq, issued_ms, expires_ms, ... }
      per user read (an admitted session past its expiry reads EXPIRED; a user in
      the pre-queue reads position 0); reading a waiting user refreshes their presence
    rate_ewma = measured admissions per second (decimal string), "" before the first
    opens_at_ms = the sale start while a pre-queue waits for its shuffle, else 0
    OK               the tick
    EVENT_NOT_FOUND  no queue configured for the event
  Events: none
]]
local k = { config = KEYS[1], waiting = KEYS[2], tickets = KEYS[3], stats = KEYS[4], log = KEYS[5] }
local skew, n_touch = ARGV[1], tonumber(ARGV[2])

if redis.call('EXISTS', k.config) == 0 then
  return { EVENT_NOT_FOUND, '', 0, {}, 0, '', 0 }
end

local newest = redis.call('XREVRANGE', k.log, '+', '-', 'COUNT', 1)
local log_id = newest[1] and newest[1][1] or '0-0'

local now = now_ms(skew)
for i = 3, 2 + n_touch do
  local ticket = read_ticket(k, ARGV[i])
  if ticket and ticket.state == T_WAITING then
    touch(ARGV[i], ticket, now)
  end
end

local rate, pre = line_stats(k.stats)
local tickets = {}
for i = 3 + n_touch, #ARGV do
  local user = ARGV[i]
  local ticket = read_ticket(k, user)
  table.insert(tickets, user)
  if ticket then
    local rank = redis.call('ZRANK', k.waiting, user)
    if ticket.state == T_WAITING and rank then
      touch(user, ticket, now)
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
  OK, log_id, redis.call('ZCARD', k.waiting), tickets,
  tonumber(redis.call('HGET', k.config, 'idle_timeout')), rate, pre and opens_at_of(k.config) or 0,
}

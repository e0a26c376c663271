--[[
  Reads a page of a group's dead letters, oldest first.

  KEYS[1] groups   KEYS[2] dlq

  ARGV[1] group
  ARGV[2] read after this dead letter id ("" = from the oldest)
  ARGV[3] page size

  Output: { code, total, entries }
    OK               entries: up to page size + 1 of { id, { field, value, ... } } (one more
                     than asked tells the caller another page follows); total: all dead letters
    GROUP_NOT_FOUND  the event has no such group
]]
local k = { groups = KEYS[1], dlq = KEYS[2] }
local group, after, size = ARGV[1], ARGV[2], tonumber(ARGV[3])

if redis.call('SISMEMBER', k.groups, group) == 0 then
  return { GROUP_NOT_FOUND, 0, {} }
end
local start = '-'
if after ~= '' then
  start = '(' .. after
end
return { OK, redis.call('XLEN', k.dlq), redis.call('XRANGE', k.dlq, start, '+', 'COUNT', size + 1) }

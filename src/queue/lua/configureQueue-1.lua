--[[
  Creates or updates an event's queue configuration.

  KEYS[1] config   hash of the event's queue settings

  ARGV[1] admit_rate_per_sec   decimal string, "" = keep (default on create)
  ARGV[2] admit_burst          integer, "" = keep (default max(1, ceil(rate)) on create)
  ARGV[3] max_active           integer, "" = keep (default on create)
  ARGV[4] session_ttl          seconds, "" = keep (default on create)
  ARGV[5] idle_timeout         seconds, "" = keep (default on create)
  ARGV[6] opens_at             epoch ms, "" = keep, "clear" = remove
  ARGV[7] state                Q_* code, "" = keep (Q_OPEN on create)
  ARGV[8] clock skew ms        added to Redis TIME (tests only; "0" in production)

  Output: { CREATED | UPDATED, rate, burst, max_active, session_ttl, idle_timeout, opens_at ("" = none), state }
  Events: none (configuration is not an outbox change)
]]
local config_key = KEYS[1]
local rate, burst, max_active = ARGV[1], ARGV[2], ARGV[3]
local session_ttl, idle_timeout, opens_at, state = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local skew = ARGV[8]

local current = redis.call('HGETALL', config_key)
local cfg = {}
for i = 1, #current, 2 do
  cfg[current[i]] = current[i + 1]
end
local created = cfg.state == nil

local function pick(value, key, default)
  if value ~= '' then
    return value
  end
  if not created then
    return cfg[key]
  end
  return default
end

cfg.rate = pick(rate, 'rate', DEFAULT_ADMIT_RATE)
cfg.burst = pick(burst, 'burst', int_str(math.max(1, math.ceil(tonumber(cfg.rate)))))
cfg.max_active = pick(max_active, 'max_active', DEFAULT_MAX_ACTIVE)
cfg.session_ttl = pick(session_ttl, 'session_ttl', DEFAULT_SESSION_TTL)
cfg.idle_timeout = pick(idle_timeout, 'idle_timeout', DEFAULT_IDLE_TIMEOUT)
cfg.state = pick(state, 'state', tostring(Q_OPEN))
if opens_at == 'clear' then
  cfg.opens_at = ''
else
  cfg.opens_at = pick(opens_at, 'opens_at', '')
end

local fields = {
  'rate', cfg.rate, 'burst', cfg.burst, 'max_active', cfg.max_active,
  'session_ttl', cfg.session_ttl, 'idle_timeout', cfg.idle_timeout,
  'opens_at', cfg.opens_at, 'state', cfg.state,
}
if created then
  table.insert(fields, 'created_at')
  table.insert(fields, int_str(now_ms(skew)))
end
redis.call('HSET', config_key, unpack(fields))

return {
  created and CREATED or UPDATED,
  cfg.rate, tonumber(cfg.burst), tonumber(cfg.max_active),
  tonumber(cfg.session_ttl), tonumber(cfg.idle_timeout), cfg.opens_at, tonumber(cfg.state),
}

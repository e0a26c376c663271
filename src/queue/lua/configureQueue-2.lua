--[[
  Creates or updates an event's queue configuration.

  KEYS[1] config   hash of the event's queue settings
  KEYS[2] log      the event's outbox

  ARGV[1] trim before: outbox entries older than this (epoch ms) are trimmed as
          changes are appended; "0" keeps everything
  ARGV[2] admit_rate_per_sec   decimal string, "" = keep (default on create)
  ARGV[3] admit_burst          integer, "" = keep (default max(1, ceil(rate)) on create)
  ARGV[4] max_active           integer, "" = keep (default on create)
  ARGV[5] session_ttl          seconds, "" = keep (default on create)
  ARGV[6] idle_timeout         seconds, "" = keep (default on create)
  ARGV[7] opens_at             epoch ms, "" = keep, "clear" = remove
  ARGV[8] state                Q_* code, "" = keep (Q_OPEN on create)
  ARGV[9] clock skew ms        added to Redis TIME (tests only; "0" in production)

  Output: { CREATED | UPDATED, rate, burst, max_active, session_ttl, idle_timeout, opens_at ("" = none), state }
    UPDATED also when the update changed nothing
  Events: queue.configured (user "", seq "0", created 1/0 and the whole configuration
    after the change) on create, and on an update that changes at least one setting;
    an update that changes nothing writes nothing and logs nothing
]]
local k = { config = KEYS[1], log = KEYS[2], log_min = log_min_of(ARGV[1]) }
local rate, burst, max_active = ARGV[2], ARGV[3], ARGV[4]
local session_ttl, idle_timeout, opens_at, state = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local skew = ARGV[9]

local current = redis.call('HGETALL', k.config)
local before = {}
for i = 1, #current, 2 do
  before[current[i]] = current[i + 1]
end
local created = before.state == nil

local function pick(value, key, default)
  if value ~= '' then
    return value
  end
  if not created then
    return before[key]
  end
  return default
end

local cfg = {}
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

local names = { 'rate', 'burst', 'max_active', 'session_ttl', 'idle_timeout', 'opens_at', 'state' }
local fields, changed = {}, created
for _, name in ipairs(names) do
  fields[#fields + 1] = name
  fields[#fields + 1] = cfg[name]
  changed = changed or before[name] ~= cfg[name]
end

-- Writes start here (only when something changes).
if changed then
  local stored = { unpack(fields) }
  if created then
    stored[#stored + 1] = 'created_at'
    stored[#stored + 1] = int_str(now_ms(skew))
  end
  redis.call('HSET', k.config, unpack(stored))
  log_change(k, CT_QUEUE_CONFIGURED, '', '0', 'created', created and '1' or '0', unpack(fields))
end

return {
  created and CREATED or UPDATED,
  cfg.rate, tonumber(cfg.burst), tonumber(cfg.max_active),
  tonumber(cfg.session_ttl), tonumber(cfg.idle_timeout), cfg.opens_at, tonumber(cfg.state),
}

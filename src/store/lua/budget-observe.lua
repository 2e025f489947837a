-- The CRM's own count wins when it has fewer requests left than we think (other apps share the
-- portal): the difference is recorded as requests sent now.
-- KEYS: the budget's list. ARGV: max, interval (ms), requests the CRM says remain.
-- @include redis-now
local max = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
local used = 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if tonumber(v) > now - interval then used = used + 1 end
end
local missing = math.min(max, max - used - remaining)
for _ = 1, missing do redis.call('RPUSH', KEYS[1], now) end
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], interval)
return missing

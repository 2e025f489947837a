-- Values read from the CRM describe the record as of `fetchedAt`; newer webhook values still win.
-- KEYS: profile. ARGV: fetchedAt, profile TTL (ms), then field/value (JSON) pairs.
local n = 0
for i = 3, #ARGV, 2 do
  local t = tonumber(redis.call('HGET', KEYS[1], 't:' .. ARGV[i]) or '-1')
  if tonumber(ARGV[1]) > t then
    redis.call('HSET', KEYS[1], 'v:' .. ARGV[i], ARGV[i + 1], 't:' .. ARGV[i], ARGV[1])
    n = n + 1
  end
end
redis.call('HSET', KEYS[1], 'fetchedAt', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n

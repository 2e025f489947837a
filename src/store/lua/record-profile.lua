-- Profile changes arrive unordered: keep a field's value only if it is newer than what we hold.
-- KEYS: dedupe mark, profile. ARGV: dedupe TTL (ms), field, occurred at, value (JSON), profile TTL (ms).
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local t = tonumber(redis.call('HGET', KEYS[2], 't:' .. ARGV[2]) or '-1')
  if tonumber(ARGV[3]) > t then
    redis.call('HSET', KEYS[2], 'v:' .. ARGV[2], ARGV[4], 't:' .. ARGV[2], ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
  return 1
end
return 0

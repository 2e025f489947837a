-- Profile changes arrive unordered: keep a field's value only if it is newer than what we hold.
-- KEYS: dedupe mark, profile. ARGV: dedupe TTL (ms), field, occurred at, value (JSON), profile TTL (ms).
-- @include profile-times
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  local held = profile_read(KEYS[2])
  local at = tonumber(ARGV[3])
  if at > profile_time(held, ARGV[2]) then
    profile_set(KEYS[2], held, ARGV[2], ARGV[4], at)
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
  return 1
end
return 0

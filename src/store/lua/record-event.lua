-- Dedupe mark and write happen in one script: a crash can never leave an event marked seen but not stored.
-- KEYS: dedupe mark, timeline. ARGV: dedupe TTL (ms), occurred at, timeline member.
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0

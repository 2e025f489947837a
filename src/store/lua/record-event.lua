-- Dedupe mark and write happen in one script: a crash can never leave an event marked seen but not stored.
-- KEYS: dedupe mark, timeline. ARGV: dedupe TTL (ms), timeline line, timeline TTL (ms).
-- -1: the timeline is still in the old format (a sorted set) and must be migrated first.
-- APPEND is O(1) however long the timeline; the next trim rewrites it without APPEND's spare room.
if redis.call('TYPE', KEYS[2]).ok == 'zset' then return -1 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('APPEND', KEYS[2], ARGV[2] .. '\n')
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0

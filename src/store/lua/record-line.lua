-- Dedupe mark and write happen in one script: a crash can never leave an event (or a profile change)
-- marked seen but not stored. KEYS: dedupe mark, lead record, its timeline and profile of the earlier
-- formats. ARGV: dedupe TTL (ms), tail line, record TTL (ms).
-- -1: the lead still has keys of the earlier formats, to be moved into its record first.
-- @include lead-record
if lead_earlier(KEYS[2], KEYS[3], KEYS[4]) then return -1 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  lead_append(KEYS[2], ARGV[2], ARGV[3])
  return 1
end
return 0

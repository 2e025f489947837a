-- A handoff's progress field and its expiry in one step, so the hash never outlives its handoff for good.
-- KEYS: progress. ARGV: field, value, '1' to set only if unset, TTL (ms, 0 = none). Returns whether it set.
local set
if ARGV[3] == '1' then
  set = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  set = 1
end
if ARGV[4] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return set

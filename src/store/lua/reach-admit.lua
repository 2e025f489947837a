-- Before a CRM call: may it go out? While the CRM counts as unreachable, one call per probe interval
-- goes (the probe), the rest are refused.
-- KEYS: down, probe slot, misses. ARGV: the probe interval (ms).
-- Returns 0: go; 1: go, and its answer ends a run of misses; 2: go as the probe; < 0: refused, held
-- for minus that many ms.
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.call('EXISTS', KEYS[3]) end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 2 end
return -math.max(1, redis.call('PTTL', KEYS[1]))

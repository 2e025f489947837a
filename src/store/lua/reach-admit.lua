-- Before a CRM call: may it go out? While the CRM refuses our credentials, one call per credentials
-- probe interval goes (and a token refresh's retry of it); while it counts as unreachable, one call
-- per probe interval goes (the probe). The rest are refused.
-- KEYS: down, probe slot, misses, credentials refused, credentials probe slot.
-- ARGV: the probe interval (ms), the credentials probe interval (ms), '1' for a retry after a token refresh.
-- Returns {code, ms}. code 0: go; 1: go, and its answer ends a run of misses; 2: go as the probe;
-- 3: go as the credentials probe; -1: refused, unreachable, held `ms`; -2: refused, credentials, held `ms`.
if redis.call('EXISTS', KEYS[4]) == 1 then
  if ARGV[3] == '1' or redis.call('SET', KEYS[5], '1', 'NX', 'PX', ARGV[2]) then return {3, 0} end
  return {-2, math.max(1, redis.call('PTTL', KEYS[5]))}
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {redis.call('EXISTS', KEYS[3]), 0} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return {2, 0} end
return {-1, math.max(1, redis.call('PTTL', KEYS[1]))}

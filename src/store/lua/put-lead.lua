-- Compare-and-set on the version, so a disposition and a rescore can never overwrite each other.
-- KEYS: lead state, score index. ARGV: expected version, state JSON, score total ('' = none), member.
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current).version or 0 end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4]) end
return 1

-- Extends the lease only while this token holds it. KEYS: lease. ARGV: token, TTL (ms).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1

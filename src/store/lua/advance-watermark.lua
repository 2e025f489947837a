-- Only forward: a slow poll finishing after a newer one must not move the watermark back.
-- KEYS: watermark. ARGV: new value (ms).
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0

-- Keeps days of the audit stream as counters and trims their entries, in one step, fenced by the
-- sweep's lease: a day already kept is never replaced, so a second sweep of it changes nothing.
-- KEYS: lease, days hash, stream. ARGV: token, the first stream id to keep (ms), then day/counters
-- pairs. The hash's `until` says from which stream id entries are still in the stream.
-- Returns the entries trimmed, or -1 when the lease is not held (nothing written).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
for i = 3, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
local kept = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if tonumber(ARGV[2]) > kept then redis.call('HSET', KEYS[2], 'until', ARGV[2]) end
return redis.call('XTRIM', KEYS[3], 'MINID', ARGV[2])

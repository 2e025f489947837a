-- Replaces an old-format timeline (a sorted set of JSON entries) by its lines, unless it changed
-- since they were read (then 0: read again). KEYS: timeline. ARGV: TTL (ms), member count, lines.
-- @include timeline-lines
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then return 1 end
if redis.call('ZCARD', KEYS[1]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
local lines = {}
for i = 3, #ARGV do lines[#lines + 1] = ARGV[i] end
timeline_write(KEYS[1], lines, ARGV[1])
return 1

-- A 429 pauses its budget for the CRM's wait; a longer pause already set (a daily limit) stays.
-- KEYS: the budget's pause. ARGV: the wait (ms).
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1

-- A call the CRM did not answer (timeout, connection failure), carrying `leads` leads' requests (a
-- batch request carries many). `after` of them in a row, none answered in between, within the window,
-- and the CRM counts as unreachable; each further miss renews that.
-- KEYS: misses, down. ARGV: after, window (ms), hold (ms), reason, leads.
-- Returns the hold (ms) while unreachable, else -1.
local n = redis.call('INCRBY', KEYS[1], ARGV[5])
if n == tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[1]) and redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
return tonumber(ARGV[3])

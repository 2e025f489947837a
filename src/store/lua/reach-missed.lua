-- A call the CRM did not answer (timeout, connection failure), carrying `leads` leads' requests (a
-- batch request carries many). Once such calls in a row, none answered in between, within the window,
-- number at least two and carry at least `after` leads' requests, the CRM counts as unreachable; each
-- further miss renews that. One request, however many leads it carries, is one lost answer, not an outage.
-- KEYS: misses (hash: calls, leads), down. ARGV: after, window (ms), hold (ms), reason, leads.
-- Returns the hold (ms) while unreachable, else -1.
local calls = redis.call('HINCRBY', KEYS[1], 'calls', 1)
local leads = redis.call('HINCRBY', KEYS[1], 'leads', ARGV[5])
if calls == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local tripped = calls >= 2 and leads >= tonumber(ARGV[1])
if not tripped and redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
return tonumber(ARGV[3])

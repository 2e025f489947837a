-- Sliding-window log with reservations, matching how HubSpot counts ("N requests in any rolling 10 s").
-- The list holds the send times of the last `max` reservations (non-decreasing). A caller reserves the
-- earliest time at which its request is the only one past the window's `max`, and is told how long to
-- wait until then: one round trip per call, callers served in arrival order.
-- KEYS: the budget's list. ARGV: max, interval (ms). Returns the wait (ms).
-- @include redis-now
local max = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local at = now
if redis.call('LLEN', KEYS[1]) >= max then
  at = math.max(now, tonumber(redis.call('LINDEX', KEYS[1], -max)) + interval)
end
redis.call('RPUSH', KEYS[1], at)
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], at - now + interval)
return at - now

-- Sliding-window log with reservations, matching how HubSpot counts ("N requests in any rolling 10 s").
-- The list holds the send times of the last `max` reservations (non-decreasing). A caller reserves the
-- earliest time at which its request is the only one past the window's `max`, and is told how long to
-- wait until then: one round trip per call, callers served in arrival order. A reservation due now is
-- sent at once (budget-send); one due later sends with lua/budget-confirm.lua when its time comes.
-- KEYS: the budget's list, its sent requests (sorted set), its pause. ARGV: max, pacing interval (ms,
-- with the safety margin), the CRM's interval (ms), request id, lease (ms), poll (ms). Returns the
-- wait (ms), 0 once sent, negative while paused (nothing reserved).
-- @include redis-now
-- @include budget-send
local pause = paused(KEYS[3])
if pause then return pause end
local max = tonumber(ARGV[1])
local pacing = tonumber(ARGV[2])
local at = now
if redis.call('LLEN', KEYS[1]) >= max then
  at = math.max(now, tonumber(redis.call('LINDEX', KEYS[1], -max)) + pacing)
end
redis.call('RPUSH', KEYS[1], at)
redis.call('LTRIM', KEYS[1], -max, -1)
redis.call('PEXPIRE', KEYS[1], at - now + pacing)
if at > now then return at - now end
return send(KEYS[2], max, tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))

-- A sent request answered (or was aborted): it counts from now on until the window has passed it.
-- KEYS: the budget's sent requests. ARGV: request id.
-- @include redis-now
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 1

-- Remove an entry only if it still holds the version we wrote: a rescore that landed while the
-- batch was in flight stays pending and goes out with the next batch.
-- KEYS: pending hash. ARGV: field/version pairs.
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n

-- Every write a lease holder makes is fenced by its lease: a process that lost it writes nothing.
-- KEYS: lease, hash to write. ARGV: token, then 2n = the length of the field/value pairs to set,
-- the pairs, the fields to delete. Returns 0 when the lease is not held.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 3, 2 + n)) end
if #ARGV > 2 + n then redis.call('HDEL', KEYS[2], unpack(ARGV, 3 + n)) end
return 1

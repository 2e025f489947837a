-- Drops a lead's state and its place in the score index. KEYS: lead state, old score index, score
-- counts. ARGV: member.
-- @include lead-score
lead_unindex(ARGV[1], lead_total(redis.call('GET', KEYS[1])))
redis.call('DEL', KEYS[1])
return 1

-- Drops a lead's record, history and place in the score index (and keys of the earlier formats).
-- KEYS: lead record, old score index, score counts, timeline and profile of the earlier formats,
-- history. ARGV: member.
-- @include lead-record
-- @include lead-score
lead_unindex(ARGV[1], lead_total(redis.call('GET', KEYS[1])))
redis.call('DEL', KEYS[1], KEYS[4], KEYS[5], KEYS[6])
return 1

-- The CRM answered a call (any status): its run of misses ends, and so does an outage.
-- KEYS: misses, down, probe slot. Returns 1 when this answer ended an outage.
redis.call('DEL', KEYS[1])
if redis.call('DEL', KEYS[2]) == 0 then return 0 end
redis.call('DEL', KEYS[3])
return 1

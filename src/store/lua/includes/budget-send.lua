-- A request may be sent now when fewer than `max` of the requests already sent count in the window
-- ending now. A sent request counts until `interval` after its answer came (the CRM counted it at
-- arrival, which was before that), and while it is in flight its score is the end of its lease: so a
-- request sent late (CPU load, socket waits) still counts where the CRM counts it. Sends the request
-- (returns 0) or returns how long to wait before asking again.
local function send(sent, max, interval, id, lease_ms, poll_ms)
  redis.call('ZREMRANGEBYSCORE', sent, '-inf', '(' .. (now - interval))
  if redis.call('ZCARD', sent) < max then
    redis.call('ZADD', sent, now + lease_ms, id)
    if redis.call('PTTL', sent) < lease_ms + interval then redis.call('PEXPIRE', sent, lease_ms + interval) end
    return 0
  end
  local s = tonumber(redis.call('ZREVRANGE', sent, max - 1, max - 1, 'WITHSCORES')[2])
  -- The window is full of requests still in flight: ask again soon, one of them will answer.
  if s > now then return poll_ms end
  return s + interval + 1 - now
end

-- A budget paused after a 429 sends nothing until the pause ends: returns minus its remaining ms.
local function paused(pause)
  local left = redis.call('PTTL', pause)
  if left > 0 then return -left end
  return nil
end

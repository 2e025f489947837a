-- A profile hash holds `v:<field>` (the value, JSON) and `t:<field>` (when it was true, ms), and
-- `fetchedAt` once it was read from the CRM. A field the latest CRM read set has no `t:`: its time
-- is `fetchedAt`, so a profile read from the CRM stores each time once.
local function profile_read(key)
  local flat = redis.call('HGETALL', key)
  local held = {}
  for i = 1, #flat, 2 do held[flat[i]] = flat[i + 1] end
  return held
end
-- The field's time, -1 when the profile does not hold it.
local function profile_time(held, field)
  local t = held['t:' .. field]
  if t then return tonumber(t) end
  if held['v:' .. field] and held.fetchedAt then return tonumber(held.fetchedAt) end
  return -1
end
-- Sets the field's value as of `at`, its time implied when `at` is the profile's fetchedAt.
local function profile_set(key, held, field, value, at)
  if held.fetchedAt and tonumber(held.fetchedAt) == at then
    redis.call('HSET', key, 'v:' .. field, value)
    redis.call('HDEL', key, 't:' .. field)
  else
    redis.call('HSET', key, 'v:' .. field, value, 't:' .. field, at)
  end
end

-- Values read from the CRM describe the record as of `fetchedAt`; newer webhook values still win.
-- KEYS: profile. ARGV: fetchedAt, profile TTL (ms), then field/value (JSON) pairs.
-- @include profile-times
local held = profile_read(KEYS[1])
local at = tonumber(ARGV[1])
local before = held.fetchedAt and tonumber(held.fetchedAt)
local latest = math.max(before or at, at)
local times = {}
for i = 3, #ARGV, 2 do times[i] = profile_time(held, ARGV[i]) end
-- The fields whose time was implied keep it, written out, when fetchedAt moves.
if before and latest ~= before then
  for name in pairs(held) do
    local field = string.match(name, '^v:(.*)$')
    if field and not held['t:' .. field] then redis.call('HSET', KEYS[1], 't:' .. field, before) end
  end
end
redis.call('HSET', KEYS[1], 'fetchedAt', latest)
held = profile_read(KEYS[1])
local n = 0
for i = 3, #ARGV, 2 do
  if at > times[i] then
    profile_set(KEYS[1], held, ARGV[i], ARGV[i + 1], at)
    n = n + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n

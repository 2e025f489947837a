-- Compare-and-set on the version, so a disposition and a rescore can never overwrite each other.
-- KEYS: lead state, old score index (sorted set), score counts. ARGV: expected version, state, score
-- total ('' = none), member, TTL (ms, 0 = none).
-- A state is a JSON array with its version first; one still in the old format, a JSON object, has `version`.
-- @include lead-score
local current = redis.call('GET', KEYS[1])
local version = 0
if current then
  local held = cjson.decode(current)
  version = (string.sub(current, 1, 1) == '[' and held[1]) or held.version or 0
end
if version ~= tonumber(ARGV[1]) then return 0 end
if ARGV[5] ~= '0' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5]) else redis.call('SET', KEYS[1], ARGV[2]) end
lead_unindex(ARGV[4], lead_total(current))
if ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[3], 1) end
return 1

-- Folding events into the lead's history and removing them from its timeline is one step, done once:
-- if another job folded any of them first, nothing is counted twice.
-- KEYS: timeline, history. ARGV: member count m, the m members, then per bucket: field, n, w, lo, hi.
local m = tonumber(ARGV[1])
for i = 2, m + 1 do
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) then return 0 end
end
-- unpack() is bounded by Lua's C stack: remove in chunks.
for i = 2, m + 1, 1000 do
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, math.min(i + 999, m + 1)))
end
for i = m + 2, #ARGV, 5 do
  local n, w = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local lo, hi = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local held = redis.call('HGET', KEYS[2], ARGV[i])
  if held then
    local hn, hw, hlo, hhi = string.match(held, '^(%S+) (%S+) (%S+) (%S+)$')
    n, w = n + tonumber(hn), w + tonumber(hw)
    lo, hi = math.min(lo, tonumber(hlo)), math.max(hi, tonumber(hhi))
  end
  redis.call('HSET', KEYS[2], ARGV[i], string.format('%.17g %.17g %.17g %.17g', n, w, lo, hi))
end
return 1

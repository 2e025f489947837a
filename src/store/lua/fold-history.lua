-- Folding events into the lead's history and removing them from its timeline is one step, done once:
-- if another job folded any of them first, nothing is counted twice. -1: old format, migrate first.
-- KEYS: timeline, history. ARGV: TTL (ms), line count m, the m lines, then per bucket: field, n, w, lo, hi.
-- @include timeline-lines
if redis.call('TYPE', KEYS[1]).ok == 'zset' then return -1 end
local m = tonumber(ARGV[2])
local fold = {}
for i = 3, m + 2 do fold[ARGV[i]] = true end
local kept, found = {}, 0
for _, line in ipairs(timeline_lines(KEYS[1])) do
  if fold[line] then
    fold[line] = nil
    found = found + 1
  else
    kept[#kept + 1] = line
  end
end
if found < m then return 0 end
timeline_write(KEYS[1], kept, ARGV[1])
for i = m + 3, #ARGV, 5 do
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
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1

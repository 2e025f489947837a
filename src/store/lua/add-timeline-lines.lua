-- Adds the lines not on the timeline yet (a merge replayed adds nothing). -1: old format, migrate first.
-- KEYS: timeline. ARGV: timeline TTL (ms), then lines.
-- @include timeline-lines
if redis.call('TYPE', KEYS[1]).ok == 'zset' then return -1 end
local lines = timeline_lines(KEYS[1])
local held = {}
for _, line in ipairs(lines) do held[line] = true end
local added = 0
for i = 2, #ARGV do
  if not held[ARGV[i]] then
    lines[#lines + 1] = ARGV[i]
    held[ARGV[i]] = true
    added = added + 1
  end
end
timeline_write(KEYS[1], lines, ARGV[1])
return added

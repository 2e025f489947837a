-- Drops events, and folded days whose newest event is, older than `before`, and rewrites the timeline
-- at its exact size (appends leave spare room). -1: old format, migrate first.
-- KEYS: timeline, history. ARGV: before (ms), TTL (ms).
-- @include timeline-lines
if redis.call('TYPE', KEYS[1]).ok == 'zset' then return -1 end
local before = tonumber(ARGV[1])
local lines, kept = timeline_lines(KEYS[1]), {}
for _, line in ipairs(lines) do
  if timeline_occurred_at(line) >= before then kept[#kept + 1] = line end
end
timeline_write(KEYS[1], kept, ARGV[2])
local history = redis.call('HGETALL', KEYS[2])
for i = 1, #history, 2 do
  local hi = tonumber(string.match(history[i + 1], '(%S+)$'))
  if hi < before then redis.call('HDEL', KEYS[2], history[i]) end
end
return #lines - #kept

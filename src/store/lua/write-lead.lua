-- Rewrites a lead's record from what the worker read and changed, unless another rewrite came in
-- between (the generation moved, or the value of an earlier format changed): 0, read again. Lines
-- appended since the read stay, as the new tail. Written over keys of the earlier formats, it
-- replaces them. With the state, the lead moves in the score index; with folded or trimmed events,
-- the history changes in the same step, so nothing is counted twice or lost.
-- KEYS: lead record, old score index (sorted set), score counts, timeline and profile of the earlier
-- formats, history.
-- ARGV: generation read ('' = the value read was of an earlier format, or none), length read, that
-- value, score total ('' = none), block, TTL (ms, 0 = none), lead key (score index member), '1' to
-- move the lead in the score index, drop history buckets whose newest event is older than this
-- ('' = none), then per bucket to add: field, n, w, lo, hi.
-- @include lead-record
-- @include lead-score
local current = redis.call('GET', KEYS[1])
local generation = lead_header(current)
if ARGV[1] == '' then
  if generation or (current or '') ~= ARGV[3] then return 0 end
elseif generation ~= ARGV[1] or #current < tonumber(ARGV[2]) then
  return 0
end
local tail = generation and string.sub(current, tonumber(ARGV[2]) + 1) or ''
local value = MARK .. ((tonumber(generation) or 0) + 1) .. ':' .. ARGV[4] .. ':' .. #ARGV[5] .. '\n' .. ARGV[5] .. tail
if ARGV[6] ~= '0' then redis.call('SET', KEYS[1], value, 'PX', ARGV[6]) else redis.call('SET', KEYS[1], value) end
if not generation then redis.call('DEL', KEYS[4], KEYS[5]) end
if ARGV[8] == '1' then
  lead_unindex(ARGV[7], lead_total(current))
  if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[4], 1) end
end
if ARGV[9] ~= '' then
  local before = tonumber(ARGV[9])
  local history = redis.call('HGETALL', KEYS[6])
  for i = 1, #history, 2 do
    local hi = tonumber(string.match(history[i + 1], '(%S+)$'))
    if hi < before then redis.call('HDEL', KEYS[6], history[i]) end
  end
end
for i = 10, #ARGV, 5 do
  local n, w = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local lo, hi = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  local held = redis.call('HGET', KEYS[6], ARGV[i])
  if held then
    local hn, hw, hlo, hhi = string.match(held, '^(%S+) (%S+) (%S+) (%S+)$')
    n, w = n + tonumber(hn), w + tonumber(hw)
    lo, hi = math.min(lo, tonumber(hlo)), math.max(hi, tonumber(hhi))
  end
  redis.call('HSET', KEYS[6], ARGV[i], string.format('%.17g %.17g %.17g %.17g', n, w, lo, hi))
end
if #ARGV >= 10 and ARGV[6] ~= '0' and redis.call('EXISTS', KEYS[6]) == 1 then redis.call('PEXPIRE', KEYS[6], ARGV[6]) end
return 1

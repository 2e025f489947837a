-- Weighted fair queueing, atomic so any number of workers share one rotation. Each rep has a
-- virtual time; the candidate whose turn would finish first (vtime + 1/weight) wins, ties to the
-- earlier candidate, and its vtime moves to that finish. A rep with no vtime (new) starts one turn
-- behind the furthest-behind other rep, so fairness neither resets nor floods them. With `skip`, a
-- rep further behind than that (back from absence) is lifted there first; with `catch_up` they keep
-- their place and get the missed turns. The floor is one turn behind, not level: in plain rotation
-- the rep whose turn is next trails the others by exactly one turn and must not be lifted past it.
-- Reps at their daily or weekly cap are passed over and reported. A pick is remembered under the
-- caller's key (a handoff, or one of its reassignments): asked again, as by a retried job whose
-- first attempt died after picking, the same rep is returned without spending another turn, as
-- long as they are still a candidate.
--
-- KEYS (as many as the caller names): turns hash, then per candidate its day and week counter
-- hashes, then the pick key if any.
-- ARGV: catchUp, n, then per candidate: id, weight, daily cap, weekly cap (0 = none).
local catchUp = ARGV[1]
local n = tonumber(ARGV[2])
local pickKey = KEYS[2 * n + 2]
local picked = pickKey and redis.call('GET', pickKey)
if picked then
  for i = 1, n do
    if ARGV[2 + (i - 1) * 4 + 1] == picked then return { picked, {} } end
  end
end
local ids, weights, caps, vtimes = {}, {}, {}, {}
for i = 1, n do
  local a = 2 + (i - 1) * 4
  ids[i] = ARGV[a + 1]
  weights[i] = tonumber(ARGV[a + 2])
  caps[i] = { tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]) }
  local v = redis.call('HGET', KEYS[1], ids[i])
  if v then vtimes[i] = tonumber(v) end
end
local full, best, bestFinish = {}, nil, nil
for i = 1, n do
  local day = tonumber(redis.call('HGET', KEYS[2 * i], ids[i]) or '0')
  local week = tonumber(redis.call('HGET', KEYS[2 * i + 1], ids[i]) or '0')
  if (caps[i][1] > 0 and day >= caps[i][1]) or (caps[i][2] > 0 and week >= caps[i][2]) then
    full[#full + 1] = ids[i]
  else
    local others = nil
    for j = 1, n do
      if j ~= i and vtimes[j] and (others == nil or vtimes[j] < others) then others = vtimes[j] end
    end
    local floor = others and (others - 1 / weights[i]) or 0
    local v = vtimes[i] or floor
    if catchUp == 'skip' and v < floor then v = floor end
    local finish = v + 1 / weights[i]
    if bestFinish == nil or finish < bestFinish - 1e-9 then best, bestFinish = i, finish end
  end
end
if best == nil then return { false, full } end
-- 17 digits round-trip a double, so reps on the same schedule stay exactly tied.
redis.call('HSET', KEYS[1], ids[best], string.format('%.17g', bestFinish))
redis.call('HINCRBY', KEYS[2 * best], ids[best], 1)
redis.call('PEXPIRE', KEYS[2 * best], 8 * 86400000)
redis.call('HINCRBY', KEYS[2 * best + 1], ids[best], 1)
redis.call('PEXPIRE', KEYS[2 * best + 1], 15 * 86400000)
if pickKey then redis.call('SET', pickKey, ids[best], 'PX', 15 * 86400000) end
return { ids[best], full }

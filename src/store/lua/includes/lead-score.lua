-- A lead's score index entry moves with its state. The score counts (a hash: total → leads) hold
-- every lead scored since they exist; a lead scored before them is a member of the old sorted set
-- until its state is next written or forgotten, when it moves out of it into the counts.
-- The total of a lead record (its header; needs lead-record), or of a state of an earlier format (a
-- JSON array, its score 10th with the total 3rd; or an object); nil when it has no score.
local function lead_total(raw)
  if not raw then return nil end
  local generation, total = lead_header(raw)
  if generation then
    if total == '' then return nil end
    return total
  end
  local held = cjson.decode(raw)
  local score
  if string.sub(raw, 1, 1) == '[' then score = held[10] else score = held.score end
  if type(score) ~= 'table' then return nil end
  if string.sub(raw, 1, 1) == '[' then return score[3] end
  return score.total
end
-- Takes the lead with total `held` out of the index: KEYS[2] the old sorted set, KEYS[3] the counts.
local function lead_unindex(member, held)
  if redis.call('ZREM', KEYS[2], member) == 1 or held == nil then return end
  if redis.call('HINCRBY', KEYS[3], tostring(held), -1) <= 0 then redis.call('HDEL', KEYS[3], tostring(held)) end
end

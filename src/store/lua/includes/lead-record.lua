-- A lead's record is one string (src/store/lead-record.ts): a header `\2<generation>:<score total>:
-- <block length>\n`, the block (deflated: scripts never read it) and a tail of lines appended since.
-- A value of an earlier format is a lead state alone, JSON (`[` or `{` first).
local MARK = string.char(2)
-- The header's generation and score total; nil for a value of an earlier format, or none.
local function lead_header(raw)
  if not raw then return nil end
  return string.match(raw, '^' .. MARK .. '(%d+):([^:\n]*):%d+\n')
end
-- Whether the lead still has keys of the earlier formats (state, timeline, profile): move them first.
local function lead_earlier(record, timeline, profile)
  local first = redis.call('GETRANGE', record, 0, 0)
  if first ~= '' then return first ~= MARK end
  return redis.call('EXISTS', timeline, profile) > 0
end
-- Appends a line to the record's tail (APPEND is O(1)); a new record starts with an empty header.
-- The record's expiry is renewed.
local function lead_append(record, line, px)
  if redis.call('EXISTS', record) == 0 then
    redis.call('SET', record, MARK .. '0::0\n' .. line .. '\n', 'PX', px)
  else
    redis.call('APPEND', record, line .. '\n')
    redis.call('PEXPIRE', record, px)
  end
end

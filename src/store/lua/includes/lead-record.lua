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
-- Under this many bytes a record is written whole, not appended to: APPEND grows a string greedily
-- (to twice its new length), room a record keeps until its next rewrite, and the last write of a
-- lead handed off is an append (the stage the CRM took). Above it (events arriving faster than the
-- score job packs them) APPEND keeps each append O(1).
local LEAD_APPEND_AT = 4096
-- Appends a line to the record's tail; a new record starts with an empty header. The record's
-- expiry is renewed.
local function lead_append(record, line, px)
  local length = redis.call('STRLEN', record)
  if length == 0 then
    redis.call('SET', record, MARK .. '0::0\n' .. line .. '\n', 'PX', px)
  elseif length + #line < LEAD_APPEND_AT then
    redis.call('SET', record, redis.call('GET', record) .. line .. '\n', 'PX', px)
  else
    redis.call('APPEND', record, line .. '\n')
    redis.call('PEXPIRE', record, px)
  end
end

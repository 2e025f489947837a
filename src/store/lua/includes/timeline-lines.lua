-- A timeline is one string, a line per event: `<occurredAt base 36>\t<fields>\n`, in arrival order
-- (or, written before that, `<occurredAt>\t<entry JSON array>\n`).
-- Rewritten whole (SET, not APPEND, which would keep spare capacity), it expires after PX ms.
local function timeline_lines(key)
  local lines = {}
  local s = redis.call('GET', key)
  if s then for line in string.gmatch(s, '[^\n]+') do lines[#lines + 1] = line end end
  return lines
end
local function timeline_write(key, lines, px)
  if #lines == 0 then redis.call('DEL', key) return end
  redis.call('SET', key, table.concat(lines, '\n') .. '\n', 'PX', px)
end
-- A line's occurredAt (ms): base 36, or decimal in a line of the old format (JSON after the tab).
local function timeline_occurred_at(line)
  local at, first = string.match(line, '^(%w+)\t(.)')
  if first == '[' then return tonumber(at) end
  return tonumber(at, 36)
end

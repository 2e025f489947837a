-- A timeline is one string, a line per event: `<occurredAt>\t<entry JSON>\n`, in arrival order.
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

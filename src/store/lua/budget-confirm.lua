-- A reservation whose time has come: sent now if the requests already sent allow it (budget-send).
-- KEYS: the budget's sent requests, its pause. ARGV: max, the CRM's interval (ms), request id, lease (ms),
-- poll (ms). Returns the wait (ms), 0 once sent, negative while paused.
-- @include redis-now
-- @include budget-send
local pause = paused(KEYS[2])
if pause then return pause end
return send(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))

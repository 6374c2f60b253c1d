-- SPDX-License-Identifier: BSD-3-Clause
-- session_revoke.lua: an operator ends a game session (reason revoked),
-- at once or after a drain during which it answers SESSION_ENDING.
-- ARGV[1] game session id, ARGV[2] drain in ms (0: now).
-- Returns {'OK', state} or {error code}.

local id = ARGV[1]
local s = load(id)
if not s then return {'SESSION_NOT_FOUND'} end
if s.st == 'ended' then return {'ALREADY_ENDED'} end
local now = now_ms()
local over = settle_due(id, s, now)
if over == 'expired' then return {'SESSION_NOT_FOUND'} end
if over then return {'ALREADY_ENDED'} end
if s.st == 'ending' then return {'SESSION_ENDING'} end
local drain = tonumber(ARGV[2])
if drain <= 0 then
  terminate(id, s, 'revoked', now)
  return {'OK', 'ended'}
end
account(s, now)
s.st = 'ending'
s.eend = now + drain
s.erea = 'revoked'
s.gend = nil
s.seen = now
save(id, s, now)
return {'OK', 'ending'}

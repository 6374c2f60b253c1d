-- SPDX-License-Identifier: BSD-3-Clause
-- game_end.lua: DELETE /v1/game/session/end.
-- ARGV[1] API key hash, ARGV[2] game session id.
-- Returns {'OK', play_sec} or {error code}.

local refused, game, now = open_game(ARGV[1])
if refused then return refused end
local id = ARGV[2]
local s = load(id)
if not s or s.game ~= game then return {'SESSION_NOT_FOUND'} end
local wait = session_over_limit(id, s, now)
if wait then return limited(wait) end
if s.st == 'ended' then return {'ALREADY_ENDED'} end
local over = settle_due(id, s, now)
if over == 'expired' then return {'SESSION_NOT_FOUND'} end
if over then return {'ALREADY_ENDED'} end
if s.st == 'ending' then
  if s.rn then save(id, s, now) end   -- the call's count
  return {'SESSION_ENDING'}
end
terminate(id, s, 'normal', now)
return {'OK', math.floor(tonumber(s.play) / 1000)}

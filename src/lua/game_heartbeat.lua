-- game_heartbeat.lua: PATCH /v1/game/session/heartbeat and
-- POST /v1/game/session/check.
-- ARGV[7] API key hash, ARGV[8] game session id, ARGV[9] provider user id,
-- ARGV[10] 'heartbeat' (count and charge) or 'check' (only keep alive).
-- Returns {'OK', result, play_sec} or {error code}.

local game = auth_game(ARGV[7])
if not game then return {'INVALID_API_KEY'} end
local id = ARGV[8]
local s = hgetall(gs_key(id))
if not s or s.game ~= game or s.user ~= ARGV[9] then
  return {'SESSION_NOT_FOUND'}
end
if s.st == 'ended' then
  if s.rep == '1' then
    redis.call('HSET', gs_key(id), 'rep', '0')
    return {'OK', 'SESSION_REPLACED', math.floor(tonumber(s.play) / 1000)}
  end
  return {'SESSION_ENDED'}
end
local now = now_ms()
local over = settle_due(id, s, now)
if over == 'expired' then return {'SESSION_NOT_FOUND'} end
if over then return {'SESSION_ENDED'} end
if s.st == 'ending' then return {'SESSION_ENDING'} end
if not launcher_alive(s.venue, s.pc, now) then
  terminate(id, s, 'launcher_timeout', now)
  return {'SESSION_ENDED'}
end
if ARGV[10] == 'heartbeat' then account(s, now) end
recover(s)
s.seen = now
save(id, s, now)
local result = 'OK'
if s.st == 'grace' then result = 'CHARGE_EXHAUSTED' end
return {'OK', result, math.floor(tonumber(s.play) / 1000)}

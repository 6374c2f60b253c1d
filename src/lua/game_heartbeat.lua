-- SPDX-License-Identifier: BSD-3-Clause
-- game_heartbeat.lua: PATCH /v1/game/session/heartbeat and
-- POST /v1/game/session/check.
-- ARGV[1] API key hash, ARGV[2] game session id, ARGV[3] provider user id,
-- ARGV[4] 'heartbeat' (count and charge) or 'check' (only keep alive).
-- Returns the play time in whole seconds when the result is OK, or -1 minus
-- it when CHARGE_EXHAUSTED: one integer, as Redis turns a table answer into
-- a reply at a cost larger than the rest of a heartbeat's answer. Else
-- {'OK', 'SESSION_REPLACED', play_sec} or {error code}.

local refused, game, now = open_game(ARGV[1])
if refused then return refused end
local id = ARGV[2]
local s = load(id)
if not s or s.game ~= game or s.user ~= ARGV[3] then
  return {'SESSION_NOT_FOUND'}
end
local wait = session_over_limit(id, s, now)
if wait then return limited(wait) end
if s.st == 'ended' then
  if s.rep == '1' then
    redis.call('HSET', gs_key(id), 'rep', '0')
    return {'OK', 'SESSION_REPLACED', math.floor(tonumber(s.play) / 1000)}
  end
  return {'SESSION_ENDED'}
end
local over = settle_due(id, s, now)
if over == 'expired' then return {'SESSION_NOT_FOUND'} end
if over then return {'SESSION_ENDED'} end
if s.st == 'ending' then
  if s.rn then save(id, s, now) end   -- the call's count
  return {'SESSION_ENDING'}
end
local pk = pc_key(s.venue, s.pc)
local alive, ex = launcher_alive(pk, now)
if not alive then
  terminate(id, s, 'launcher_timeout', now)
  return {'SESSION_ENDED'}
end
if ARGV[4] == 'heartbeat' then account(s, now) end
if s.st == 'grace' then recover(s) end
s.seen = now
save(id, s, now, ex, pk)
local play = s.play
play = (play - play % 1000) / 1000
if s.st == 'grace' then return -1 - play end
return play

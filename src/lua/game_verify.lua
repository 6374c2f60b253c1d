-- SPDX-License-Identifier: BSD-3-Clause
-- game_verify.lua: POST /v1/game/session/verify.
-- ARGV[1] API key hash, ARGV[2] OTT, ARGV[3] provider user id,
-- ARGV[4] id for the new game session, ARGV[5] OTT lifetime in ms.
-- Returns {'INVALID_API_KEY'} | {'OK', 'REFUSED', reason} | {'OK', 'VALID', id}.

local refused, game, now = open_game(ARGV[1])
if refused then return refused end
local okey = K_OTT .. ARGV[2]
local o = hgetall(okey)
if not o then return {'OK', 'REFUSED', 'OTT_EXPIRED'} end
if o.used == '1' then return {'OK', 'REFUSED', 'OTT_ALREADY_USED'} end
-- The first verify consumes the OTT, whatever it answers.
redis.call('HSET', okey, 'used', '1')
if now - tonumber(o.issued) > tonumber(ARGV[5]) then
  return {'OK', 'REFUSED', 'OTT_EXPIRED'}
end
if o.game ~= game then return {'OK', 'REFUSED', 'GAME_MISMATCH'} end
local pk = pc_key(o.venue, o.pc)
local alive, ex = launcher_alive(pk, now)
if not alive then
  return {'OK', 'REFUSED', 'OTT_EXPIRED'}
end
local v = redis.call('HMGET', venue_key(o.venue), F_VENUE_WALLET,
  F_VENUE_BILLING)
if v[2] ~= '1' or (tonumber(v[1]) or 0) <= 0 then
  return {'OK', 'REFUSED', 'NOT_CHARGEABLE'}
end

-- A PC plays one game session at a time: the new one replaces the old.
local old = redis.call('HGET', pk, 'gs')
if old then
  local s = load(old)
  if s and s.st ~= 'ended' and not settle_due(old, s, now) then
    if s.st == 'ending' then
      settle(old, s, s.erea, now)
    else
      terminate(old, s, 'replaced', now)
    end
  end
end

local id = ARGV[4]
local rate = tonumber(redis.call('HGET', K_GAME .. game, F_GAME_RATE)) or 0
local s = {st = 'live', t0 = now, last = now, seen = now, play = 0, bms = 0,
  chg = 0, rate = rate, game = game, venue = o.venue, pc = o.pc,
  user = ARGV[3]}
save(id, s, now, ex)
redis.call('HSET', pk, 'gs', id)
redis.call('HINCRBY', K_STATS, 'started', 1)
return {'OK', 'VALID', id}

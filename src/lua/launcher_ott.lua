-- launcher_ott.lua: POST /v1/launcher/ott.
-- ARGV[7] launcher token hash, ARGV[8] game id, ARGV[9] new OTT,
-- ARGV[10] how long the OTT's record is kept (ms).
-- Returns {'OK'} or {error code}.

local now = now_ms()
local hash = ARGV[7]
local l = launcher_by_token(hash, now)
if not l then return {'UNAUTHORIZED'} end
if redis.call('HGET', B .. 'game:' .. ARGV[8], 'active') ~= '1' then
  return {'GAME_NOT_FOUND'}
end
local okey = B .. 'ott:' .. ARGV[9]
redis.call('HSET', okey, 'game', ARGV[8], 'venue', l.venue, 'pc', l.pc,
  'lt', hash, 'issued', I(now), 'used', '0')
redis.call('PEXPIRE', okey, ARGV[10])
return {'OK'}

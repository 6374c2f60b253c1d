-- SPDX-License-Identifier: BSD-3-Clause
-- launcher_ott.lua: POST /v1/launcher/ott.
-- ARGV[1] launcher token hash, ARGV[2] game id, ARGV[3] new OTT,
-- ARGV[4] how long the OTT's record is kept (ms).
-- Returns {'OK'} or {error code}.

local hash = ARGV[1]
local refused, now, _, _, _, venue, pc = open_launcher(hash)
if refused then return refused end
if redis.call('HGET', K_GAME .. ARGV[2], F_GAME_ACTIVE) ~= '1' then
  return {'GAME_NOT_FOUND'}
end
local okey = K_OTT .. ARGV[3]
redis.call('HSET', okey, 'game', ARGV[2], 'venue', venue, 'pc', pc,
  'lt', hash, 'issued', I(now), 'used', '0')
redis.call('PEXPIRE', okey, ARGV[4])
return {'OK'}

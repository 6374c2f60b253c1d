-- SPDX-License-Identifier: BSD-3-Clause
-- launcher_ott.lua: POST /v1/launcher/ott.
-- ARGV[1] launcher token hash, ARGV[2] game id, ARGV[3] new OTT,
-- ARGV[4] how long the OTT's record is kept (ms).
-- Returns {'OK'} or {error code}.

local now = now_ms()
local hash = ARGV[1]
local l = launcher_by_token(hash, now)
if not l then return {'UNAUTHORIZED'} end
local wait = launcher_over_limit(hash, l, now)
if wait then return limited(wait) end
if redis.call('HGET', B .. 'game:' .. ARGV[2], 'active') ~= '1' then
  return {'GAME_NOT_FOUND'}
end
local okey = B .. 'ott:' .. ARGV[3]
redis.call('HSET', okey, 'game', ARGV[2], 'venue', l.venue, 'pc', l.pc,
  'lt', hash, 'issued', I(now), 'used', '0')
redis.call('PEXPIRE', okey, ARGV[4])
return {'OK'}

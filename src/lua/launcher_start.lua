-- SPDX-License-Identifier: BSD-3-Clause
-- launcher_start.lua: POST /v1/launcher/session, after the worker has
-- checked the signature's HMAC and the caller's address.
-- ARGV[1] venue id, ARGV[2] pc id, ARGV[3] internal ip, ARGV[4] hardware
-- (JSON text), ARGV[5] new token hash, ARGV[6] signature,
-- ARGV[7] timestamp (unix s), ARGV[8] signature window (s), ARGV[9] the
-- home the token carries (src/shard.h), kept so that heartbeatctl reshard
-- knows where the token's calls will look.
-- Returns {'OK', game_id, name, game_id, name, ...} or {error code}.

local now = now_ms()
local window = tonumber(ARGV[8])
if math.abs(now / 1000 - tonumber(ARGV[7])) > window then
  return {'INVALID_SIGNATURE'}
end
-- A signature is accepted once: remember it for as long as it could pass.
local seen = redis.call('SET', K_SIG .. ARGV[6], '1', 'NX', 'PX',
  I(2 * window * 1000))
if not seen then return {'INVALID_SIGNATURE'} end

local venue, pc, hash = ARGV[1], ARGV[2], ARGV[5]
local pk = pc_key(venue, pc)
local p = redis.call('HMGET', pk, 'lt', 'ex')
local old = p[1]
if old then redis.call('DEL', lt_key(old)) end
redis.call('HSET', lt_key(hash), 'venue', venue, 'pc', pc, 'ip', ARGV[3],
  'hw', ARGV[4], 'started', I(now), 'last', I(now), F_LT_HOME, ARGV[9])
redis.call('PEXPIRE', lt_key(hash), LTTL_TEXT)
redis.call('HSET', pk, 'lt', hash, 'll', I(now))
keep_pc(pk, LTTL, now, p[2])

local out = {'OK'}
local ids = redis.call('SMEMBERS', K_GAMES)
table.sort(ids)
for _, g in ipairs(ids) do
  local f = redis.call('HMGET', K_GAME .. g, F_GAME_ACTIVE, F_GAME_NAME)
  if f[1] == '1' then
    out[#out + 1] = g
    out[#out + 1] = f[2] or g
  end
end
return out

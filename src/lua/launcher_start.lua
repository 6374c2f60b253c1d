-- launcher_start.lua: POST /v1/launcher/session, after the worker has
-- checked the signature's HMAC and the caller's address.
-- ARGV[7] venue id, ARGV[8] pc id, ARGV[9] internal ip, ARGV[10] hardware
-- (JSON text), ARGV[11] new token hash, ARGV[12] signature,
-- ARGV[13] timestamp (unix s), ARGV[14] signature window (s).
-- Returns {'OK', game_id, name, game_id, name, ...} or {error code}.

local now = now_ms()
local window = tonumber(ARGV[14])
if math.abs(now / 1000 - tonumber(ARGV[13])) > window then
  return {'INVALID_SIGNATURE'}
end
-- A signature is accepted once: remember it for as long as it could pass.
local seen = redis.call('SET', B .. 'sig:' .. ARGV[12], '1', 'NX', 'PX',
  I(2 * window * 1000))
if not seen then return {'INVALID_SIGNATURE'} end

local venue, pc, hash = ARGV[7], ARGV[8], ARGV[11]
local pk = pc_key(venue, pc)
local old = redis.call('HGET', pk, 'lt')
if old then redis.call('DEL', lt_key(old)) end
redis.call('HSET', lt_key(hash), 'venue', venue, 'pc', pc, 'ip', ARGV[9],
  'hw', ARGV[10], 'started', I(now), 'last', I(now))
redis.call('PEXPIRE', lt_key(hash), I(LTTL))
redis.call('HSET', pk, 'lt', hash)
if redis.call('PTTL', pk) < LTTL + MARGIN then
  redis.call('PEXPIRE', pk, I(LTTL + MARGIN))
end

local out = {'OK'}
local ids = redis.call('SMEMBERS', B .. 'games')
table.sort(ids)
for _, g in ipairs(ids) do
  local f = redis.call('HMGET', B .. 'game:' .. g, 'active', 'name')
  if f[1] == '1' then
    out[#out + 1] = g
    out[#out + 1] = f[2] or g
  end
end
return out

-- launcher_start.lua: POST /v1/launcher/session, after the worker has
-- checked the signature's HMAC and the caller's address.
-- ARGV[8] venue id, ARGV[9] pc id, ARGV[10] internal ip, ARGV[11] hardware
-- (JSON text), ARGV[12] new token hash, ARGV[13] signature,
-- ARGV[14] timestamp (unix s), ARGV[15] signature window (s).
-- Returns {'OK', game_id, name, game_id, name, ...} or {error code}.

local now = now_ms()
local window = tonumber(ARGV[15])
if math.abs(now / 1000 - tonumber(ARGV[14])) > window then
  return {'INVALID_SIGNATURE'}
end
-- A signature is accepted once: remember it for as long as it could pass.
local seen = redis.call('SET', B .. 'sig:' .. ARGV[13], '1', 'NX', 'PX',
  I(2 * window * 1000))
if not seen then return {'INVALID_SIGNATURE'} end

local venue, pc, hash = ARGV[8], ARGV[9], ARGV[12]
local pk = pc_key(venue, pc)
local old = redis.call('HGET', pk, 'lt')
if old then redis.call('DEL', lt_key(old)) end
redis.call('HSET', lt_key(hash), 'venue', venue, 'pc', pc, 'ip', ARGV[10],
  'hw', ARGV[11], 'started', I(now), 'last', I(now))
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

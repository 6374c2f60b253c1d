-- SPDX-License-Identifier: BSD-3-Clause
-- device.lua: the device-session API (Flashback-compatible), one operation
-- per call. Device sessions are not billed, so they expire by Redis's own
-- key expiry (PEXPIREAT at expiresAt) and need no settlement.
-- ARGV[1]  'jwt' or 'opaque'
-- ARGV[2]  the JWT's sub, or the opaque token's SHA-256
-- ARGV[3]  the JWT's sid ('' when none): the token is valid only while
--          that session of the user is live
-- ARGV[4] exp (s), ARGV[5] nbf (s, 0 when none), ARGV[6] leeway (s)
-- ARGV[7] idle timeout (ms), ARGV[8] max lifetime (ms),
-- ARGV[9] trust period (ms), ARGV[10] the caller's address
-- ARGV[11] the operation; ARGV[12..] its arguments.
-- Returns {'OK', data...} | {'UNAUTHORIZED', message} | {'NOT_FOUND', message}:
-- data, not JSON; src/handler_device.c renders every body. Times are ms
-- since the epoch, and false (a null reply) stands for a field not set:
--   SESSION  {id, device id, device name, ip, started, last, expires, login}
--   DEVICE   {id, name, type, os, browser, ip, seen, created, trusted until
--            (false unless trusted now)}, and for 'device' also
--            {..., user agent, fingerprint}
--   create {'OK', SESSION}            list, devices {'OK', {SESSION...}}
--   heartbeat {'OK', new expiry}      device {'OK', DEVICE, {SESSION...}}
--   trust {'OK', trusted until}       the others {'OK'}

local now = now_ms()
local IDLE = tonumber(ARGV[7])
local MAXLIFE = tonumber(ARGV[8])
local TRUST = tonumber(ARGV[9])
local IP = ARGV[10]
-- The most sessions or devices one listing returns.
local LIST_MAX = 500
local DENIED = {'UNAUTHORIZED', 'Invalid or expired token'}

local user
if ARGV[1] == 'jwt' then
  local leeway = tonumber(ARGV[6]) * 1000
  if tonumber(ARGV[4]) * 1000 + leeway <= now then return DENIED end
  if tonumber(ARGV[5]) * 1000 - leeway > now then return DENIED end
  user = ARGV[2]
else
  local t = redis.call('HMGET', K_DTOK .. ARGV[2], F_DTOK_USER,
    F_DTOK_REVOKED)
  if not t[1] or t[2] == '1' then return DENIED end
  user = t[1]
end

-- User ids come from token issuers and may hold any character: keys name a
-- user by the SHA-1 of the id, so no id can reach into another's keys.
local UID = redis.sha1hex(user)
local wait = over_limit('du', UID, LIMITS[4], 60000, now)
if wait then return limited(wait) end

local USESS = K_DU .. UID .. ':sessions'
local UDEV = K_DU .. UID .. ':devices'
local function ds_key(id) return K_DS .. id end
local function dd_key(id) return K_DD .. id end
local function fp_key(fp) return K_DU .. UID .. ':fp:' .. fp end

-- A session of this user that is live now, or nil.
local function live_session(id)
  local s = hgetall(ds_key(id))
  if not s or s.user ~= user or tonumber(s.expires) <= now then return nil end
  return s
end

-- A device of this user, or nil.
local function own_device(id)
  local d = hgetall(dd_key(id))
  if not d or d.user ~= user then return nil end
  return d
end

if ARGV[3] ~= '' and not live_session(ARGV[3]) then return DENIED end
redis.call('ZREMRANGEBYSCORE', USESS, '-inf', I(now))

local function session_data(id, s)
  local name = redis.call('HGET', dd_key(s.device), 'name')
  return {id, s.device, name or false, s.ip, s.started, s.last, s.expires,
    s.login}
end

local function device_data(id, d, full)
  local trusted = d.trusted == '1' and d.trust_until ~= nil
    and tonumber(d.trust_until) > now
  local out = {id, d.name or false, d.type or false, d.os or false,
    d.browser or false, d.ip or false, d.seen or false, d.created or false,
    trusted and d.trust_until}
  if full then
    out[10] = d.ua or false
    out[11] = d.fp or false
  end
  return out
end

-- The live sessions of this user, optionally of one device only.
local function live_sessions(device)
  local ids = redis.call('ZRANGEBYSCORE', USESS, '(' .. I(now), '+inf',
    'LIMIT', 0, LIST_MAX)
  local out = {}
  for _, id in ipairs(ids) do
    local s = live_session(id)
    if s and (not device or s.device == device) then
      out[#out + 1] = session_data(id, s)
    end
  end
  return out
end

local function end_session(id)
  redis.call('DEL', ds_key(id))
  redis.call('ZREM', USESS, id)
end

local function end_device_sessions(device)
  for _, id in ipairs(redis.call('ZRANGE', USESS, 0, -1)) do
    if redis.call('HGET', ds_key(id), 'device') == device then end_session(id) end
  end
end

local function str(v)
  if type(v) == 'string' then return v end
  return ''
end

local op = ARGV[11]

if op == 'create' then
  local fp, login, sid, newdev = ARGV[12], ARGV[14], ARGV[15], ARGV[16]
  local info = cjson.decode(ARGV[13])
  local dev = redis.call('GET', fp_key(fp))
  if dev and not own_device(dev) then dev = nil end
  if not dev then
    dev = newdev
    redis.call('HSET', dd_key(dev), 'user', user, 'fp', fp,
      'created', I(now), 'trusted', '0')
    redis.call('SET', fp_key(fp), dev)
    redis.call('SADD', UDEV, dev)
  end
  -- Keep what is known of the device; deviceInfo adds or updates fields.
  local fields = {'ip', IP, 'seen', I(now)}
  local names = {deviceName = 'name', deviceType = 'type', os = 'os',
    browser = 'browser', userAgent = 'ua'}
  for from, to in pairs(names) do
    local v = str(info[from])
    if v ~= '' then
      fields[#fields + 1] = to
      fields[#fields + 1] = v
    end
  end
  redis.call('HSET', dd_key(dev), unpack(fields))
  if not redis.call('HGET', dd_key(dev), 'name') then
    local d = redis.call('HMGET', dd_key(dev), 'browser', 'os')
    local name = 'Unknown device'
    if d[1] and d[2] then name = d[1] .. ' on ' .. d[2] end
    redis.call('HSET', dd_key(dev), 'name', name)
  end
  local expires = now + math.min(IDLE, MAXLIFE)
  redis.call('HSET', ds_key(sid), 'user', user, 'device', dev, 'ip', IP,
    'started', I(now), 'last', I(now), 'expires', I(expires), 'login', login)
  redis.call('PEXPIREAT', ds_key(sid), I(expires))
  redis.call('ZADD', USESS, I(expires), sid)
  return {'OK', session_data(sid, hgetall(ds_key(sid)))}

elseif op == 'list' then
  return {'OK', live_sessions(nil)}

elseif op == 'heartbeat' then
  local id = ARGV[12]
  local s = live_session(id)
  if not s then return {'NOT_FOUND', 'Session not found or expired'} end
  local expires = math.min(now + IDLE, tonumber(s.started) + MAXLIFE)
  redis.call('HSET', ds_key(id), 'last', I(now), 'expires', I(expires),
    'ip', IP)
  redis.call('PEXPIREAT', ds_key(id), I(expires))
  redis.call('ZADD', USESS, I(expires), id)
  redis.call('HSET', dd_key(s.device), 'seen', I(now), 'ip', IP)
  return {'OK', I(expires)}

elseif op == 'revoke' then
  local id = ARGV[12]
  if not live_session(id) then
    return {'NOT_FOUND', 'Session not found or expired'}
  end
  end_session(id)
  return {'OK'}

elseif op == 'revoke_all' then
  for _, id in ipairs(redis.call('ZRANGE', USESS, 0, -1)) do end_session(id) end
  return {'OK'}

elseif op == 'devices' then
  local ids = redis.call('SMEMBERS', UDEV)
  table.sort(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local d = own_device(id)
    if d then out[#out + 1] = device_data(id, d) end
    if #out >= LIST_MAX then break end
  end
  return {'OK', out}

elseif op == 'device' then
  local id = ARGV[12]
  local d = own_device(id)
  if not d then return {'NOT_FOUND', 'Device not found'} end
  return {'OK', device_data(id, d, true), live_sessions(id)}

elseif op == 'trust' then
  local dev = redis.call('GET', fp_key(ARGV[12]))
  if not dev or not own_device(dev) then
    return {'NOT_FOUND', 'Device not found'}
  end
  local until_ms = now + TRUST
  redis.call('HSET', dd_key(dev), 'trusted', '1', 'trust_until', I(until_ms))
  return {'OK', I(until_ms)}

elseif op == 'untrust' then
  local id = ARGV[12]
  if not own_device(id) then return {'NOT_FOUND', 'Device not found'} end
  redis.call('HSET', dd_key(id), 'trusted', '0')
  redis.call('HDEL', dd_key(id), 'trust_until')
  end_device_sessions(id)
  return {'OK'}

elseif op == 'delete' then
  local id = ARGV[12]
  local d = own_device(id)
  if not d then return {'NOT_FOUND', 'Device not found'} end
  end_device_sessions(id)
  redis.call('DEL', dd_key(id))
  if redis.call('GET', fp_key(d.fp)) == id then redis.call('DEL', fp_key(d.fp)) end
  redis.call('SREM', UDEV, id)
  return {'OK'}
end

return {'BAD_REQUEST'}

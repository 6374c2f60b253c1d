-- SPDX-License-Identifier: BSD-3-Clause
-- common.lua: the definitions every script shares. The store loads them
-- with the scripts (src/store_script.c): on Redis 7 as one function library,
-- common.lua's functions built once at load and each script a function
-- called by FCALL; on a Redis without functions, common.lua in front of each
-- script, loaded with SCRIPT LOAD and called by EVALSHA. Either way each
-- script runs after a line that names it (local SCRIPT = 'game_heartbeat',
-- say) and a call of enter(). The settings come first, as constants:
--   TTL      game session TTL, ms        GRACE  grace period, ms
--   LTTL     launcher TTL, ms            TOMB   tombstone lifetime, ms
--   MARGIN   settle margin, ms           LTTL_TEXT  LTTL as text (PEXPIRE)
--   LIMITS   rate limits {per key per s, per session per min, per launcher
--            token per min, per device user per min} (0: no limit)
-- so that no call spends time reading them (and a worker whose settings
-- differ loads scripts of another SHA, or a library of another name).
-- The key layout comes from src/keys.h. Each call runs on one shard (see
-- src/shard.h), whose key base, "<prefix>{core}:" or "<prefix>{core.N}:",
-- is its anchor's name (KEYS[1]) less 'anchor'. The store writes, after the
-- settings, a local for each key name of its table, K_GAME and the like,
-- and use_keys(anchor), which enter() calls: it sets them to the shard's
-- key names ('<prefix>{core}:game:'), from a table it builds once per shard
-- and keeps (a library's locals outlive its calls), so a call that names
-- the shard of the call before costs one comparison. F_VENUE_WALLET and the
-- like, the field names of the records heartbeatctl writes, the store
-- writes into the text as it loads it: they cost nothing per call. Write no
-- key or such field name here as a literal (tests/check_keys.py).
--
-- Every script gets the same first key:
--   KEYS[1]  the shard's anchor: routes the script (every key of a shard
--            shares its hash tag) and exists while any key of the shard
--            does, so that on a Redis Cluster whose slot is being migrated
--            the script goes where the anchor is (see docs/operations.md).
--            Its value is '1', or 'paused' (heartbeatctl pause): then every
--            script stops before touching anything else, with a TRYAGAIN
--            error (503), so that no script runs half-way while keys move;
--            all but session_get, which only reads (heartbeatctl session).
-- The arguments (ARGV) are the script's own.
--
-- Numbers are written back with I() because Lua would print large ones in
-- exponent notation. Times are ms from Redis's clock; play time is kept in ms
-- and answered in whole seconds; money is kept in millicoins. On the paths
-- every heartbeat takes, (x - x % d) / d stands for math.floor(x / d) (the
-- same for the integers used here, without a function call), and values
-- already numbers are not passed through tonumber.

-- Run by every call before its script (the store puts the call in front of
-- each): names the shard's keys, sets the anchor when it is missing, and
-- returns the error that stops script while the service is paused, else nil.
local function enter(anchor, script)
  use_keys(anchor)
  local a = redis.call('GET', anchor)
  if not a then
    redis.call('SET', anchor, '1')
  elseif a == 'paused' and script ~= 'session_get' then
    return redis.error_reply('TRYAGAIN paused: heartbeatctl resume ends it')
  end
  return nil
end

local function I(x)
  return string.format('%d', x)
end

-- The time by Redis's clock in ms, and its whole seconds as TIME answered
-- them (text).
local function now_ms()
  local t = redis.call('TIME')
  local us = t[2] + 0
  return t[1] * 1000 + (us - us % 1000) / 1000, t[1]
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

-- Counts one call of what/id against limit calls per window_ms (a fixed
-- window). Returns the seconds until the window ends when the call is over
-- the limit, else nil. A limit of 0 counts nothing. text, when given, is the
-- window's number as text (TIME's seconds for a window of 1000 ms).
local function over_limit(what, id, limit, window_ms, now, text)
  if not limit or limit <= 0 then return nil end
  local k = K_RL .. what .. ':' .. id .. ':' ..
    (text or I(math.floor(now / window_ms)))
  local n = redis.call('INCR', k)
  if n == 1 then redis.call('PEXPIRE', k, I(window_ms)) end
  if n > limit then
    local slot = math.floor(now / window_ms)
    return math.max(1, math.ceil(((slot + 1) * window_ms - now) / 1000))
  end
  return nil
end

-- The reply of a refused call: the code, a message, and Retry-After.
local function limited(wait)
  return {'RATE_LIMITED', 'too many requests', wait}
end

-- A game session that has ended (a tombstone), or a live one written before
-- live sessions moved into buckets: a hash of its own.
local function gs_key(id) return K_GS .. id end
-- A live game session is one field of a shared hash, its bucket, named by the
-- id's last three characters (4,096 buckets for the service's ids): a key of
-- its own would cost about 150 bytes more (see the README, Performance).
local function gsb_key(id) return K_GSB .. string.sub(id, -3) end
local function lt_key(hash) return K_LT .. hash end
local function pc_key(venue, pc) return K_PC .. venue .. ':' .. pc end
local function venue_key(venue) return K_VENUE .. venue end

-- RFC 3339 UTC with milliseconds, from ms since the epoch (civil-from-days).
local function iso(ms)
  local secs = math.floor(ms / 1000)
  local milli = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d,
    math.floor(rem / 3600), math.floor((rem % 3600) / 60), rem % 60, milli)
end

-- The opening of every game call: the API key (by its SHA-256) must be known,
-- not revoked, and of an active game; then the call is counted against the
-- key's rate limit. The key's record says all of that in one field, 'serves'
-- (heartbeatctl keeps it in step with the key and its game: see
-- CTL_APIKEY_SERVES in src/ctl.h): the game's id, or '' when the key is
-- revoked or the game inactive. A record without it, written before it
-- existed, is read with its game's record. Returns nil, the game and the
-- time; or the reply that refuses the call.
local function open_game(keyhash)
  local kk = K_APIKEY .. keyhash
  local game = redis.call('HGET', kk, 'serves')
  if not game then
    local k = redis.call('HMGET', kk, F_APIKEY_GAME, F_APIKEY_REVOKED)
    if k[1] and k[2] ~= '1' and
        redis.call('HGET', K_GAME .. k[1], F_GAME_ACTIVE) == '1' then
      game = k[1]
    end
  end
  if not game or game == '' then return {'INVALID_API_KEY'} end
  local now, sec = now_ms()
  local wait = over_limit('key', keyhash, LIMITS[1], 1000, now, sec)
  if wait then return limited(wait) end
  return nil, game, now
end

-- Millicoins due for ms of billed time at rate millicoins per hour. Split by
-- whole hours so every product stays exact in a double.
local function due(rate, ms)
  local r = ms % 3600000
  local x = rate * r
  return (ms - r) / 3600000 * rate + (x - x % 3600000) / 3600000
end

-- Whether the launcher watching PC record pk is live at now, and the record's
-- 'ex' (see keep_pc; false when absent). The record keeps a copy of its
-- launcher's last call (ll, written with the launcher's own last), so a
-- live launcher is known from the record alone; the launcher's record
-- decides when the copy is missing or too old (a record written before the
-- copy existed). ll is written and removed with lt, so a record with ll has
-- a launcher.
local function launcher_alive(pk, now)
  local p = redis.call('HMGET', pk, 'll', 'ex')
  if p[1] and p[1] + LTTL > now then return true, p[2] end
  local lt = redis.call('HGET', pk, 'lt')
  if not lt then return false, p[2] end
  local last = redis.call('HGET', lt_key(lt), 'last')
  return last and tonumber(last) + LTTL > now, p[2]
end

-- Keeps a PC's record at least ms + MARGIN from now. When it must be
-- extended it is given half a margin more, so that the calls of the next
-- half margin find it long enough and leave its expiry alone. The record
-- says until when it is kept, at least: 'ex', in unix seconds, written with
-- every extension, so that a call that has read it (ex: its value, or false
-- when absent) needs no PTTL; ex nil: not read yet. A record from before
-- 'ex' is asked its PTTL, once.
local function keep_pc(pk, ms, now, ex)
  if ex == nil then ex = redis.call('HGET', pk, 'ex') end
  if ex then
    if ex * 1000 >= now + ms + MARGIN then return end
  else
    local ttl = redis.call('PTTL', pk)
    if ttl == -2 then return end   -- no record: nothing to keep
    if ttl >= ms + MARGIN then
      redis.call('HSET', pk, 'ex', I(math.floor((now + ttl) / 1000) - 1))
      return
    end
  end
  local keep = ms + MARGIN + math.floor(MARGIN / 2)
  redis.call('PEXPIRE', pk, I(keep))
  redis.call('HSET', pk, 'ex', I(math.floor((now + keep) / 1000) - 1))
end

-- Counts play time from the last accounted instant up to upto (a gap never
-- counts more than TTL) and, while the session is live, charges the venue's
-- wallet for it. A charge that brings the wallet to zero (or finds billing
-- off) puts the session into grace. Updates s in memory only. The wallet is
-- charged without reading it first: HINCRBY answers the balance, and when
-- that went below zero the part the wallet did not hold is given back in
-- the same step (a charge takes at most what the wallet holds, and nothing
-- from a wallet at or below zero).
local function account(s, upto)
  local last = s.last
  if upto <= last then return end
  local gap = upto - last
  if gap > TTL then gap = TTL end
  s.play = s.play + gap
  s.last = upto
  if s.st ~= 'live' then return end
  local rate = s.rate
  local bms = s.bms
  local owed = due(rate, bms + gap) - due(rate, bms)
  s.bms = bms + gap
  local vk = venue_key(s.venue)
  local exhausted = false
  if redis.call('HGET', vk, F_VENUE_BILLING) ~= '1' then
    exhausted = true
  elseif owed > 0 then
    local left = redis.call('HINCRBY', vk, F_VENUE_WALLET,
      string.format('%d', -owed))
    local take = owed
    if left < 0 then
      local back = math.min(owed, -left)
      redis.call('HINCRBY', vk, F_VENUE_WALLET, I(back))
      take = owed - back
      left = left + back
    end
    s.chg = s.chg + take
    exhausted = left <= 0
  end
  if exhausted then
    s.st = 'grace'
    s.gend = upto + GRACE
  end
end

-- Returns a session in grace to live when its venue can be charged again.
local function recover(s)
  if s.st ~= 'grace' then return end
  local v = redis.call('HMGET', venue_key(s.venue), F_VENUE_WALLET,
    F_VENUE_BILLING)
  if v[2] == '1' and (tonumber(v[1]) or 0) > 0 then
    s.st = 'live'
    s.gend = nil
  end
end

-- The instant the session is over unless something happens: its TTL
-- deadline, the end of its grace, or the end of a drain.
local function deadline(s)
  if s.st == 'ending' then return s.eend end
  local d = s.seen + TTL
  if s.st == 'grace' and s.gend < d then d = s.gend end
  return d
end

-- A live session's record, the value of its bucket field: the values below
-- in MessagePack, one after another (cmsgpack: packed and read in C), so
-- that a record of short ids stays within Redis's hash-max-listpack-value
-- (64 bytes) and its bucket compact. The numbers are kept small: last as ms
-- since t0, seen as ms since last, play as the ms since t0 it did not count
-- (idle), bms as what play counted beyond it (unbilled); rw and rn count the
-- session's calls for its rate limit: the minute (since t0's) and the calls
-- in it. The last three, set only in grace or while draining, are left out
-- when none is; absent values are nil.
--   st t0 last seen idle unbilled chg rate rw rn game venue pc user
--   [gend eend erea]
local REC_STATE = {'live', 'grace', 'ending'}
local REC_CODE = {live = 1, grace = 2, ending = 3}

local function pack(s)
  local t0, last, play = s.t0, s.last, s.play
  local since = last - t0
  local rw = s.rw
  if rw then rw = rw - (t0 - t0 % 60000) / 60000 end
  local gend, eend = s.gend, s.eend
  if not (gend or eend or s.erea) then
    return cmsgpack.pack(REC_CODE[s.st], t0, since, s.seen - last,
      since - play, play - s.bms, s.chg, s.rate, rw, s.rn, s.game, s.venue,
      s.pc, s.user)
  end
  return cmsgpack.pack(REC_CODE[s.st], t0, since, s.seen - last,
    since - play, play - s.bms, s.chg, s.rate, rw, s.rn, s.game, s.venue,
    s.pc, s.user, gend and gend - t0, eend and eend - t0, s.erea)
end

-- The session of a record, or an error for a record that is not one (its
-- numbers are checked by the arithmetic that reads them).
local function unpack_rec(rec)
  local st, t0, since, seen, idle, unbilled, chg, rate, rw, rn, game, venue,
    pc, user, gend, eend, erea = cmsgpack.unpack(rec)
  if not REC_STATE[st] or type(user) ~= 'string' then
    return error('malformed game session record')
  end
  local last = t0 + since
  local play = since - idle
  local s = {st = REC_STATE[st], t0 = t0, last = last, seen = last + seen,
    play = play, bms = play - unbilled, chg = chg, rate = rate, rn = rn,
    game = game, venue = venue, pc = pc, user = user, erea = erea}
  if rw then s.rw = (t0 - t0 % 60000) / 60000 + rw end
  if gend then s.gend = t0 + gend end
  if eend then s.eend = t0 + eend end
  return s
end

-- The numbers of a live session's record, which a live session kept in a
-- hash of its own holds as text.
local REC_NUMBERS = {'t0', 'last', 'seen', 'play', 'bms', 'chg', 'rate', 'rw',
  'rn', 'gend', 'eend'}

-- A game session by id: the live record from its bucket, else its own hash
-- (a tombstone, or a live session from before buckets, marked so that
-- saving it moves it into its bucket), or nil.
local function load(id)
  local bkey = gsb_key(id)
  local rec = redis.call('HGET', bkey, id)
  if rec then
    local s = unpack_rec(rec)
    s.bkey = bkey
    return s
  end
  local s = hgetall(gs_key(id))
  if s and s.st ~= 'ended' then
    s.own_key = true
    for _, f in ipairs(REC_NUMBERS) do
      if s[f] then s[f] = tonumber(s[f]) end
    end
  end
  return s
end

-- The state of game session id ('live', 'grace', 'ending' or 'ended'), as
-- load() finds it, or nil when there is none; for the calls that need only
-- that, without building the session (a record that is not one is an error,
-- as for load).
local function state_of(id)
  local rec = redis.call('HGET', gsb_key(id), id)
  if not rec then return redis.call('HGET', gs_key(id), 'st') or nil end
  local st, _, _, _, _, _, _, _, _, _, _, _, _, user = cmsgpack.unpack(rec)
  if not REC_STATE[st] or type(user) ~= 'string' then
    return error('malformed game session record')
  end
  return REC_STATE[st]
end

-- Writes a live session back to its bucket, indexes its deadline, and keeps
-- its PC's record (pk, when the caller has its name) for at least MARGIN
-- past the deadline so a sweep can settle it (ex: the PC record's 'ex' when
-- the caller has read it, see keep_pc). The record itself stays until it
-- is settled.
local function save(id, s, now, ex, pk)
  redis.call('HSET', s.bkey or gsb_key(id), id, pack(s))
  if s.own_key then
    redis.call('DEL', gs_key(id))
    s.own_key = nil
  end
  local d = deadline(s)
  local keep = d - now
  if keep < 0 then keep = 0 end
  redis.call('ZADD', K_DEADLINES, string.format('%d', d), id)
  -- Mostly the 'ex' read says the record is kept long enough already.
  if not (ex and ex * 1000 >= now + keep + MARGIN) then
    keep_pc(pk or pc_key(s.venue, s.pc), keep, now, ex)
  end
end

-- Counts a call in a fixed window of a minute whose number (w) and count (n)
-- the caller keeps in a record of its own. Returns the window and count to
-- store and nil, or, when the call is over limit, what was stored and the
-- seconds until the minute ends.
local function count_in_minute(w, n, limit, now)
  local cur = (now - now % 60000) / 60000
  local next_n = (w == cur) and n + 1 or 1
  if next_n > limit then
    return w, n, math.max(1, math.ceil(((cur + 1) * 60000 - now) / 1000))
  end
  return cur, next_n, nil
end

-- Counts a call on game session id (s as loaded) against the limit of calls
-- per session per minute: in a live session's record (the caller saves s),
-- or for a tombstone in a counter key. Returns the seconds to wait when the
-- call is over the limit, else nil.
local function session_over_limit(id, s, now)
  local limit = LIMITS[2]
  if limit <= 0 then return nil end
  if s.st == 'ended' then return over_limit('gs', id, limit, 60000, now) end
  local wait
  s.rw, s.rn, wait = count_in_minute(s.rw, s.rn, limit, now)
  return wait
end

-- Ends a session for reason at instant ended: appends its one settlement
-- entry, takes it off the index and its PC, and leaves a tombstone (none for
-- an expired session). The caller has already counted its play time.
local function settle(id, s, reason, ended)
  local play = tonumber(s.play)
  redis.call('XADD', K_EVENTS, '*',
    'game_session_id', id, 'reason', reason, 'game_id', s.game,
    'venue_id', s.venue, 'pc_id', s.pc, 'provider_user_id', s.user,
    'started_at', iso(tonumber(s.t0)), 'ended_at', iso(ended),
    'play_duration_sec', I(math.floor(play / 1000)),
    'charged_millicoins', I(tonumber(s.chg)),
    'rate_millicoins_per_hour', I(tonumber(s.rate)))
  redis.call('ZREM', K_DEADLINES, id)
  redis.call('HINCRBY', K_STATS, 'ended:' .. reason, 1)
  local pk = pc_key(s.venue, s.pc)
  if redis.call('HGET', pk, 'gs') == id then redis.call('HDEL', pk, 'gs') end
  local key = gs_key(id)
  if s.own_key then
    redis.call('DEL', key)
  else
    redis.call('HDEL', gsb_key(id), id)
  end
  if reason ~= 'expired' then
    redis.call('HSET', key, 'st', 'ended', 'reason', reason, 'game', s.game,
      'user', s.user, 'venue', s.venue, 'pc', s.pc, 'play', I(play),
      'chg', I(tonumber(s.chg)), 'rate', I(tonumber(s.rate)),
      't0', I(tonumber(s.t0)), 't1', I(ended),
      'rep', reason == 'replaced' and '1' or '0')
    redis.call('PEXPIRE', key, I(TOMB))
  end
end

-- Settles what the clock says is already over: a finished drain, a grace
-- period run out, or a deadline passed. Returns the reason it settled with,
-- or nil when the session is still going.
local function settle_due(id, s, now)
  if s.st == 'ending' then
    local e = s.eend
    if now >= e then
      settle(id, s, s.erea, e)
      return s.erea
    end
    return nil
  end
  local dl = s.seen + TTL
  local g = s.gend
  if s.st == 'grace' and g <= dl and now >= g then
    account(s, g)
    settle(id, s, 'charge_exhausted', g)
    return 'charge_exhausted'
  end
  if now >= dl then
    settle(id, s, 'expired', dl)
    return 'expired'
  end
  return nil
end

-- Counts a live session up to now and settles it for reason.
local function terminate(id, s, reason, now)
  account(s, now)
  settle(id, s, reason, now)
end

-- The opening of every launcher call but the start: the launcher token (by
-- its hash) must be known, not replaced and not silent past its TTL; then the
-- call is counted against the limit of calls per launcher per minute, in the
-- token's record. Only the fields the calls use are read (an array reply
-- costs Redis per element, and the record also holds ip, hw, started and
-- the home). The PC's record is read once, its game session and 'ex' (see
-- keep_pc) with its token. touch (the heartbeat): the time is also written
-- as the token's last call, in the same HSET as the count. Returns nil, the
-- time, the PC record's key, its 'gs' and 'ex' (false when absent), the
-- venue, the PC and (touch) the time as written; or the reply that refuses
-- the call.
local function open_launcher(hash, touch)
  local now = now_ms()
  local lk = lt_key(hash)
  local l = redis.call('HMGET', lk, 'venue', 'pc', 'last', 'rw', 'rn')
  local venue, pc, last = l[1], l[2], l[3]
  if not last or last + LTTL <= now then return {'UNAUTHORIZED'} end
  local pk = pc_key(venue, pc)
  local p = redis.call('HMGET', pk, 'lt', 'gs', 'ex')
  if p[1] ~= hash then return {'UNAUTHORIZED'} end
  local limit = LIMITS[3]
  local t = touch and I(now)
  if limit > 0 then
    local w, n, wait = count_in_minute(tonumber(l[4]), l[5], limit, now)
    if wait then return limited(wait) end
    if t then
      redis.call('HSET', lk, 'last', t, 'rw', I(w), 'rn', I(n))
    else
      redis.call('HSET', lk, 'rw', I(w), 'rn', I(n))
    end
  elseif t then
    redis.call('HSET', lk, 'last', t)
  end
  return nil, now, pk, p[2], p[3], venue, pc, t
end

-- Appends a wallet movement of venue to the event log, in the step that
-- moved the wallet: kind 'topup' or 'adjustment', the signed amount and
-- the balance after it (millicoins), and for an adjustment who made it and
-- why. The settlement ledger keeps these next to the endings, so that per
-- venue top-ups + adjustments - charges = balance.
local function wallet_moved(kind, venue, amount, balance, actor, note)
  local at = iso(now_ms())
  if kind == 'topup' then
    redis.call('XADD', K_EVENTS, '*', 'type', kind, 'venue_id', venue,
      'amount_millicoins', I(amount), 'balance_millicoins', I(balance),
      'at', at)
  else
    redis.call('XADD', K_EVENTS, '*', 'type', kind, 'venue_id', venue,
      'amount_millicoins', I(amount), 'balance_millicoins', I(balance),
      'at', at, 'actor', actor, 'note', note)
  end
end

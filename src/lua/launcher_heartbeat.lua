-- SPDX-License-Identifier: BSD-3-Clause
-- launcher_heartbeat.lua: PATCH /v1/launcher/heartbeat.
-- ARGV[1] launcher token hash.
-- Returns the PC's game session id when it is live or in grace, else 0: one
-- value, as Redis turns a table answer into a reply at a cost larger than
-- the rest of the answer (see game_heartbeat.lua). Else {error code}.

local hash = ARGV[1]
local refused, now, pk, gs, ex, _, _, t = open_launcher(hash, true)
if refused then return refused end
redis.call('PEXPIRE', lt_key(hash), LTTL_TEXT)
-- Mostly the 'ex' read says the record is kept long enough already.
if not (ex and ex * 1000 >= now + LTTL + MARGIN) then
  keep_pc(pk, LTTL, now, ex)
end
redis.call('HSET', pk, 'll', t)
if gs then
  local st = state_of(gs)
  if st ~= 'live' and st ~= 'grace' then gs = false end
end
return gs or 0

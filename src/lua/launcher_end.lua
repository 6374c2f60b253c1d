-- SPDX-License-Identifier: BSD-3-Clause
-- launcher_end.lua: DELETE /v1/launcher/session. Ends the launcher session
-- and the PC's game session (reason normal).
-- ARGV[1] launcher token hash.
-- Returns {'OK', ended game session id or false} or {'UNAUTHORIZED'}.

local hash = ARGV[1]
local refused, now, pk, gs = open_launcher(hash)
if refused then return refused end
local ended = false
if gs then
  local s = load(gs)
  if s and s.st ~= 'ended' and not settle_due(gs, s, now) then
    if s.st == 'ending' then
      settle(gs, s, s.erea, now)
    else
      terminate(gs, s, 'normal', now)
    end
    ended = gs
  end
end
redis.call('DEL', lt_key(hash))
redis.call('HDEL', pk, 'lt', 'll')
return {'OK', ended}

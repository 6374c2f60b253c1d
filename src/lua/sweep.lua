-- SPDX-License-Identifier: BSD-3-Clause
-- sweep.lua: settles sessions whose deadline has passed.
-- ARGV[1] the most sessions to look at.
-- Returns {'OK', settled, looked_at}. Each session leaves the index in the
-- same step that settles it, so sweeps running at once never settle one twice.

local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', I(now), 'LIMIT', 0,
  tonumber(ARGV[1]))
local settled = 0
for _, id in ipairs(ids) do
  local s = load(id)
  if not s or s.st == 'ended' then
    redis.call('ZREM', K_DEADLINES, id)
  elseif settle_due(id, s, now) then
    settled = settled + 1
  else
    redis.call('ZADD', K_DEADLINES, I(deadline(s)), id)
  end
end
return {'OK', settled, #ids}

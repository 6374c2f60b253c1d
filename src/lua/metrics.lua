-- SPDX-License-Identifier: BSD-3-Clause
-- metrics.lua: the figures /metrics reads from Redis.
-- Returns {'OK', live sessions, oldest deadline (ms) or false, now (ms),
--          stats hash as a flat list}.

local now = now_ms()
local oldest = redis.call('ZRANGE', K_DEADLINES, 0, 0, 'WITHSCORES')
return {'OK', redis.call('ZCARD', K_DEADLINES), oldest[2] or false, now,
  redis.call('HGETALL', K_STATS)}

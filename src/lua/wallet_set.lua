-- SPDX-License-Identifier: BSD-3-Clause
-- wallet_set.lua: an operator sets a venue's wallet to a balance, and the
-- difference is appended to the event log as an adjustment with who made it
-- and why (also when nothing changed: the record of the decision stays).
-- ARGV[1] venue id, ARGV[2] the new balance in millicoins (>= 0),
-- ARGV[3] actor, ARGV[4] note (may be empty).
-- Returns {'OK', balance, difference} or {'NOT_FOUND'}.

local vk = venue_key(ARGV[1])
if redis.call('EXISTS', vk) == 0 then return {'NOT_FOUND'} end
local old = tonumber(redis.call('HGET', vk, F_VENUE_WALLET)) or 0
local new = tonumber(ARGV[2])
redis.call('HSET', vk, F_VENUE_WALLET, I(new))
wallet_moved('adjustment', ARGV[1], new - old, new, ARGV[3], ARGV[4])
return {'OK', new, new - old}

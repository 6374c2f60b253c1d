-- SPDX-License-Identifier: BSD-3-Clause
-- wallet_topup.lua: adds millicoins to a venue's wallet and appends the
-- movement to the event log (type topup).
-- ARGV[1] venue id, ARGV[2] millicoins (> 0).
-- Returns {'OK', balance} or {'NOT_FOUND'}.

local vk = venue_key(ARGV[1])
if redis.call('EXISTS', vk) == 0 then return {'NOT_FOUND'} end
local balance = redis.call('HINCRBY', vk, F_VENUE_WALLET, ARGV[2])
wallet_moved('topup', ARGV[1], tonumber(ARGV[2]), balance)
return {'OK', balance}

-- SPDX-License-Identifier: BSD-3-Clause
-- wallet_topup.lua: adds millicoins to a venue's wallet.
-- ARGV[1] venue id, ARGV[2] millicoins (> 0).
-- Returns {'OK', balance} or {'NOT_FOUND'}.

local vk = venue_key(ARGV[1])
if redis.call('EXISTS', vk) == 0 then return {'NOT_FOUND'} end
return {'OK', redis.call('HINCRBY', vk, 'wallet', ARGV[2])}

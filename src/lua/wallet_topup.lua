-- wallet_topup.lua: adds millicoins to a venue's wallet.
-- ARGV[8] venue id, ARGV[9] millicoins (> 0).
-- Returns {'OK', balance} or {'NOT_FOUND'}.

local vk = venue_key(ARGV[8])
if redis.call('EXISTS', vk) == 0 then return {'NOT_FOUND'} end
return {'OK', redis.call('HINCRBY', vk, 'wallet', ARGV[9])}

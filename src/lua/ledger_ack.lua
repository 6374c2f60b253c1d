-- SPDX-License-Identifier: BSD-3-Clause
-- ledger_ack.lua: the settlement ledger acknowledges a batch it committed,
-- in one round trip however large the batch.
-- ARGV[1] the consumer group, ARGV[2] the entry ids separated by spaces
-- (one argument: a script call carries a few arguments only).
-- Returns {'OK', acknowledged}.

local ids = {}
for id in string.gmatch(ARGV[2], '%S+') do ids[#ids + 1] = id end
local n = 0
for i = 1, #ids, 500 do
  n = n + redis.call('XACK', K_EVENTS, ARGV[1],
    unpack(ids, i, math.min(i + 499, #ids)))
end
return {'OK', n}

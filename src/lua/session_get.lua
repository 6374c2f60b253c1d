-- SPDX-License-Identifier: BSD-3-Clause
-- session_get.lua: game sessions as heartbeatctl shows them.
-- ARGV[1]... game session ids.
-- Returns {'OK', fields of the first id, fields of the second, ...}: each a
-- flat list of names and values (a live session's record spelled out, or a
-- tombstone's hash), or false for an id that names no session.

local names = {'st', 'game', 'venue', 'pc', 'user', 't0', 'rate', 'last',
  'seen', 'play', 'bms', 'chg', 'gend', 'eend', 'erea', 'reason', 't1', 'rep'}
local out = {'OK'}
for i = 1, #ARGV do
  local s = load(ARGV[i])
  local flat = false
  if s then
    flat = {}
    for _, k in ipairs(names) do
      local v = s[k]
      if v ~= nil and v ~= false then
        flat[#flat + 1] = k
        flat[#flat + 1] = type(v) == 'number' and I(v) or v
      end
    end
  end
  out[#out + 1] = flat
end
return out

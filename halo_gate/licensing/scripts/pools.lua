-- Changes the pool rules (reservations and/or caps) for an administrator. Nobody's session
-- ends: a group over a shrunk cap or reservation drains as its members leave.
-- KEYS[1] the config hash; ARGV[1] the settings (see common.lua).
-- ARGV[2] reservations ("group=N,...", '' for none; nil-like '-' keeps them), ARGV[3] caps
-- (likewise), ARGV[4] who.
-- Returns {'ok' | a sentence saying why the rules were refused, generation, reservations, caps}.
cull(true)
capacities()
local reserve, cap = ARGV[2], ARGV[3]
if reserve == '-' then reserve = capacity_cache[4] end
if cap == '-' then cap = capacity_cache[5] end
local caps, total = {}, 0
for group, n in string.gmatch(cap, '([^,]+)=(%d+)') do caps[group] = tonumber(n) end
local verdict = 'ok'
for group, n in string.gmatch(reserve, '([^,]+)=(%d+)') do
  total = total + tonumber(n)
  if caps[group] and tonumber(n) > caps[group] then
    verdict = 'The reservation of ' .. n .. ' slots for ' .. group .. ' is above its cap of ' ..
      caps[group] .. '.'
  end
end
local concurrent = capacities()
if verdict == 'ok' and total > concurrent then
  verdict = 'The reservations add up to ' .. total .. ' slots, more than the pool\'s ' ..
    concurrent .. '.'
end
if verdict == 'ok' and (reserve ~= capacity_cache[4] or cap ~= capacity_cache[5]) then
  redis.call('HSET', K_CONFIG, 'reserve', reserve, 'cap', cap)
  redis.call('HINCRBY', K_CONFIG, 'pools_gen', 1)
  forget_capacities()
  capacities()
  audit('resized', '', '', '', ARGV[4] .. ' reserve=' .. reserve .. ' cap=' .. cap)
end
return {verdict, capacity_cache[6], capacity_cache[4], capacity_cache[5]}

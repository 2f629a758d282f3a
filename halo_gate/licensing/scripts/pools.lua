-- Changes the pool rules (reservations and/or caps) for an administrator. Nobody's session
-- ends: a group over a shrunk cap or reservation drains as its members leave.
-- KEYS: config charges pool active quarantine ended audit audit_people holder_names counters
-- ARGV: [1] the settings (see context.lua), [2] reservations ("group=N,...", '' for none; '-'
--       keeps them), [3] caps (likewise), [4] who.
-- Returns {'ok' | a sentence saying why the rules were refused, generation, reservations, caps}.
cull(true)
local reserve, cap = ARGV[2], ARGV[3]
local before_reserve, before_cap = P.texts()
if reserve == '-' then reserve = before_reserve end
if cap == '-' then cap = before_cap end
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
if verdict == 'ok' and (reserve ~= before_reserve or cap ~= before_cap) then
  local refused = P.set(reserve, cap)
  if refused then return refused end
  capacities()
  audit('resized', '', '', '', ARGV[4] .. ' reserve=' .. reserve .. ' cap=' .. cap)
else
  reserve, cap = before_reserve, before_cap
end
return {verdict, capacity_cache[4], reserve, cap}
